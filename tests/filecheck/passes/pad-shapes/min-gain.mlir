// RUN: tandem-opt %s -p 'pad-shapes{target=a100-sxm4-40gb min-gain=0.99}' | filecheck %s
// RUN: tandem-opt %s -p 'pad-shapes{target=a100-sxm4-40gb min-gain=0.02}' | filecheck %s --check-prefix=LOW

// The misaligned GEMM gains about 65%: below a min-gain of 99% nothing is padded.

// CHECK-NOT:  tfm.pad
// CHECK-NOT:  pad.gain
// CHECK:      %y = tfm.matmul %x, %w : (tensor<4096x4097xf16>, tensor<4097x4096xf16>) -> tensor<4096x4096xf16>
// CHECK-NOT:  tfm.pad

// LOW:        tfm.pad %x
// LOW:        tfm.matmul {{.*}}pad.gain
func.func @odd_k(%x: tensor<4096x4097xf16> {tfm.input = "in0"}, %w: tensor<4097x4096xf16> {tfm.param = "w"}) -> (tensor<4096x4096xf16> {tfm.output = "out0"}) {
  %y = tfm.matmul %x, %w : (tensor<4096x4097xf16>, tensor<4097x4096xf16>) -> tensor<4096x4096xf16>
  func.return %y : tensor<4096x4096xf16>
}
