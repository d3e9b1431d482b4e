// RUN: tandem import %inputs/mlp.py:factory --training | filecheck %s
// The training graph of the one-block model: forward, loss, then PyTorch's own backward,
// with one gradient result per parameter.

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %in0: tensor<2x8x32xf32> {tfm.input = "in0"}, %in1: tensor<16xi64> {tfm.input = "in1"}
// CHECK-SAME: %body_blocks_0_ln1_weight: tensor<32xf32> {tfm.param = "body.blocks.0.ln1.weight"}
// CHECK-SAME: %head_bias: tensor<10xf32> {tfm.param = "head.bias"})
// CHECK-SAME: -> (tensor<f32> {tfm.output = "loss"},
// CHECK-SAME: tensor<32xf32> {tfm.grad_of = "body.blocks.0.ln1.weight"}, tensor<32xf32> {tfm.grad_of = "body.blocks.0.ln1.bias"},
// CHECK-SAME: tensor<96x32xf32> {tfm.grad_of = "body.blocks.0.qkv.weight"}, tensor<96xf32> {tfm.grad_of = "body.blocks.0.qkv.bias"},
// CHECK-SAME: tensor<32x32xf32> {tfm.grad_of = "body.blocks.0.proj.weight"}, tensor<32xf32> {tfm.grad_of = "body.blocks.0.proj.bias"},
// CHECK-SAME: tensor<32xf32> {tfm.grad_of = "body.blocks.0.ln2.weight"}, tensor<32xf32> {tfm.grad_of = "body.blocks.0.ln2.bias"},
// CHECK-SAME: tensor<128x32xf32> {tfm.grad_of = "body.blocks.0.fc1.weight"}, tensor<128xf32> {tfm.grad_of = "body.blocks.0.fc1.bias"},
// CHECK-SAME: tensor<32x128xf32> {tfm.grad_of = "body.blocks.0.fc2.weight"}, tensor<32xf32> {tfm.grad_of = "body.blocks.0.fc2.bias"},
// CHECK-SAME: tensor<10x32xf32> {tfm.grad_of = "head.weight"}, tensor<10xf32> {tfm.grad_of = "head.bias"})

// The loss seed: d(loss)/d(loss) = 1.
// CHECK-NEXT: %[[SEED:[0-9]+]] = tfm.constant {value = 1.000000e+00 : f64} : tensor<f32>

// Forward (no op of it is marked backward).
// CHECK-NOT: phase = "backward"
// CHECK: %[[X1:[0-9]+]] = tfm.layer_norm %in0, %body_blocks_0_ln1_weight, %body_blocks_0_ln1_bias {layer = 0 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64}
// CHECK-NOT: phase = "backward"
// CHECK: %[[Q:[0-9]+]] = tfm.permute {{.*}}perm = array<i64: 0, 2, 1, 3>} : (tensor<2x8x4x8xf32>) -> tensor<2x4x8x8xf32>
// CHECK-NEXT: %[[K4:[0-9]+]] = tfm.reshape
// CHECK-NEXT: %[[K:[0-9]+]] = tfm.permute
// CHECK-NEXT: %[[V4:[0-9]+]] = tfm.reshape
// CHECK-NEXT: %[[V:[0-9]+]] = tfm.permute
// CHECK-NEXT: %[[O:[0-9]+]] = tfm.attention %[[Q]], %[[K]], %[[V]] {layer = 0 : i64, scale = 0.35355339059327373 : f64, causal}
// CHECK-NOT: phase = "backward"
// CHECK: %[[R1:[0-9]+]] = tfm.add %in0, %{{[0-9]+}} {layer = 0 : i64} : (tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
// CHECK-NOT: phase = "backward"
// CHECK: tfm.gelu
// CHECK-NOT: phase = "backward"
// F.cross_entropy becomes log_softmax + nll_loss
// CHECK: %[[LOGP:[0-9]+]] = tfm.log_softmax %{{[0-9]+}} {dim = 1 : i64} : (tensor<16x10xf32>) -> tensor<16x10xf32>
// CHECK-NEXT: %[[LOSS:[0-9]+]] = tfm.nll_loss %[[LOGP]], %in1 {reduction = #tfm<reduction mean>, ignore_index = -100 : i64} : (tensor<16x10xf32>, tensor<16xi64>) -> tensor<f32>

// Backward, from the loss seed down to the first layer norm; every op is marked.
// CHECK-NEXT: %[[DLOGP:[0-9]+]] = tfm.nll_loss_backward %[[SEED]], %[[LOGP]], %in1 {phase = "backward", reduction = #tfm<reduction mean>, ignore_index = -100 : i64}
// CHECK-NEXT: tfm.log_softmax_backward %[[DLOGP]], %[[LOGP]] {phase = "backward", dim = 1 : i64}
// head: dX = dY W and dW = dY^T X
// CHECK: tfm.matmul {{.*}}phase = "backward"{{.*}} : (tensor<16x10xf32>, tensor<10x32xf32>) -> tensor<16x32xf32>
// CHECK: tfm.matmul {{.*}}phase = "backward"{{.*}} : (tensor<10x16xf32>, tensor<16x32xf32>) -> tensor<10x32xf32>
// MLP
// CHECK: tfm.matmul {{.*}}layer = 0 : i64, phase = "backward"{{.*}} : (tensor<16x32xf32>, tensor<32x128xf32>) -> tensor<16x128xf32>
// CHECK: tfm.gelu_backward {{.*}}layer = 0 : i64, phase = "backward"{{.*}} : (tensor<2x8x128xf32>, tensor<2x8x128xf32>) -> tensor<2x8x128xf32>
// CHECK: tfm.matmul {{.*}}layer = 0 : i64, phase = "backward"{{.*}} : (tensor<16x128xf32>, tensor<128x32xf32>) -> tensor<16x32xf32>
// CHECK: %[[DX2:[0-9]+]], %[[DW2:[0-9]+]], %[[DB2:[0-9]+]] = tfm.layer_norm_backward %{{[0-9]+}}, %[[R1]], %body_blocks_0_ln2_weight, %body_blocks_0_ln2_bias {layer = 0 : i64, phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64}
// attention, recomputed from q, k, v and the forward output
// CHECK: %[[DQ:[0-9]+]], %[[DK:[0-9]+]], %[[DV:[0-9]+]] = tfm.attention_backward %{{[0-9]+}}, %[[Q]], %[[K]], %[[V]], %[[O]] {layer = 0 : i64, phase = "backward", scale = 0.35355339059327373 : f64, causal}
// the split's gradient: the three heads' gradients joined back in q, k, v order
// CHECK: tfm.concat %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} {layer = 0 : i64, phase = "backward", dim = 2 : i64} : (tensor<2x8x32xf32>, tensor<2x8x32xf32>, tensor<2x8x32xf32>) -> tensor<2x8x96xf32>
// CHECK: %[[DX1:[0-9]+]], %[[DW1:[0-9]+]], %[[DB1:[0-9]+]] = tfm.layer_norm_backward %{{[0-9]+}}, %in0, %body_blocks_0_ln1_weight, %body_blocks_0_ln1_bias {layer = 0 : i64, phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64}
// loss first, then the gradients in parameter order
// CHECK-NEXT: func.return %[[LOSS]], %[[DW1]], %[[DB1]], {{.*}}, %[[DW2]], %[[DB2]],
