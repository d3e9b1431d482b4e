// RUN: tandem import %inputs/mlp.py:mlp | filecheck %s
// The smallest model with weights: Linear, GELU, Linear. Weights are arguments, never literals.

// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %in0: tensor<4x16xf32> {tfm.input = "in0"}
// CHECK-SAME: %[[W1:[0-9]+]]: tensor<64x16xf32> {tfm.param = "0.weight"}
// CHECK-SAME: %[[B1:[0-9]+]]: tensor<64xf32> {tfm.param = "0.bias"}
// CHECK-SAME: %[[W2:[0-9]+]]: tensor<16x64xf32> {tfm.param = "2.weight"}
// CHECK-SAME: %[[B2:[0-9]+]]: tensor<16xf32> {tfm.param = "2.bias"})
// CHECK-SAME: -> (tensor<4x16xf32> {tfm.output = "out0"})
// CHECK-NEXT: %[[H:[0-9]+]] = tfm.matmul %in0, %[[W1]] {transpose_rhs} : (tensor<4x16xf32>, tensor<64x16xf32>) -> tensor<4x64xf32>
// CHECK-NEXT: %[[HB:[0-9]+]] = tfm.add %[[H]], %[[B1]] : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
// CHECK-NEXT: %[[G:[0-9]+]] = tfm.gelu %[[HB]] : (tensor<4x64xf32>) -> tensor<4x64xf32>
// CHECK-NEXT: %[[Y:[0-9]+]] = tfm.matmul %[[G]], %[[W2]] {transpose_rhs} : (tensor<4x64xf32>, tensor<16x64xf32>) -> tensor<4x16xf32>
// CHECK-NEXT: %[[YB:[0-9]+]] = tfm.add %[[Y]], %[[B2]] : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
// CHECK-NEXT: func.return %[[YB]] : tensor<4x16xf32>
// CHECK-NOT: tfm.constant
