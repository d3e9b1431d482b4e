// RUN: rm -f %t.out
// RUN: not tandem-opt %s --split-input-file -o %t.out 2>&1 | filecheck %s
// RUN: not ls %t.out
// The first chunk is valid, the second is not: nothing is written, one error line names the op.

func.func @ok(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  func.return %a : tensor<2x3xf32>
}

// -----
func.func @bad(%a: tensor<2x3xf32>) {
  %0 = tfm.softmax %a {dim = 5 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return
}

// CHECK: error: {{.*}}opt-late-failure.mlir: {{.*}}tfm.softmax: dim 5 out of range for rank 2
// CHECK-NOT: error
// CHECK-NOT: Traceback
