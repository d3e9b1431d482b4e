// RUN: tandem-opt %s -p 'tile{target=tpuv4-like},schedule{target=tpuv4-like}' | filecheck %s
// RUN: tandem-opt %s -p 'tile{target=tpuv4-like},schedule{target=tpuv4-like}' -o %t.mlir
// RUN: tandem simulate %t.mlir --target tpuv4-like --json | filecheck %s --check-prefix=SIM

// Three independent projections, then vector ops: every op that takes time gets a unit and a
// start; the function gets the makespan, the solver status and bound, the solve time and the
// target. The matmuls are DRAM-bound on all tensor cores ("tc") and cannot overlap each other;
// the first add runs on one vector core while the last matmul streams. The view (reshape)
// takes no time and gets nothing. The simulator reproduces the makespan.

// CHECK:      func.func @forward
// CHECK-SAME:   attributes {sched.makespan = [[MS:[0-9.e+-]+]] : f64, sched.status = "optimal", sched.bound = {{.*}} : f64, sched.solve_time = {{.*}} : f64, sched.target = "tpuv4-like"}
// CHECK:      %q = tfm.matmul {{.*}}sched.unit = "tc", sched.start = 0.000000e+00 : f64}
// CHECK:      %k = tfm.matmul {{.*}}sched.unit = "tc", sched.start = [[K:[0-9.e+-]+]] : f64}
// CHECK:      %v = tfm.matmul {{.*}}sched.unit = "tc", sched.start = [[V:[0-9.e+-]+]] : f64}
// CHECK:      %s = tfm.add %q, %k {layer = 0 : i64, sched.unit = "vc{{[01]}}", sched.start = [[V]] : f64}
// CHECK:      %t = tfm.gelu %s {layer = 0 : i64, sched.unit = "vc{{[01]?}}", sched.start =
// CHECK:      %u = tfm.add %t, %v {layer = 0 : i64, sched.unit = "vc{{[01]?}}", sched.start =
// CHECK:      %r = tfm.reshape %u {layer = 0 : i64} :

// SIM-DAG: "latency_s": 4.26720531561461{{[0-9]*}}e-06
// SIM-DAG: "scheduled": true
func.func @forward(%x: tensor<128x768xf16> {tfm.input = "in0"}, %wq: tensor<768x768xf16> {tfm.param = "wq"}, %wk: tensor<768x768xf16> {tfm.param = "wk"}, %wv: tensor<768x768xf16> {tfm.param = "wv"}) -> (tensor<128x12x64xf16> {tfm.output = "out0"}) {
  %q = tfm.matmul %x, %wq {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %k = tfm.matmul %x, %wk {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %v = tfm.matmul %x, %wv {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %s = tfm.add %q, %k {layer = 0 : i64} : (tensor<128x768xf16>, tensor<128x768xf16>) -> tensor<128x768xf16>
  %t = tfm.gelu %s {layer = 0 : i64} : (tensor<128x768xf16>) -> tensor<128x768xf16>
  %u = tfm.add %t, %v {layer = 0 : i64} : (tensor<128x768xf16>, tensor<128x768xf16>) -> tensor<128x768xf16>
  %r = tfm.reshape %u {layer = 0 : i64} : (tensor<128x768xf16>) -> tensor<128x12x64xf16>
  func.return %r : tensor<128x12x64xf16>
}
