// RUN: tandem-opt %s -p 'pad-shapes{target=a100-sxm4-40gb min-gain=0.02}' | filecheck %s

// An odd reduction dim (K = 4097) runs at a fraction of the aligned rate: the weight is padded
// at compile time (zero rows, recorded in tfm.param_pad), the activation at run time.

// CHECK:      builtin.module attributes {pad.gain = {{.*}} : f64, pad.params = {w = array<i64: [[PK:[0-9]+]], 0>}}
// CHECK:      func.func @odd_k(%x: tensor<4096x4097xf16> {tfm.input = "in0"}, %w: tensor<[[K:[0-9]+]]x4096xf16> {tfm.param = "w", tfm.param_pad = array<i64: [[PK]], 0>})
// CHECK-NEXT:   %[[XP:.*]] = tfm.pad %x {low = array<i64: 0, 0>, high = array<i64: 0, [[PK]]>, value = 0.000000e+00 : f64} : (tensor<4096x4097xf16>) -> tensor<4096x[[K]]xf16>
// CHECK-NEXT:   %y = tfm.matmul %[[XP]], %w {pad.gain = {{[0-9.e+-]+}} : f64} : (tensor<4096x[[K]]xf16>, tensor<[[K]]x4096xf16>) -> tensor<4096x4096xf16>
// CHECK-NEXT:   func.return %y
func.func @odd_k(%x: tensor<4096x4097xf16> {tfm.input = "in0"}, %w: tensor<4097x4096xf16> {tfm.param = "w"}) -> (tensor<4096x4096xf16> {tfm.output = "out0"}) {
  %y = tfm.matmul %x, %w : (tensor<4096x4097xf16>, tensor<4097x4096xf16>) -> tensor<4096x4096xf16>
  func.return %y : tensor<4096x4096xf16>
}

// Two activations (no parameter): both operands are padded along K.

// CHECK:      func.func @bmm_odd_k
// CHECK-DAG:    %[[AP:.*]] = tfm.pad %a {low = array<i64: 0, 0, 0>, high = array<i64: 0, 0, 15>, value = 0.000000e+00 : f64} : (tensor<8x2048x2049xf16>) -> tensor<8x2048x2064xf16>
// CHECK-DAG:    %[[BP:.*]] = tfm.pad %b {low = array<i64: 0, 0, 0>, high = array<i64: 0, 15, 0>, value = 0.000000e+00 : f64} : (tensor<8x2049x2048xf16>) -> tensor<8x2064x2048xf16>
// CHECK:        %c = tfm.matmul %[[AP]], %[[BP]] {pad.gain = {{.*}}} : (tensor<8x2048x2064xf16>, tensor<8x2064x2048xf16>) -> tensor<8x2048x2048xf16>
func.func @bmm_odd_k(%a: tensor<8x2048x2049xf16> {tfm.input = "in0"}, %b: tensor<8x2049x2048xf16> {tfm.input = "in1"}) -> (tensor<8x2048x2048xf16> {tfm.output = "out0"}) {
  %c = tfm.matmul %a, %b : (tensor<8x2048x2049xf16>, tensor<8x2049x2048xf16>) -> tensor<8x2048x2048xf16>
  func.return %c : tensor<8x2048x2048xf16>
}
