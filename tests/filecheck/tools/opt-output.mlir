// RUN: rm -f %t.out %t.bad
// RUN: tandem-opt %s -p fold-transposes -o %t.out
// RUN: filecheck %s < %t.out
// RUN: tandem-opt %s -p fold-transposes --output-file=%t.out2
// RUN: filecheck %s < %t.out2
// RUN: not tandem-opt %s -p no-such-pass -o %t.bad 2>&1 | filecheck %s --check-prefix=PASS
// RUN: not ls %t.bad
// RUN: not tandem-opt %s -p "fold-transposes{bogus=1}" -o %t.bad 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not ls %t.bad
// tandem-opt writes its output file only when everything succeeded.

func.func @f(%a: tensor<2x3xf32>, %w: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %t = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %0 = tfm.matmul %a, %t : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @f
// CHECK-NEXT: %{{.*}} = tfm.matmul %a, %w {transpose_rhs} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: func.return

// PASS: error: {{.*}}opt-output.mlir: Unrecognized passes: ['no-such-pass']
// PASS-NOT: Traceback
// OPTION: error: {{.*}}bogus
// OPTION-NOT: Traceback
