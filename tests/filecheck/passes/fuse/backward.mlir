// RUN: tandem-opt %s -p 'fuse{kernels=fused}' | filecheck %s

// A decomposed RMSNorm (Llama) is one kernel; the backward of a fused GELU is fused too
// (Megatron's bias_gelu_back), and so is a softmax backward with its scale.

// CHECK-LABEL: func.func @rms
// CHECK:         %[[Y:.*]] = tfm.fused {layer = 1 : i64, kernel = "rms_norm"}
// CHECK:           tfm.reduce
// CHECK:           tfm.rsqrt
// CHECK:           tfm.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[Y]]
func.func @rms(%x: tensor<2x8x16xf32>, %w: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %two = tfm.constant {value = 2.0 : f64} : tensor<f32>
  %eps = tfm.constant {value = 1.0e-06 : f64} : tensor<f32>
  %sq = tfm.pow %x, %two {layer = 1 : i64} : (tensor<2x8x16xf32>, tensor<f32>) -> tensor<2x8x16xf32>
  %ms = tfm.reduce %sq {layer = 1 : i64, kind = #tfm<reduce_kind mean>, dims = array<i64: 2>, keepdim} : (tensor<2x8x16xf32>) -> tensor<2x8x1xf32>
  %a = tfm.add %ms, %eps {layer = 1 : i64} : (tensor<2x8x1xf32>, tensor<f32>) -> tensor<2x8x1xf32>
  %r = tfm.rsqrt %a {layer = 1 : i64} : (tensor<2x8x1xf32>) -> tensor<2x8x1xf32>
  %n = tfm.mul %x, %r {layer = 1 : i64} : (tensor<2x8x16xf32>, tensor<2x8x1xf32>) -> tensor<2x8x16xf32>
  %y = tfm.mul %n, %w {layer = 1 : i64} : (tensor<2x8x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
  func.return %y : tensor<2x8x16xf32>
}

// CHECK-LABEL: func.func @gelu_step
// CHECK:         %[[F:.*]] = tfm.fused {layer = 0 : i64, kernel = "bias_gelu"}
// CHECK:         tfm.fused {layer = 0 : i64, phase = "backward", kernel = "bias_gelu_backward"}
// CHECK-NEXT:      tfm.mul
// CHECK-NEXT:      tfm.gelu_backward
// CHECK:         tfm.fused {phase = "backward", kernel = "scale_mask_softmax_backward"}
// CHECK-NEXT:      tfm.softmax_backward
// CHECK-NEXT:      tfm.mul
func.func @gelu_step(%h: tensor<8x32xf32>, %b: tensor<32xf32>, %dy: tensor<8x32xf32>, %s: tensor<f32>, %p: tensor<8x8xf32>, %dp: tensor<8x8xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>, tensor<8x8xf32>) {
  %hb = tfm.add %h, %b {layer = 0 : i64} : (tensor<8x32xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %g = tfm.gelu %hb {layer = 0 : i64} : (tensor<8x32xf32>) -> tensor<8x32xf32>
  %d = tfm.mul %dy, %s {layer = 0 : i64, phase = "backward"} : (tensor<8x32xf32>, tensor<f32>) -> tensor<8x32xf32>
  %dx = tfm.gelu_backward %d, %hb {layer = 0 : i64, phase = "backward"} : (tensor<8x32xf32>, tensor<8x32xf32>) -> tensor<8x32xf32>
  %ds = tfm.softmax_backward %dp, %p {phase = "backward", dim = -1 : i64} : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  %dss = tfm.mul %ds, %s {phase = "backward"} : (tensor<8x8xf32>, tensor<f32>) -> tensor<8x8xf32>
  func.return %g, %dx, %dss : tensor<8x32xf32>, tensor<8x32xf32>, tensor<8x8xf32>
}
