// A hand-written torch-dialect module in MLIR's generic form, as torch-mlir prints it.
// RUN: tandem import %s | filecheck %s
// RUN: tandem import %s --generic | tandem-opt | filecheck %s

// Weights become parameters: a dense_resource is named after its key, a non-splat dense
// literal gets a derived name; inputs come first.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: tensor<2x8xf32> {tfm.input = "in0"}
// CHECK-SAME: tensor<4x8xf32> {tfm.param = "fc.weight"}
// CHECK-SAME: tensor<4xf32> {tfm.param = "literal0"}
// CHECK-SAME: -> (tensor<4x2xf32> {tfm.output = "out0"}, tensor<2x2xf32> {tfm.output = "out1"})
// CHECK-NOT: torch.
// CHECK: tfm.matmul %{{.*}}, %{{.*}} {transpose_rhs} : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
// CHECK: tfm.add
// Splat literals become constants; MLIR spells -inf as the hex bit pattern 0xFF800000.
// CHECK: tfm.constant {value = 5.000000e-01 : f64} : tensor<f32>
// CHECK: tfm.constant {value = 0xfff0000000000000 : f64} : tensor<f32>
// CHECK: tfm.max
// ATen ops outside tfm's set stay, by name, for the interpreter to run through torch.ops.
// CHECK: tfm.generic %{{.*}} {target = "aten.flip.default", args = [#tfm.operand<0>, [1 : i64]], kwargs = {}}
// CHECK: tfm.softmax %{{.*}} {dim = 1 : i64}
// Lists unpack into slices; sizes fold into the alpha constant.
// CHECK: tfm.slice %{{.*}} {dim = 1 : i64, start = 0 : i64, end = 2 : i64, step = 1 : i64}
// CHECK: tfm.slice %{{.*}} {dim = 1 : i64, start = 2 : i64, end = 4 : i64, step = 1 : i64}
// CHECK: tfm.constant {value = 2.000000e+00 : f64} : tensor<f32>
// CHECK: tfm.permute %{{.*}} {perm = array<i64: 1, 0>}
// CHECK: func.return

"builtin.module"() ({
  "func.func"() <{function_type = (!torch.vtensor<[2,8],f32>) -> (!torch.vtensor<[4,2],f32>, !torch.vtensor<[2,2],f32>), sym_name = "main"}> ({
  ^bb0(%arg0: !torch.vtensor<[2,8],f32>):
    %0 = "torch.vtensor.literal"() <{value = dense_resource<fc.weight> : tensor<4x8xf32>}> : () -> !torch.vtensor<[4,8],f32>
    %1 = "torch.vtensor.literal"() <{value = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>}> : () -> !torch.vtensor<[4],f32>
    %2 = "torch.aten.linear"(%arg0, %0, %1) : (!torch.vtensor<[2,8],f32>, !torch.vtensor<[4,8],f32>, !torch.vtensor<[4],f32>) -> !torch.vtensor<[2,4],f32>
    %3 = "torch.vtensor.literal"() <{value = dense<5.000000e-01> : tensor<f32>}> : () -> !torch.vtensor<[],f32>
    %4 = "torch.aten.mul.Tensor"(%2, %3) : (!torch.vtensor<[2,4],f32>, !torch.vtensor<[],f32>) -> !torch.vtensor<[2,4],f32>
    %5 = "torch.vtensor.literal"() <{value = dense<0xFF800000> : tensor<f32>}> : () -> !torch.vtensor<[],f32>
    %6 = "torch.aten.maximum"(%4, %5) : (!torch.vtensor<[2,4],f32>, !torch.vtensor<[],f32>) -> !torch.vtensor<[2,4],f32>
    %int1 = "torch.constant.int"() <{value = 1 : i64}> : () -> !torch.int
    %int2 = "torch.constant.int"() <{value = 2 : i64}> : () -> !torch.int
    %none = "torch.constant.none"() : () -> !torch.none
    %7 = "torch.prim.ListConstruct"(%int1) : (!torch.int) -> !torch.list<int>
    %8 = "torch.aten.flip"(%6, %7) : (!torch.vtensor<[2,4],f32>, !torch.list<int>) -> !torch.vtensor<[2,4],f32>
    %9 = "torch.aten.softmax.int"(%8, %int1, %none) : (!torch.vtensor<[2,4],f32>, !torch.int, !torch.none) -> !torch.vtensor<[2,4],f32>
    %10 = "torch.aten.split.Tensor"(%9, %int2, %int1) : (!torch.vtensor<[2,4],f32>, !torch.int, !torch.int) -> !torch.list<vtensor>
    %11:2 = "torch.prim.ListUnpack"(%10) : (!torch.list<vtensor>) -> (!torch.vtensor<[2,2],f32>, !torch.vtensor<[2,2],f32>)
    %12 = "torch.aten.size.int"(%11#1, %int1) : (!torch.vtensor<[2,2],f32>, !torch.int) -> !torch.int
    %13 = "torch.aten.add.Tensor"(%11#0, %11#1, %12) : (!torch.vtensor<[2,2],f32>, !torch.vtensor<[2,2],f32>, !torch.int) -> !torch.vtensor<[2,2],f32>
    %int0 = "torch.constant.int"() <{value = 0 : i64}> : () -> !torch.int
    %14 = "torch.aten.transpose.int"(%9, %int0, %int1) : (!torch.vtensor<[2,4],f32>, !torch.int, !torch.int) -> !torch.vtensor<[4,2],f32>
    "func.return"(%14, %13) : (!torch.vtensor<[4,2],f32>, !torch.vtensor<[2,2],f32>) -> ()
  }) : () -> ()
}) : () -> ()
