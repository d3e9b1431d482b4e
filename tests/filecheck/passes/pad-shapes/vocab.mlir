// RUN: tandem-opt %s -p 'pad-shapes{target=a100-sxm4-40gb}' | filecheck %s

// GPT-2's vocabulary (50257) as the N of the logits GEMM and, in training, the K of dX and the
// N of dW. One group: the weight gets one padded vocabulary size for all three GEMMs, the
// padded logits are sliced away before the softmax, the incoming gradient is padded once and
// shared, and the weight gradient comes out of its GEMM already at the padded shape.

// CHECK:      func.func @train_step(%x: tensor<8192x768xf16> {tfm.input = "in0"}, %dy: tensor<8192x50257xf16> {tfm.input = "in1"}, %w: tensor<768x[[V:[0-9]+]]xf16> {tfm.param = "lm_head.weight", tfm.param_pad = array<i64: 0, [[P:[0-9]+]]>})
// CHECK-SAME:   -> (tensor<8192x50257xf16> {tfm.output = "probs"}, tensor<8192x768xf16> {tfm.output = "dx"}, tensor<768x[[V]]xf16> {tfm.grad_of = "lm_head.weight"})
// CHECK-NEXT:   %[[DYP:.*]] = tfm.pad %dy {low = array<i64: 0, 0>, high = array<i64: 0, [[P]]>, value = 0.000000e+00 : f64} : (tensor<8192x50257xf16>) -> tensor<8192x[[V]]xf16>
// CHECK-NEXT:   %[[YP:.*]] = tfm.matmul %x, %w {pad.gain = [[G:.*]] : f64} : (tensor<8192x768xf16>, tensor<768x[[V]]xf16>) -> tensor<8192x[[V]]xf16>
// CHECK-NEXT:   %[[Y:.*]] = tfm.slice %[[YP]] {dim = 1 : i64, start = 0 : i64, end = 50257 : i64, step = 1 : i64} : (tensor<8192x[[V]]xf16>) -> tensor<8192x50257xf16>
// CHECK-NEXT:   %probs = tfm.softmax %[[Y]] {dim = 1 : i64} : (tensor<8192x50257xf16>) -> tensor<8192x50257xf16>
// CHECK-NEXT:   %dx = tfm.matmul %[[DYP]], %w {phase = "backward", pad.gain = [[G]] : f64, transpose_rhs} : (tensor<8192x[[V]]xf16>, tensor<768x[[V]]xf16>) -> tensor<8192x768xf16>
// CHECK-NEXT:   %xt = tfm.permute %x
// CHECK-NEXT:   %dw = tfm.matmul %xt, %[[DYP]] {phase = "backward", pad.gain = [[G]] : f64} : (tensor<768x8192xf16>, tensor<8192x[[V]]xf16>) -> tensor<768x[[V]]xf16>
// CHECK-NEXT:   func.return %probs, %dx, %dw : tensor<8192x50257xf16>, tensor<8192x768xf16>, tensor<768x[[V]]xf16>
func.func @train_step(%x: tensor<8192x768xf16> {tfm.input = "in0"}, %dy: tensor<8192x50257xf16> {tfm.input = "in1"}, %w: tensor<768x50257xf16> {tfm.param = "lm_head.weight"}) -> (tensor<8192x50257xf16> {tfm.output = "probs"}, tensor<8192x768xf16> {tfm.output = "dx"}, tensor<768x50257xf16> {tfm.grad_of = "lm_head.weight"}) {
  %y = tfm.matmul %x, %w : (tensor<8192x768xf16>, tensor<768x50257xf16>) -> tensor<8192x50257xf16>
  %probs = tfm.softmax %y {dim = 1 : i64} : (tensor<8192x50257xf16>) -> tensor<8192x50257xf16>
  %dx = tfm.matmul %dy, %w {phase = "backward", transpose_rhs} : (tensor<8192x50257xf16>, tensor<768x50257xf16>) -> tensor<8192x768xf16>
  %xt = tfm.permute %x {phase = "backward", perm = array<i64: 1, 0>} : (tensor<8192x768xf16>) -> tensor<768x8192xf16>
  %dw = tfm.matmul %xt, %dy {phase = "backward"} : (tensor<768x8192xf16>, tensor<8192x50257xf16>) -> tensor<768x50257xf16>
  func.return %probs, %dx, %dw : tensor<8192x50257xf16>, tensor<8192x768xf16>, tensor<768x50257xf16>
}
