// RUN: tandem-opt %s -p 'dynaprop{tau-fwd=0.06 sites=q,k,v,context,out_proj,ffn_in,ffn_out}' | filecheck %s
// RUN: tandem-opt %s -p 'dynaprop{tau-fwd=0.1 sites=scores,probs}' | filecheck %s --check-prefix=INSIDE
// RUN: not tandem-opt %s -p 'dynaprop{tau-fwd=-1}' 2>&1 | filecheck %s --check-prefix=BAD

// One Transformer block (seq 4, hidden 8, 2 heads). Sites are found from the structure: the
// attention operands and result; the projection reading the context (out_proj); the one after
// it that reads neither the context nor an activation (ffn_in, its bias add included); the
// one reading the GELU (ffn_out). The q/k/v projections are not sites of their own.

// CHECK-LABEL: func.func @forward
// CHECK:      %q0 = tfm.matmul %x, %wq
// CHECK-NOT:  tfm.prune %q0
// CHECK:      %q = tfm.permute %q1
// CHECK-NEXT: %[[Q:.*]] = tfm.prune %q {dynaprop.site = "q", layer = 0 : i64, threshold = 6.000000e-02 : f64}
// CHECK:      %[[K:.*]] = tfm.prune %k {dynaprop.site = "k"
// CHECK:      %[[V:.*]] = tfm.prune %v {dynaprop.site = "v"
// CHECK:      %o = tfm.attention %[[Q]], %[[K]], %[[V]]
// CHECK-NEXT: %[[O:.*]] = tfm.prune %o {dynaprop.site = "context"
// CHECK-NEXT: %o1 = tfm.permute %[[O]]
// CHECK:      %p = tfm.matmul %o2, %wo
// CHECK-NEXT: %[[P:.*]] = tfm.prune %p {dynaprop.site = "out_proj"
// CHECK-NEXT: %h = tfm.add %[[P]], %x
// CHECK:      %fb = tfm.add %f, %b1
// CHECK-NEXT: %[[F:.*]] = tfm.prune %fb {dynaprop.site = "ffn_in"
// CHECK-NEXT: %g = tfm.gelu %[[F]]
// CHECK-NEXT: %y = tfm.matmul %g, %w2
// CHECK-NEXT: %[[Y:.*]] = tfm.prune %y {dynaprop.site = "ffn_out"
// CHECK-NEXT: func.return %[[Y]]

// With the scores and probs sites, attention is spelled out: QK^T * scale, pruned, causal
// mask, softmax, pruned, times V.
// INSIDE-LABEL: func.func @forward
// INSIDE-NOT:   tfm.attention
// INSIDE:       %[[S:.*]] = tfm.matmul %q, %k {layer = 0 : i64, transpose_rhs}
// INSIDE:       %[[SS:.*]] = tfm.mul %[[S]]
// INSIDE-NEXT:  %[[SP:.*]] = tfm.prune %[[SS]] {dynaprop.site = "scores", layer = 0 : i64, threshold = 1.000000e-01 : f64}
// INSIDE:       tfm.le
// INSIDE:       %[[M:.*]] = tfm.where {{.*}}, %[[SP]]
// INSIDE-NEXT:  %[[P:.*]] = tfm.softmax %[[M]]
// INSIDE-NEXT:  %[[PP:.*]] = tfm.prune %[[P]] {dynaprop.site = "probs"
// INSIDE-NEXT:  %{{.*}} = tfm.matmul %[[PP]], %v
// INSIDE-NOT:   tfm.prune

// BAD: dynaprop: tau-fwd must be a finite number >= 0, got -1

func.func @forward(%x: tensor<4x8xf32> {tfm.input = "in0"},
                   %wq: tensor<8x8xf32> {tfm.param = "h.0.attn.q.weight"},
                   %wk: tensor<8x8xf32> {tfm.param = "h.0.attn.k.weight"},
                   %wv: tensor<8x8xf32> {tfm.param = "h.0.attn.v.weight"},
                   %wo: tensor<8x8xf32> {tfm.param = "h.0.attn.o.weight"},
                   %w1: tensor<16x8xf32> {tfm.param = "h.0.mlp.fc1.weight"},
                   %b1: tensor<16xf32> {tfm.param = "h.0.mlp.fc1.bias"},
                   %w2: tensor<8x16xf32> {tfm.param = "h.0.mlp.fc2.weight"}) -> tensor<4x8xf32> {
  %q0 = tfm.matmul %x, %wq {layer = 0 : i64, transpose_rhs} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %q1 = tfm.reshape %q0 {layer = 0 : i64} : (tensor<4x8xf32>) -> tensor<1x4x2x4xf32>
  %q = tfm.permute %q1 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
  %k0 = tfm.matmul %x, %wk {layer = 0 : i64, transpose_rhs} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %k1 = tfm.reshape %k0 {layer = 0 : i64} : (tensor<4x8xf32>) -> tensor<1x4x2x4xf32>
  %k = tfm.permute %k1 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
  %v0 = tfm.matmul %x, %wv {layer = 0 : i64, transpose_rhs} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %v1 = tfm.reshape %v0 {layer = 0 : i64} : (tensor<4x8xf32>) -> tensor<1x4x2x4xf32>
  %v = tfm.permute %v1 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x2x4xf32>) -> tensor<1x2x4x4xf32>
  %o = tfm.attention %q, %k, %v {causal, layer = 0 : i64, scale = 0.5 : f64} : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %o1 = tfm.permute %o {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x4x4xf32>) -> tensor<1x4x2x4xf32>
  %o2 = tfm.reshape %o1 {layer = 0 : i64} : (tensor<1x4x2x4xf32>) -> tensor<4x8xf32>
  %p = tfm.matmul %o2, %wo {layer = 0 : i64, transpose_rhs} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %h = tfm.add %p, %x {layer = 0 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %f = tfm.matmul %h, %w1 {layer = 0 : i64, transpose_rhs} : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %fb = tfm.add %f, %b1 {layer = 0 : i64} : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %g = tfm.gelu %fb {layer = 0 : i64} : (tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = tfm.matmul %g, %w2 {layer = 0 : i64, transpose_rhs} : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  func.return %y : tensor<4x8xf32>
}
