// RUN: tandem-opt %s -p fold-transposes | filecheck %s

// A swap of the last two dims becomes the matmul's transpose flag; the permute goes away.

// CHECK-LABEL: func.func @rhs
// CHECK-NEXT:    %y = tfm.matmul %x, %w {transpose_rhs} : (tensor<32x64xf32>, tensor<256x64xf32>) -> tensor<32x256xf32>
// CHECK-NEXT:    func.return %y
func.func @rhs(%x: tensor<32x64xf32>, %w: tensor<256x64xf32>) -> tensor<32x256xf32> {
  %wt = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
  %y = tfm.matmul %x, %wt : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
  func.return %y : tensor<32x256xf32>
}

// Two swaps in a row fold into no flag, and both permutes are dead afterwards: the second
// one only fed the matmul, the first one only fed the second (removed in either order).

// CHECK-LABEL: func.func @twice
// CHECK-NOT:     tfm.permute
// CHECK:         %y = tfm.matmul %x, %w : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
// CHECK-NEXT:    func.return %y
func.func @twice(%x: tensor<32x64xf32>, %w: tensor<64x256xf32>) -> tensor<32x256xf32> {
  %wt = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<64x256xf32>) -> tensor<256x64xf32>
  %wtt = tfm.permute %wt {perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
  %y = tfm.matmul %x, %wtt : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
  func.return %y : tensor<32x256xf32>
}

// A batched permute that is not a last-two-dim swap stays, and so does a permute still used.

// CHECK-LABEL: func.func @kept
// CHECK-NEXT:    %bt = tfm.permute %b {perm = array<i64: 1, 0, 2>}
// CHECK-NEXT:    %c = tfm.matmul %a, %bt : (tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<4x8x8xf32>
// CHECK-NEXT:    %wt = tfm.permute %w
// CHECK-NEXT:    %y = tfm.matmul %x, %w {transpose_rhs}
// CHECK-NEXT:    func.return %c, %y, %wt
func.func @kept(%a: tensor<4x8x16xf32>, %b: tensor<16x4x8xf32>, %x: tensor<32x64xf32>, %w: tensor<256x64xf32>) -> (tensor<4x8x8xf32>, tensor<32x256xf32>, tensor<64x256xf32>) {
  %bt = tfm.permute %b {perm = array<i64: 1, 0, 2>} : (tensor<16x4x8xf32>) -> tensor<4x16x8xf32>
  %c = tfm.matmul %a, %bt : (tensor<4x8x16xf32>, tensor<4x16x8xf32>) -> tensor<4x8x8xf32>
  %wt = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
  %y = tfm.matmul %x, %wt : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
  func.return %c, %y, %wt : tensor<4x8x8xf32>, tensor<32x256xf32>, tensor<64x256xf32>
}
