// RUN: tandem-opt %s -p 'fuse{kernels=fused}' | filecheck %s
// RUN: tandem-opt %s -p 'fuse{kernels=eager}' | filecheck %s --check-prefix=EAGER

// DynaProp's prunes are elementwise masks: prunes around a bias join bias_gelu, one after a
// bias add joins gemm_bias (through the views in between), and one right after a GEMM becomes
// its epilogue (gemm_prune). Eager runs every prune as a kernel of its own.

// CHECK-LABEL: func.func @ffn
// CHECK:         tfm.matmul
// CHECK-NEXT:    tfm.fused {layer = 0 : i64, kernel = "bias_gelu"}
// CHECK-NEXT:      tfm.prune
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.prune
// CHECK-NEXT:      tfm.gelu
// CHECK:         tfm.fused {layer = 0 : i64, kernel = "gemm_bias"}
// CHECK-NEXT:      tfm.matmul
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.reshape
// CHECK-NEXT:      tfm.prune
// CHECK:         func.return
// CHECK-LABEL: func.func @context
// CHECK-NEXT:    %[[C:.*]] = tfm.fused {layer = 1 : i64, kernel = "gemm_prune"}
// CHECK-NEXT:      tfm.matmul
// CHECK-NEXT:      tfm.prune
// CHECK-NEXT:      tfm.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[C]]
// EAGER-COUNT-4: = tfm.prune
func.func @ffn(%x: tensor<8x16xf32>, %w1: tensor<16x32xf32>, %b1: tensor<32xf32>, %w2: tensor<32x16xf32>, %b2: tensor<16xf32>) -> tensor<2x4x16xf32> {
  %x0 = tfm.matmul %x, %w1 {layer = 0 : i64} : (tensor<8x16xf32>, tensor<16x32xf32>) -> tensor<8x32xf32>
  %x1 = tfm.prune %x0 {layer = 0 : i64, threshold = 6.000000e-02 : f64} : (tensor<8x32xf32>) -> tensor<8x32xf32>
  %h = tfm.add %x1, %b1 {layer = 0 : i64} : (tensor<8x32xf32>, tensor<32xf32>) -> tensor<8x32xf32>
  %hp = tfm.prune %h {layer = 0 : i64, threshold = 6.000000e-02 : f64} : (tensor<8x32xf32>) -> tensor<8x32xf32>
  %a = tfm.gelu %hp {layer = 0 : i64} : (tensor<8x32xf32>) -> tensor<8x32xf32>
  %o = tfm.matmul %a, %w2 {layer = 0 : i64} : (tensor<8x32xf32>, tensor<32x16xf32>) -> tensor<8x16xf32>
  %ob = tfm.add %o, %b2 {layer = 0 : i64} : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %or = tfm.reshape %ob {layer = 0 : i64} : (tensor<8x16xf32>) -> tensor<2x4x16xf32>
  %op = tfm.prune %or {layer = 0 : i64, threshold = 6.000000e-02 : f64} : (tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  func.return %op : tensor<2x4x16xf32>
}

func.func @context(%p: tensor<2x4x8x8xf32>, %v: tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32> {
  %c = tfm.matmul %p, %v {layer = 1 : i64} : (tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  %cp = tfm.prune %c {layer = 1 : i64, threshold = 6.000000e-02 : f64} : (tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  func.return %cp : tensor<2x4x8x16xf32>
}
