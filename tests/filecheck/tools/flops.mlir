// RUN: tandem flops %s --json | filecheck %s
// RUN: not tandem flops %s --layers 2 2>&1 | filecheck %s --check-prefix=OVERRIDE
// FLOPs and bytes of a hand-written module: every number below is worked out by hand.

func.func @f(%a: tensor<2x3xf32>, %w: tensor<4x3xf32>, %q: tensor<1x2x8x4xf32>) -> (tensor<2x4xf32>, tensor<1x2x8x4xf32>) {
  // 2 * M * N * K = 2 * 2 * 4 * 3 = 48 FLOPs; reads (6 + 12) * 4 B, writes 8 * 4 B
  %0 = tfm.matmul %a, %w {transpose_rhs} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  // free
  %1 = tfm.reshape %0 : (tensor<2x4xf32>) -> tensor<8xf32>
  // 2 GEMMs of 2 * (b*h=2) * 8 * 8 * 4 = 1024 each; softmax estimate 5 * 2 * 8 * 8 = 640
  %2 = tfm.attention %q, %q, %q {scale = 0.5 : f64} : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> tensor<1x2x8x4xf32>
  func.return %0, %2 : tensor<2x4xf32>, tensor<1x2x8x4xf32>
}

// CHECK: "flops": 2736,
// CHECK-NEXT: "flop_counter_flops": 2096,
// CHECK-NEXT: "bytes": 1128,
// CHECK-NEXT: "ops": 3,
// CHECK: "attention": {
// CHECK-NEXT: "ops": 1,
// CHECK-NEXT: "flops": 2688,
// CHECK-NEXT: "bytes": 1024
// CHECK: "matmul": {
// CHECK-NEXT: "ops": 1,
// CHECK-NEXT: "flops": 48,
// CHECK-NEXT: "bytes": 104
// CHECK: "view": {
// CHECK-NEXT: "ops": 1,
// CHECK-NEXT: "flops": 0,
// CHECK-NEXT: "bytes": 0

// OVERRIDE: error: shape overrides apply to models, not to .mlir files
