// RUN: tandem-opt %s -p 'pad-shapes{multiple=64}' | filecheck %s
// RUN: tandem-opt %s -p 'pad-shapes{target="%S/../../../data/pad-everything.toml"}' | filecheck %s

// Padding forced on: `multiple=64` rounds every dim up regardless of gain, and the test target
// tests/data/pad-everything.toml makes every dim that is not a multiple of 64 f32 elements slow.
// Attention pads its head dim and keeps the scale of the original one (0.25 = 1/sqrt(16)).

// CHECK:      func.func @attn(%q: tensor<2x4x16x16xf32> {tfm.input = "in0"}, %k: tensor<2x4x16x16xf32> {tfm.input = "in1"}, %v: tensor<2x4x16x16xf32> {tfm.input = "in2"})
// CHECK-DAG:    %[[QP:.*]] = tfm.pad %q {low = array<i64: 0, 0, 0, 0>, high = array<i64: 0, 0, 0, 48>, value = 0.000000e+00 : f64} : (tensor<2x4x16x16xf32>) -> tensor<2x4x16x64xf32>
// CHECK-DAG:    %[[KP:.*]] = tfm.pad %k {{.*}} -> tensor<2x4x16x64xf32>
// CHECK-DAG:    %[[VP:.*]] = tfm.pad %v {{.*}} -> tensor<2x4x16x64xf32>
// CHECK:        %[[OP:.*]] = tfm.attention %[[QP]], %[[KP]], %[[VP]] {pad.gain = {{.*}}, causal, scale = 2.500000e-01 : f64} : {{.*}} -> tensor<2x4x16x64xf32>
// CHECK-NEXT:   %[[O:.*]] = tfm.slice %[[OP]] {dim = 3 : i64, start = 0 : i64, end = 16 : i64, step = 1 : i64} : (tensor<2x4x16x64xf32>) -> tensor<2x4x16x16xf32>
// CHECK-NEXT:   func.return %[[O]]
func.func @attn(%q: tensor<2x4x16x16xf32> {tfm.input = "in0"}, %k: tensor<2x4x16x16xf32> {tfm.input = "in1"}, %v: tensor<2x4x16x16xf32> {tfm.input = "in2"}) -> (tensor<2x4x16x16xf32> {tfm.output = "out0"}) {
  %o = tfm.attention %q, %k, %v {causal, scale = 0.25 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  func.return %o : tensor<2x4x16x16xf32>
}

// M, N and K all padded; N is sliced back.

// CHECK:      func.func @linear(%x: tensor<32x40xf32> {tfm.input = "in0"}, %w: tensor<64x64xf32> {tfm.param = "w", tfm.param_pad = array<i64: 24, 14>}, %ids
// CHECK-DAG:    %[[XP:.*]] = tfm.pad %x {low = array<i64: 0, 0>, high = array<i64: 32, 24>, value = 0.000000e+00 : f64} : (tensor<32x40xf32>) -> tensor<64x64xf32>
// CHECK-DAG:    %[[W:.*]] = tfm.slice %w {dim = 0 : i64, start = 0 : i64, end = 40 : i64, step = 1 : i64} : (tensor<64x64xf32>) -> tensor<40x64xf32>
// CHECK-DAG:    %[[W2:.*]] = tfm.slice %[[W]] {dim = 1 : i64, start = 0 : i64, end = 50 : i64, step = 1 : i64} : (tensor<40x64xf32>) -> tensor<40x50xf32>
// CHECK:        %[[YP:.*]] = tfm.matmul %[[XP]], %w {pad.gain = {{.*}}} : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
// CHECK-NEXT:   %[[Y1:.*]] = tfm.slice %[[YP]] {dim = 0 : i64, start = 0 : i64, end = 32 : i64, step = 1 : i64}
// CHECK-NEXT:   %[[Y:.*]] = tfm.slice %[[Y1]] {dim = 1 : i64, start = 0 : i64, end = 50 : i64, step = 1 : i64} : (tensor<32x64xf32>) -> tensor<32x50xf32>
// CHECK-NEXT:   %e = tfm.embedding %[[W2]], %ids
// CHECK-NEXT:   func.return %[[Y]], %e
func.func @linear(%x: tensor<32x40xf32> {tfm.input = "in0"}, %w: tensor<40x50xf32> {tfm.param = "w"}, %ids: tensor<4xi64> {tfm.input = "in1"}) -> (tensor<32x50xf32> {tfm.output = "out0"}, tensor<4x50xf32> {tfm.output = "out1"}) {
  %y = tfm.matmul %x, %w : (tensor<32x40xf32>, tensor<40x50xf32>) -> tensor<32x50xf32>
  %e = tfm.embedding %w, %ids : (tensor<40x50xf32>, tensor<4xi64>) -> tensor<4x50xf32>
  func.return %y, %e : tensor<32x50xf32>, tensor<4x50xf32>
}
