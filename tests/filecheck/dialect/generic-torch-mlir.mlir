// REQUIRES: torch-mlir-opt
// RUN: tandem-opt %s --print-op-generic | torch-mlir-opt --allow-unregistered-dialect | filecheck %s
// The generic form of tfm is plain MLIR: upstream MLIR tools parse it without our dialect.

// CHECK-LABEL: func.func @block
// CHECK-SAME: {tfm.input = "x"}
// CHECK-SAME: {tfm.param = "w"}
// CHECK-SAME: -> (tensor<2x16x64xf32> {tfm.output = "out0"})
func.func @block(%x: tensor<2x16x64xf32> {tfm.input = "x"}, %w: tensor<192x64xf32> {tfm.param = "w"},
                 %g: tensor<64xf32> {tfm.param = "g"}, %m: tensor<1x1x16x16xi1>)
    -> (tensor<2x16x64xf32> {tfm.output = "out0"}) {
  // CHECK-NEXT: %[[LN:.*]] = "tfm.layer_norm"(%arg0, %arg2, %arg2) <{eps = 1.000000e-05 : f64, ndim = 1 : i64}> {layer = 0 : i64}
  %0 = tfm.layer_norm %x, %g, %g {layer = 0 : i64, eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  // CHECK-NEXT: %[[MM:.*]] = "tfm.matmul"(%[[LN]], %arg1) <{transpose_rhs}> {layer = 0 : i64}
  %1 = tfm.matmul %0, %w {layer = 0 : i64, transpose_rhs} : (tensor<2x16x64xf32>, tensor<192x64xf32>) -> tensor<2x16x192xf32>
  // CHECK-NEXT: %[[Q:.*]] = "tfm.slice"(%[[MM]]) <{dim = 2 : i64, end = 64 : i64, start = 0 : i64, step = 1 : i64}>
  %q = tfm.slice %1 {dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
  // CHECK-NEXT: %[[R:.*]] = "tfm.reshape"(%[[Q]]) : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
  %q4 = tfm.reshape %q : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
  // CHECK-NEXT: %[[P:.*]] = "tfm.permute"(%[[R]]) <{perm = array<i64: 0, 2, 1, 3>}>
  %qh = tfm.permute %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
  // CHECK-NEXT: %[[A:.*]] = "tfm.attention"(%[[P]], %[[P]], %[[P]], %arg3) <{causal, scale = 2.500000e-01 : f64}>
  %o = tfm.attention %qh, %qh, %qh mask %m {causal, scale = 0.25 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<1x1x16x16xi1>) -> tensor<2x4x16x16xf32>
  // CHECK-NEXT: %[[B:.*]]:3 = "tfm.attention_backward"(%[[A]], %[[P]], %[[P]], %[[P]], %[[A]]) <{scale = 2.500000e-01 : f64}> {phase = "backward"}
  %d:3 = tfm.attention_backward %o, %qh, %qh, %qh, %o {phase = "backward", scale = 0.25 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>)
  // CHECK-NEXT: "tfm.permute"(%[[B]]#2)
  %ot = tfm.permute %d#2 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
  %y = tfm.reshape %ot : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
  // CHECK: "tfm.constant"() <{value = 5.000000e-01 : f64}> : () -> tensor<f32>
  %c = tfm.constant {value = 0.5 : f64} : tensor<f32>
  // CHECK-NEXT: "tfm.mul"
  %h = tfm.mul %y, %c : (tensor<2x16x64xf32>, tensor<f32>) -> tensor<2x16x64xf32>
  // CHECK-NEXT: "tfm.generic"({{.*}}) <{args = [#tfm.operand<0>, 1], kwargs = {}, target = "aten.cumsum.default"}>
  %cs = tfm.generic %h {target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {}} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  // CHECK-NEXT: return
  func.return %cs : tensor<2x16x64xf32>
}
