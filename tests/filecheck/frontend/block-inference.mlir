// RUN: tandem import %inputs/mlp.py:factory | filecheck %s
// A one-block Transformer written with plain torch.nn, imported op by op.

// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %in0: tensor<2x8x32xf32> {tfm.input = "in0"}
// CHECK-SAME: %blocks_0_ln1_weight: tensor<32xf32> {tfm.param = "blocks.0.ln1.weight"}
// CHECK-SAME: %blocks_0_ln1_bias: tensor<32xf32> {tfm.param = "blocks.0.ln1.bias"}
// CHECK-SAME: %blocks_0_qkv_weight: tensor<96x32xf32> {tfm.param = "blocks.0.qkv.weight"}
// CHECK-SAME: %blocks_0_qkv_bias: tensor<96xf32> {tfm.param = "blocks.0.qkv.bias"}
// CHECK-SAME: %blocks_0_proj_weight: tensor<32x32xf32> {tfm.param = "blocks.0.proj.weight"}
// CHECK-SAME: %blocks_0_proj_bias: tensor<32xf32> {tfm.param = "blocks.0.proj.bias"}
// CHECK-SAME: %blocks_0_ln2_weight: tensor<32xf32> {tfm.param = "blocks.0.ln2.weight"}
// CHECK-SAME: %blocks_0_ln2_bias: tensor<32xf32> {tfm.param = "blocks.0.ln2.bias"}
// CHECK-SAME: %blocks_0_fc1_weight: tensor<128x32xf32> {tfm.param = "blocks.0.fc1.weight"}
// CHECK-SAME: %blocks_0_fc1_bias: tensor<128xf32> {tfm.param = "blocks.0.fc1.bias"}
// CHECK-SAME: %blocks_0_fc2_weight: tensor<32x128xf32> {tfm.param = "blocks.0.fc2.weight"}
// CHECK-SAME: %blocks_0_fc2_bias: tensor<32xf32> {tfm.param = "blocks.0.fc2.bias"})
// CHECK-SAME: -> (tensor<2x8x32xf32> {tfm.output = "out0"})

// ln1, then the fused QKV projection as one matmul with the weight transposed in place
// CHECK-NEXT: %[[LN1:[0-9]+]] = tfm.layer_norm %in0, %blocks_0_ln1_weight, %blocks_0_ln1_bias {layer = 0 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x8x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[QKV:[0-9]+]] = tfm.matmul %[[LN1]], %blocks_0_qkv_weight {layer = 0 : i64, transpose_rhs} : (tensor<2x8x32xf32>, tensor<96x32xf32>) -> tensor<2x8x96xf32>
// CHECK-NEXT: %[[QKVB:[0-9]+]] = tfm.add %[[QKV]], %blocks_0_qkv_bias {layer = 0 : i64} : (tensor<2x8x96xf32>, tensor<96xf32>) -> tensor<2x8x96xf32>
// split(d, dim=-1)
// CHECK-NEXT: %[[Q:[0-9]+]] = tfm.slice %[[QKVB]] {layer = 0 : i64, dim = 2 : i64, start = 0 : i64, end = 32 : i64, step = 1 : i64} : (tensor<2x8x96xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[K:[0-9]+]] = tfm.slice %[[QKVB]] {layer = 0 : i64, dim = 2 : i64, start = 32 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x8x96xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[V:[0-9]+]] = tfm.slice %[[QKVB]] {layer = 0 : i64, dim = 2 : i64, start = 64 : i64, end = 96 : i64, step = 1 : i64} : (tensor<2x8x96xf32>) -> tensor<2x8x32xf32>
// heads: reshape [b, s, h, d/h] and transpose(1, 2)
// CHECK-NEXT: %[[Q4:[0-9]+]] = tfm.reshape %[[Q]] {layer = 0 : i64} : (tensor<2x8x32xf32>) -> tensor<2x8x4x8xf32>
// CHECK-NEXT: %[[QH:[0-9]+]] = tfm.permute %[[Q4]] {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x8x4x8xf32>) -> tensor<2x4x8x8xf32>
// CHECK-NEXT: %[[K4:[0-9]+]] = tfm.reshape %[[K]] {layer = 0 : i64} : (tensor<2x8x32xf32>) -> tensor<2x8x4x8xf32>
// CHECK-NEXT: %[[KH:[0-9]+]] = tfm.permute %[[K4]] {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x8x4x8xf32>) -> tensor<2x4x8x8xf32>
// CHECK-NEXT: %[[V4:[0-9]+]] = tfm.reshape %[[V]] {layer = 0 : i64} : (tensor<2x8x32xf32>) -> tensor<2x8x4x8xf32>
// CHECK-NEXT: %[[VH:[0-9]+]] = tfm.permute %[[V4]] {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x8x4x8xf32>) -> tensor<2x4x8x8xf32>
// is_causal=True, default scale 1/sqrt(8)
// CHECK-NEXT: %[[O:[0-9]+]] = tfm.attention %[[QH]], %[[KH]], %[[VH]] {layer = 0 : i64, scale = 0.35355339059327373 : f64, causal} : (tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
// CHECK-NEXT: %[[OT:[0-9]+]] = tfm.permute %[[O]] {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x8x8xf32>) -> tensor<2x8x4x8xf32>
// CHECK-NEXT: %[[OR:[0-9]+]] = tfm.reshape %[[OT]] {layer = 0 : i64} : (tensor<2x8x4x8xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[P:[0-9]+]] = tfm.matmul %[[OR]], %blocks_0_proj_weight {layer = 0 : i64, transpose_rhs} : (tensor<2x8x32xf32>, tensor<32x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[PB:[0-9]+]] = tfm.add %[[P]], %blocks_0_proj_bias {layer = 0 : i64} : (tensor<2x8x32xf32>, tensor<32xf32>) -> tensor<2x8x32xf32>
// residual
// CHECK-NEXT: %[[R1:[0-9]+]] = tfm.add %in0, %[[PB]] {layer = 0 : i64} : (tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
// MLP: ln2, fc1, GELU (exact), fc2
// CHECK-NEXT: %[[LN2:[0-9]+]] = tfm.layer_norm %[[R1]], %blocks_0_ln2_weight, %blocks_0_ln2_bias {layer = 0 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64}
// CHECK-NEXT: %[[F1:[0-9]+]] = tfm.matmul %[[LN2]], %blocks_0_fc1_weight {layer = 0 : i64, transpose_rhs} : (tensor<2x8x32xf32>, tensor<128x32xf32>) -> tensor<2x8x128xf32>
// CHECK-NEXT: %[[F1B:[0-9]+]] = tfm.add %[[F1]], %blocks_0_fc1_bias {layer = 0 : i64}
// CHECK-NEXT: %[[G:[0-9]+]] = tfm.gelu %[[F1B]] {layer = 0 : i64} : (tensor<2x8x128xf32>) -> tensor<2x8x128xf32>
// CHECK-NEXT: %[[F2:[0-9]+]] = tfm.matmul %[[G]], %blocks_0_fc2_weight {layer = 0 : i64, transpose_rhs} : (tensor<2x8x128xf32>, tensor<32x128xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: %[[F2B:[0-9]+]] = tfm.add %[[F2]], %blocks_0_fc2_bias {layer = 0 : i64}
// CHECK-NEXT: %[[R2:[0-9]+]] = tfm.add %[[R1]], %[[F2B]] {layer = 0 : i64} : (tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NEXT: func.return %[[R2]] : tensor<2x8x32xf32>
// CHECK-NOT: tfm.
