// RUN: not tandem-opt %s 2>&1 | filecheck %s
// A misspelt op in the generic form is refused too.

func.func @g(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = "tfm.softmaxx"(%a) <{dim = 1 : i64}> : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: error: {{.*}}unregistered-generic.mlir:5:{{[0-9]+}}: Operation tfm.softmaxx is not registered
// CHECK-NOT: Traceback
