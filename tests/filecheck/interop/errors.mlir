// A malformed torch-dialect file: one error line naming the file and line, exit status 1.
// RUN: not tandem import %s 2>&1 | filecheck %s
// CHECK: error: {{.*}}errors.mlir:13: torch.aten.no_such_op: no operator aten.no_such_op in this PyTorch
// CHECK-NOT: Traceback

"builtin.module"() ({
  "func.func"() <{function_type = (!torch.vtensor<[2,8],f32>) -> !torch.vtensor<[2,8],f32>, sym_name = "main"}> ({
  ^bb0(%arg0: !torch.vtensor<[2,8],f32>):
    %int1 = "torch.constant.int"() <{value = 1 : i64}> : () -> !torch.int
    %0 = "torch.aten.add.Tensor"(%arg0, %arg0, %int1) : (!torch.vtensor<[2,8],f32>, !torch.vtensor<[2,8],f32>, !torch.int) -> !torch.vtensor<[2,8],f32>
    %1 = "torch.aten.mul.Tensor"(%0, %0) : (!torch.vtensor<[2,8],f32>, !torch.vtensor<[2,8],f32>) -> !torch.vtensor<[2,8],f32>
    %2 = "torch.aten.relu"(%1) : (!torch.vtensor<[2,8],f32>) -> !torch.vtensor<[2,8],f32>
    %3 = "torch.aten.no_such_op"(%2) : (!torch.vtensor<[2,8],f32>) -> !torch.vtensor<[2,8],f32>
    "func.return"(%3) : (!torch.vtensor<[2,8],f32>) -> ()
  }) : () -> ()
}) : () -> ()
