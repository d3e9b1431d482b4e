// RUN: not tandem-opt %s -p 'fuse{kernels=megatron}' 2>&1 | filecheck %s --check-prefix=PRESET
// RUN: not tandem-opt %s -p 'fuse{kernels=3}' 2>&1 | filecheck %s --check-prefix=TYPE
// RUN: tandem-opt %s -p 'fuse{kernels=fused}' | not tandem-opt -p 'fuse{kernels=flash}' 2>&1 | filecheck %s --check-prefix=TWICE

// Bad options and a second fusion are one clear error line, no traceback.

// PRESET: error: {{.*}}fuse: kernels must be one of eager, fused, flash, inductor, got 'megatron'
// PRESET-NOT: Traceback
// TYPE: error: {{.*}}fuse: kernels must be one of eager, fused, flash, inductor, got 3
// TWICE: error: {{.*}}fuse: the module was already fused with kernels=fused; fuse the unfused IR with kernels=flash instead
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = tfm.gelu %x : (tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
