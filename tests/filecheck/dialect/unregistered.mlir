// RUN: not tandem-opt %s 2>&1 | filecheck %s
// RUN: not tandem-opt %s --split-input-file 2>&1 | filecheck %s --check-prefix=SPLIT
// A misspelt tfm op is an error that names the file, line and column, not an opaque op.

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  %0 = tfm.matmull %a, %b : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: error: {{.*}}unregistered.mlir:6:{{[0-9]+}}: Operation tfm.matmull is not registered
// CHECK-NOT: Traceback

// -----
func.func @g(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = "tfm.softmaxx"(%a) <{dim = 1 : i64}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// The first failing chunk stops the run: one error line only.
// SPLIT: error: {{.*}}unregistered.mlir:6:{{[0-9]+}}: Operation tfm.matmull is not registered
// SPLIT-NOT: error
// SPLIT-NOT: Traceback
