// RUN: tandem-opt %s -p 'schedule{target=acceltran-server verbose=true}' -o /dev/null 2>&1 | filecheck %s
// RUN: tandem-opt %s -p 'schedule{target=acceltran-server time-limit=0.01}' | filecheck %s --check-prefix=FAST
// RUN: tandem-opt %s -p 'schedule{target=acceltran-server time-limit=0}' | filecheck %s --check-prefix=FAST

// Two identical layers are one solve; the ops outside layers are a segment of their own.
// verbose prints, per distinct segment, the sequential / list / ILP makespans, the lower bound,
// the status and the solve time. A tiny time limit (or none) still gives a complete schedule.

// CHECK:      schedule @forward on acceltran-server: 3 segments, 2 solved; makespan {{.*}} (optimal, bound {{.*}})
// CHECK-NEXT: segment {{ *}}count  ops  sequential {{ *}}list {{ *}}ilp {{ *}}bound {{ *}}status {{ *}}solve
// CHECK:      layers 0-1 fwd {{ *}}2 {{ *}}3 {{.*}} optimal
// CHECK-NEXT: rest fwd {{ *}}1 {{ *}}1 {{.*}}optimal

// FAST: attributes {sched.makespan = {{.*}}, sched.status = "{{optimal|feasible}}"
// FAST-COUNT-7: sched.start
func.func @forward(%x: tensor<256x512xf16> {tfm.input = "in0"}, %w0: tensor<512x512xf16>, %w1: tensor<512x512xf16>, %g: tensor<512xf16>, %b: tensor<512xf16>) -> tensor<256x512xf16> {
  %a0 = tfm.matmul %x, %w0 {layer = 0 : i64} : (tensor<256x512xf16>, tensor<512x512xf16>) -> tensor<256x512xf16>
  %s0 = tfm.softmax %a0 {layer = 0 : i64, dim = 1 : i64} : (tensor<256x512xf16>) -> tensor<256x512xf16>
  %n0 = tfm.layer_norm %s0, %g, %b {layer = 0 : i64, eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<256x512xf16>, tensor<512xf16>, tensor<512xf16>) -> tensor<256x512xf16>
  %a1 = tfm.matmul %n0, %w1 {layer = 1 : i64} : (tensor<256x512xf16>, tensor<512x512xf16>) -> tensor<256x512xf16>
  %s1 = tfm.softmax %a1 {layer = 1 : i64, dim = 1 : i64} : (tensor<256x512xf16>) -> tensor<256x512xf16>
  %n1 = tfm.layer_norm %s1, %g, %b {layer = 1 : i64, eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<256x512xf16>, tensor<512xf16>, tensor<512xf16>) -> tensor<256x512xf16>
  %o = tfm.gelu %n1 : (tensor<256x512xf16>) -> tensor<256x512xf16>
  func.return %o : tensor<256x512xf16>
}
