// RUN: tandem-opt %s | tandem-opt | filecheck %s
// RUN: tandem-opt %s --print-op-generic | tandem-opt | filecheck %s

// CHECK-LABEL: func.func @block
func.func @block(%x: tensor<2x16x64xf32> {tfm.input = "x"}, %w: tensor<192x64xf32> {tfm.param = "w"},
                 %g: tensor<64xf32> {tfm.param = "g"}, %b: tensor<64xf32> {tfm.param = "b"}) -> tensor<2x16x64xf32> {
  // CHECK: tfm.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64, ndim = 1 : i64}
  %0 = tfm.layer_norm %x, %g, %b {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  // CHECK: tfm.matmul %{{.*}}, %{{.*}} {transpose_rhs} : (tensor<2x16x64xf32>, tensor<192x64xf32>) -> tensor<2x16x192xf32>
  %1 = tfm.matmul %0, %w {transpose_rhs} : (tensor<2x16x64xf32>, tensor<192x64xf32>) -> tensor<2x16x192xf32>
  // CHECK: tfm.slice %{{.*}} {dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64}
  %q = tfm.slice %1 {dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
  %k = tfm.slice %1 {dim = 2 : i64, start = 64 : i64, end = 96 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x32xf32>
  %v = tfm.slice %1 {dim = 2 : i64, start = 96 : i64, end = 128 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x32xf32>
  %q4 = tfm.reshape %q : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
  // CHECK: tfm.permute %{{.*}} {perm = array<i64: 0, 2, 1, 3>}
  %qh = tfm.permute %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
  %k2 = tfm.reshape %k : (tensor<2x16x32xf32>) -> tensor<2x16x2x16xf32>
  %kh = tfm.permute %k2 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x2x16xf32>) -> tensor<2x2x16x16xf32>
  %v2 = tfm.reshape %v : (tensor<2x16x32xf32>) -> tensor<2x16x2x16xf32>
  %vh = tfm.permute %v2 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x2x16xf32>) -> tensor<2x2x16x16xf32>
  // CHECK: tfm.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 2.500000e-01 : f64} : (tensor<2x4x16x16xf32>, tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>) -> tensor<2x4x16x16xf32>
  %o = tfm.attention %qh, %kh, %vh {causal, scale = 0.25 : f64} : (tensor<2x4x16x16xf32>, tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>) -> tensor<2x4x16x16xf32>
  %ot = tfm.permute %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
  %y = tfm.reshape %ot : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
  // CHECK: tfm.gelu %{{.*}} {approximate = #tfm<approximate tanh>}
  %a = tfm.gelu %y {approximate = #tfm<approximate tanh>} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  // CHECK: tfm.constant {value = 5.000000e-01 : f64} : tensor<f32>
  %c = tfm.constant {value = 0.5 : f64} : tensor<f32>
  // CHECK: tfm.mul %{{.*}}, %{{.*}} : (tensor<2x16x64xf32>, tensor<f32>) -> tensor<2x16x64xf32>
  %h = tfm.mul %a, %c : (tensor<2x16x64xf32>, tensor<f32>) -> tensor<2x16x64xf32>
  // CHECK: tfm.reduce %{{.*}} {kind = #tfm<reduce_kind sum>, dims = array<i64: 2>, keepdim}
  %s = tfm.reduce %h {kind = #tfm<reduce_kind sum>, dims = array<i64: 2>, keepdim} : (tensor<2x16x64xf32>) -> tensor<2x16x1xf32>
  %r = tfm.add %h, %s : (tensor<2x16x64xf32>, tensor<2x16x1xf32>) -> tensor<2x16x64xf32>
  // CHECK: tfm.generic %{{.*}} {target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {}}
  %cs = tfm.generic %r {target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {}} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  func.return %cs : tensor<2x16x64xf32>
}
