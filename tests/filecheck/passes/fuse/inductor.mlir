// RUN: tandem-opt %s -p 'fuse{kernels=inductor}' | filecheck %s

// torch.compile-style: any connected pointwise and reduction ops form one kernel, which
// writes every value used outside it (here the residual sum and the normalised output);
// the GEMMs stay extern kernels.

// CHECK:       builtin.module attributes {fuse.kernels = "inductor"}
// CHECK-LABEL: func.func @residual_norm
// CHECK:         %[[O:.*]] = tfm.matmul %h, %w
// CHECK-NEXT:    %[[R:.*]], %[[N:.*]] = tfm.fused {kernel = "reduction"} (%{{.*}} = %[[O]] : tensor<8x16xf32>, %{{.*}} = %b : tensor<16xf32>, %{{.*}} = %x : tensor<8x16xf32>, %{{.*}} = %g : tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.add
// CHECK-NEXT:      tfm.layer_norm
// CHECK-NEXT:      tfm.yield
// CHECK-NEXT:    }
// CHECK-NEXT:    func.return %[[N]], %[[R]]
func.func @residual_norm(%h: tensor<8x64xf32>, %w: tensor<64x16xf32>, %b: tensor<16xf32>, %x: tensor<8x16xf32>, %g: tensor<16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %o = tfm.matmul %h, %w : (tensor<8x64xf32>, tensor<64x16xf32>) -> tensor<8x16xf32>
  %ob = tfm.add %o, %b : (tensor<8x16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  %r = tfm.add %ob, %x : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
  %n = tfm.layer_norm %r, %g, %g {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<8x16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<8x16xf32>
  func.return %n, %r : tensor<8x16xf32>, tensor<8x16xf32>
}

// A kernel never swallows an op that sits on a path leaving it and coming back (%s depends on
// the matmul, which reads %e): %e and %s stay two kernels.

// CHECK-LABEL: func.func @no_cycle
// CHECK:         %[[E:.*]] = tfm.fused {kernel = "pointwise"}
// CHECK:         tfm.matmul %[[E]], %w
// CHECK:         tfm.fused {kernel = "pointwise"}
func.func @no_cycle(%x: tensor<8x8xf32>, %w: tensor<8x8xf32>) -> tensor<8x8xf32> {
  %e = tfm.exp %x : (tensor<8x8xf32>) -> tensor<8x8xf32>
  %m = tfm.matmul %e, %w : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  %s = tfm.add %e, %m : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  func.return %s : tensor<8x8xf32>
}
