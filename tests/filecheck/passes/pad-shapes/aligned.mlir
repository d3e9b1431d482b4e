// RUN: tandem-opt %s -p 'pad-shapes{target=a100-sxm4-40gb}' | filecheck %s

// Aligned shapes gain nothing from padding: the IR comes out unchanged.

// CHECK-NOT:  pad.
// CHECK-LABEL: func.func @aligned
// CHECK-NOT:  tfm.pad
// CHECK:      %y = tfm.matmul %x, %w : (tensor<4096x4096xf16>, tensor<4096x4096xf16>) -> tensor<4096x4096xf16>
// CHECK-NOT:  tfm.slice
// CHECK-NOT:  pad.
func.func @aligned(%x: tensor<4096x4096xf16> {tfm.input = "in0"}, %w: tensor<4096x4096xf16> {tfm.param = "w"}) -> (tensor<4096x4096xf16> {tfm.output = "out0"}) {
  %y = tfm.matmul %x, %w : (tensor<4096x4096xf16>, tensor<4096x4096xf16>) -> tensor<4096x4096xf16>
  func.return %y : tensor<4096x4096xf16>
}

// Small GEMMs are launch-bound: a pad kernel would cost more than it saves.

// CHECK-LABEL: func.func @tiny
// CHECK-NOT:  tfm.pad
// CHECK:      tfm.matmul %x, %w : (tensor<32x33xf16>, tensor<33x40xf16>) -> tensor<32x40xf16>
func.func @tiny(%x: tensor<32x33xf16> {tfm.input = "in0"}, %w: tensor<33x40xf16> {tfm.param = "w2"}) -> (tensor<32x40xf16> {tfm.output = "out0"}) {
  %y = tfm.matmul %x, %w : (tensor<32x33xf16>, tensor<33x40xf16>) -> tensor<32x40xf16>
  func.return %y : tensor<32x40xf16>
}
