// tfm IR printed generically is real MLIR: torch-mlir's own parser reads it back.
// REQUIRES: torch-mlir-opt
// RUN: tandem-opt %s --print-op-generic | torch-mlir-opt --allow-unregistered-dialect --mlir-print-op-generic | tandem-opt | filecheck %s
// RUN: tandem import %S/torch-dialect.mlir --generic | torch-mlir-opt --allow-unregistered-dialect --mlir-print-op-generic | tandem-opt | filecheck %s --check-prefix=SAMPLE
// RUN: tandem import gpt2-tiny --via torch-mlir --generic | torch-mlir-opt --allow-unregistered-dialect --mlir-print-op-generic | tandem-opt | filecheck %s --check-prefix=GPT2

// CHECK-LABEL: func.func @mlp
// CHECK-SAME: {tfm.input = "x"}
// CHECK-SAME: {tfm.param = "fc.weight"}
// CHECK-SAME: -> (tensor<2x16x256xf32> {tfm.output = "out0"})
// MLIR sorts properties by name, so each is checked on its own.
// CHECK: tfm.matmul
// CHECK-SAME: transpose_rhs
// CHECK-SAME: (tensor<2x16x64xf32>, tensor<256x64xf32>) -> tensor<2x16x256xf32>
// CHECK: tfm.gelu %{{.*}} {approximate = #tfm<approximate tanh>}
// CHECK: tfm.constant {value = 0xfff0000000000000 : f64} : tensor<f32>
// CHECK: tfm.generic
// CHECK-SAME: target = "aten.flip.default"
func.func @mlp(%x: tensor<2x16x64xf32> {tfm.input = "x"}, %w: tensor<256x64xf32> {tfm.param = "fc.weight"}) -> (tensor<2x16x256xf32> {tfm.output = "out0"}) {
  %0 = tfm.matmul %x, %w {transpose_rhs, layer = 0 : i64} : (tensor<2x16x64xf32>, tensor<256x64xf32>) -> tensor<2x16x256xf32>
  %1 = tfm.gelu %0 {approximate = #tfm<approximate tanh>} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
  %2 = tfm.constant {value = 0xFFF0000000000000 : f64} : tensor<f32>
  %3 = tfm.max %1, %2 : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
  %4 = tfm.generic %3 {target = "aten.flip.default", args = [#tfm.operand<0>, [1 : i64]], kwargs = {}} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
  func.return %4 : tensor<2x16x256xf32>
}

// SAMPLE-LABEL: func.func @forward
// SAMPLE-SAME: {tfm.param = "fc.weight"}
// SAMPLE: tfm.generic
// SAMPLE-SAME: target = "aten.flip.default"

// GPT2-LABEL: func.func @forward
// GPT2-SAME: {tfm.param = "model.transformer.wte.weight"}
// GPT2-SAME: {tfm.param = "model.transformer.h.0.attn.c_attn.weight"}
// GPT2: tfm.layer_norm
// GPT2-SAME: eps = 1.000000e-05 : f64
// GPT2: tfm.attention
// GPT2-SAME: mask
// GPT2-SAME: scale = 2.500000e-01 : f64
