// RUN: tandem-opt %s -p 'fuse{kernels=fused}' | filecheck %s
// RUN: tandem-opt %s -p 'fuse{kernels=flash}' | filecheck %s --check-prefix=FLASH
// RUN: tandem-opt %s -p 'fuse{kernels=eager}' | filecheck %s --check-prefix=EAGER

// Megatron-LM's kernels: the GEMM bias of a projection goes into the GEMM's epilogue,
// bias + GELU is one elementwise kernel, bias + residual add is bias_dropout_add; GEMMs and
// attention stay kernels of their own. `fused` materialises attention scores, `flash` does not.

// CHECK:       builtin.module attributes {fuse.kernels = "fused"}
// CHECK-LABEL: func.func @block
// CHECK:         %[[QKV:.*]] = tfm.fused {layer = 0 : i64, kernel = "gemm_bias"} (%{{.*}} = %x : tensor<8x16xf16>, %{{.*}} = %wqkv : tensor<16x48xf16>, %{{.*}} = %bqkv : tensor<48xf16>) -> tensor<8x48xf16> {
// CHECK-NEXT:      tfm.matmul
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.yield
// CHECK:         tfm.attention {{.*}}kernel = "materialised"
// CHECK:         %[[H:.*]] = tfm.matmul %x, %w1
// CHECK-NEXT:    %[[G:.*]] = tfm.fused {layer = 0 : i64, kernel = "bias_gelu"} (%{{.*}} = %[[H]] : tensor<8x64xf16>, %{{.*}} = %b1 : tensor<64xf16>) -> tensor<8x64xf16> {
// CHECK-NEXT:      %{{.*}} = tfm.add
// CHECK-NEXT:      %{{.*}} = tfm.gelu
// CHECK-NEXT:      tfm.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[O:.*]] = tfm.matmul %[[G]], %w2
// CHECK-NEXT:    %[[R:.*]] = tfm.fused {layer = 0 : i64, kernel = "bias_dropout_add"} (%{{.*}} = %[[O]] : tensor<8x16xf16>, %{{.*}} = %b2 : tensor<16xf16>, %{{.*}} = %x : tensor<8x16xf16>) -> tensor<8x16xf16> {
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[R]], %{{.*}}

// FLASH:       builtin.module attributes {fuse.kernels = "flash"}
// FLASH:       tfm.attention {{.*}}kernel = "flash"

// EAGER:       builtin.module attributes {fuse.kernels = "eager"}
// EAGER-NOT:   tfm.fused
// EAGER-NOT:   kernel =
func.func @block(%x: tensor<8x16xf16>, %wqkv: tensor<16x48xf16>, %bqkv: tensor<48xf16>, %w1: tensor<16x64xf16>, %b1: tensor<64xf16>, %w2: tensor<64x16xf16>, %b2: tensor<16xf16>) -> (tensor<8x16xf16>, tensor<1x2x8x8xf16>) {
  %qkv0 = tfm.matmul %x, %wqkv {layer = 0 : i64} : (tensor<8x16xf16>, tensor<16x48xf16>) -> tensor<8x48xf16>
  %qkv = tfm.add %qkv0, %bqkv {layer = 0 : i64} : (tensor<8x48xf16>, tensor<48xf16>) -> tensor<8x48xf16>
  %q0 = tfm.slice %qkv {layer = 0 : i64, dim = 1 : i64, start = 0 : i64, end = 16 : i64, step = 1 : i64} : (tensor<8x48xf16>) -> tensor<8x16xf16>
  %q1 = tfm.reshape %q0 {layer = 0 : i64} : (tensor<8x16xf16>) -> tensor<1x8x2x8xf16>
  %q = tfm.permute %q1 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<1x8x2x8xf16>) -> tensor<1x2x8x8xf16>
  %att = tfm.attention %q, %q, %q {layer = 0 : i64, causal, scale = 0.35355339059327373 : f64} : (tensor<1x2x8x8xf16>, tensor<1x2x8x8xf16>, tensor<1x2x8x8xf16>) -> tensor<1x2x8x8xf16>
  %h = tfm.matmul %x, %w1 {layer = 0 : i64} : (tensor<8x16xf16>, tensor<16x64xf16>) -> tensor<8x64xf16>
  %hb = tfm.add %h, %b1 {layer = 0 : i64} : (tensor<8x64xf16>, tensor<64xf16>) -> tensor<8x64xf16>
  %g = tfm.gelu %hb {layer = 0 : i64, approximate = #tfm<approximate tanh>} : (tensor<8x64xf16>) -> tensor<8x64xf16>
  %o = tfm.matmul %g, %w2 {layer = 0 : i64} : (tensor<8x64xf16>, tensor<64x16xf16>) -> tensor<8x16xf16>
  %ob = tfm.add %o, %b2 {layer = 0 : i64} : (tensor<8x16xf16>, tensor<16xf16>) -> tensor<8x16xf16>
  %r = tfm.add %ob, %x {layer = 0 : i64} : (tensor<8x16xf16>, tensor<8x16xf16>) -> tensor<8x16xf16>
  func.return %r, %att : tensor<8x16xf16>, tensor<1x2x8x8xf16>
}
