// RUN: tandem-opt %s -p 'schedule{target=tpuv4-like}' -o %t.mlir
// RUN: tandem simulate %t.mlir --target tpuv4-like | filecheck %s --check-prefix=OK
// RUN: sed -e 's/%y = tfm.add %q, %k {layer = 0 : i64, sched.unit = "\(vc[01]*\)", sched.start = [^:]*:/%y = tfm.add %q, %k {layer = 0 : i64, sched.unit = "\1", sched.start = 0.0 :/' %t.mlir > %t.dep.mlir
// RUN: not tandem simulate %t.dep.mlir --target tpuv4-like 2>&1 | filecheck %s --check-prefix=DEP
// RUN: sed -e 's/%k = tfm.matmul %x, %wk {layer = 0 : i64, sched.unit = "tc", sched.start = [^:]*:/%k = tfm.matmul %x, %wk {layer = 0 : i64, sched.unit = "tc", sched.start = 0.0 :/' %t.mlir > %t.unit.mlir
// RUN: not tandem simulate %t.unit.mlir --target tpuv4-like 2>&1 | filecheck %s --check-prefix=UNIT
// RUN: not tandem simulate %t.mlir --target acceltran-server 2>&1 | filecheck %s --check-prefix=TARGET

// The simulator honours a schedule and checks it: a hand-edited start that breaks a data
// dependency or double-books a unit is an error naming both ops; so is simulating a schedule
// made for another target.

// OK: latency
// DEP: error: schedule: op 2 (tfm.add in layer 0) is scheduled at 0 s, but its operand from op 1 (tfm.matmul in layer 0) is ready only at {{.*}} s
// UNIT: error: schedule: op 1 (tfm.matmul in layer 0) is scheduled at 0 s on tc, but op 0 (tfm.matmul in layer 0) holds tc{{[0-7]}} until {{.*}} s (a unit runs one op at a time)
// TARGET: error: the IR was scheduled for tpuv4-like, not acceltran-server
// DEP-NOT: Traceback
func.func @forward(%x: tensor<128x768xf16> {tfm.input = "in0"}, %wq: tensor<768x768xf16> {tfm.param = "wq"}, %wk: tensor<768x768xf16> {tfm.param = "wk"}) -> (tensor<128x768xf16> {tfm.output = "out0"}) {
  %q = tfm.matmul %x, %wq {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %k = tfm.matmul %x, %wk {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %y = tfm.add %q, %k {layer = 0 : i64} : (tensor<128x768xf16>, tensor<128x768xf16>) -> tensor<128x768xf16>
  func.return %y : tensor<128x768xf16>
}
