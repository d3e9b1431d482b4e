// RUN: tandem-opt %s --split-input-file --verify-diagnostics | filecheck %s
// Every verifier names the op and says what was expected. Each case below must fail.

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) {
  %0 = tfm.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.matmul: reduction dims differ: lhs 2x3 has K=3, rhs 4x5 has K=4

// -----
func.func @matmul_k_transposed(%a: tensor<2x3xf32>, %b: tensor<5x4xf32>) {
  %0 = tfm.matmul %a, %b {transpose_rhs} : (tensor<2x3xf32>, tensor<5x4xf32>) -> tensor<2x5xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.matmul: reduction dims differ: lhs 2x3 has K=3, rhs 5x4 has K=4

// -----
func.func @matmul_batch(%a: tensor<2x4x5xf32>, %b: tensor<3x5x6xf32>) {
  %0 = tfm.matmul %a, %b : (tensor<2x4x5xf32>, tensor<3x5x6xf32>) -> tensor<2x4x6xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.matmul: batch dims of 2x4x5 and 3x5x6 do not broadcast

// -----
func.func @matmul_rank(%a: tensor<5xf32>, %b: tensor<5x6xf32>) {
  %0 = tfm.matmul %a, %b : (tensor<5xf32>, tensor<5x6xf32>) -> tensor<6xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.matmul: operands must have rank >= 2, got 5 and 5x6

// -----
func.func @matmul_dtype(%a: tensor<4x5xf16>, %b: tensor<5x6xf32>) {
  %0 = tfm.matmul %a, %b : (tensor<4x5xf16>, tensor<5x6xf32>) -> tensor<4x6xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.matmul: dtypes differ: f16, f32 -> f32

// -----
func.func @matmul_result(%a: tensor<4x5xf32>, %b: tensor<5x6xf32>) {
  %0 = tfm.matmul %a, %b : (tensor<4x5xf32>, tensor<5x6xf32>) -> tensor<4x5xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.matmul: result must be 4x6, got 4x5

// -----
func.func @attention_gqa(%q: tensor<2x4x8x16xf32>, %kv: tensor<2x3x8x16xf32>) {
  %0 = tfm.attention %q, %kv, %kv {scale = 0.25 : f64} : (tensor<2x4x8x16xf32>, tensor<2x3x8x16xf32>, tensor<2x3x8x16xf32>) -> tensor<2x4x8x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: query heads 4 must be a multiple of key/value heads 3 (grouped-query)

// -----
func.func @attention_mask_shape(%q: tensor<2x4x8x16xf32>, %m: tensor<1x1x8x7xi1>) {
  %0 = tfm.attention %q, %q, %q mask %m {scale = 0.25 : f64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<1x1x8x7xi1>) -> tensor<2x4x8x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: mask 1x1x8x7 does not broadcast to scores 2x4x8x8

// -----
func.func @attention_mask_dtype(%q: tensor<2x4x8x16xf32>, %m: tensor<8x8xi64>) {
  %0 = tfm.attention %q, %q, %q mask %m {scale = 0.25 : f64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<8x8xi64>) -> tensor<2x4x8x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: mask must be i1 or f32, got i64

// -----
func.func @attention_head_dim(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x32xf32>) {
  %0 = tfm.attention %q, %k, %k {scale = 0.25 : f64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x32xf32>, tensor<2x4x8x32xf32>) -> tensor<2x4x8x32xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: q and k head dims differ: 16 and 32

// -----
func.func @attention_rank(%q: tensor<8x8x16xf32>) {
  %0 = tfm.attention %q, %q, %q {scale = 0.25 : f64} : (tensor<8x8x16xf32>, tensor<8x8x16xf32>, tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: q, k, v must be [batch, heads, seq, head_dim], got 8x8x16, 8x8x16, 8x8x16

// -----
func.func @attention_scale(%q: tensor<2x4x8x16xf32>) {
  %0 = tfm.attention %q, %q, %q {scale = 0.0 : f64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: scale must be positive

// -----
func.func @attention_result(%q: tensor<2x4x8x16xf32>, %v: tensor<2x4x8x32xf32>) {
  %0 = tfm.attention %q, %q, %v {scale = 0.25 : f64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x32xf32>) -> tensor<2x4x8x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.attention: result must be 2x4x8x32, got 2x4x8x16

// -----
func.func @attention_backward_grad(%q: tensor<2x4x8x16xf32>, %g: tensor<2x4x8x8xf32>) {
  %0:3 = tfm.attention_backward %g, %q, %q, %q, %q {scale = 0.25 : f64} : (tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>) -> (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
  func.return
}
// CHECK: Operation does not verify: tfm.attention_backward: grad and out must be 2x4x8x16, got 2x4x8x8 and 2x4x8x16

// -----
func.func @attention_backward_dk(%q: tensor<2x4x8x16xf32>, %kv: tensor<2x2x8x16xf32>) {
  %0:3 = tfm.attention_backward %q, %q, %kv, %kv, %q {scale = 0.25 : f64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x2x8x16xf32>, tensor<2x4x8x16xf32>) -> (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x2x8x16xf32>)
  func.return
}
// CHECK: Operation does not verify: tfm.attention_backward: gradient 2x4x8x16 must match input 2x2x8x16

// -----
func.func @add_shapes(%a: tensor<2x4xf32>, %b: tensor<3xf32>) {
  %0 = tfm.add %a, %b : (tensor<2x4xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.add: operand shapes 2x4 and 3 do not broadcast

// -----
func.func @mul_dtype(%a: tensor<2x4xf32>, %b: tensor<4xf16>) {
  %0 = tfm.mul %a, %b : (tensor<2x4xf32>, tensor<4xf16>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.mul: operand dtypes differ: f32 and f16

// -----
func.func @sub_result(%a: tensor<2x4xf32>, %b: tensor<4xf32>) {
  %0 = tfm.sub %a, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.sub: result must be 2x4, got 4

// -----
func.func @div_result_dtype(%a: tensor<2x4xf32>, %b: tensor<4xf32>) {
  %0 = tfm.div %a, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xi1>
  func.return
}
// CHECK: Operation does not verify: tfm.div: result dtype must be f32, got i1

// -----
func.func @compare_i1(%a: tensor<2x4xf32>, %b: tensor<4xf32>) {
  %0 = tfm.lt %a, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.lt: result dtype must be i1, got f32

// -----
func.func @eq_i1(%a: tensor<2x4xi64>, %b: tensor<i64>) {
  %0 = tfm.eq %a, %b : (tensor<2x4xi64>, tensor<i64>) -> tensor<2x4xi64>
  func.return
}
// CHECK: Operation does not verify: tfm.eq: result dtype must be i1, got i64

// -----
func.func @where_cond(%c: tensor<2x4xf32>, %a: tensor<2x4xf32>) {
  %0 = tfm.where %c, %a, %a : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.where: condition must be i1, got f32

// -----
func.func @unary_shape(%a: tensor<2x4xf32>) {
  %0 = tfm.exp %a : (tensor<2x4xf32>) -> tensor<8xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.exp: shape changes from 2x4 to 8

// -----
func.func @convert_shape(%a: tensor<2x4xf32>) {
  %0 = tfm.convert %a : (tensor<2x4xf32>) -> tensor<4x2xf16>
  func.return
}
// CHECK: Operation does not verify: tfm.convert: shape changes from 2x4 to 4x2

// -----
func.func @arange_rank() {
  %0 = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<2x8xi64>
  func.return
}
// CHECK: Operation does not verify: tfm.arange: result must have rank 1, got 2x8

// -----
func.func @reshape_count(%a: tensor<2x3x4xf32>) {
  %0 = tfm.reshape %a : (tensor<2x3x4xf32>) -> tensor<5x5xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.reshape: element count changes: 2x3x4 -> 5x5

// -----
func.func @permute_perm(%a: tensor<2x3x4xf32>) {
  %0 = tfm.permute %a {perm = array<i64: 0, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<2x2x3xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.permute: perm [0, 0, 1] is not a permutation of rank 3

// -----
func.func @permute_rank(%a: tensor<2x3x4xf32>) {
  %0 = tfm.permute %a {perm = array<i64: 1, 0>} : (tensor<2x3x4xf32>) -> tensor<3x2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.permute: perm [1, 0] is not a permutation of rank 3

// -----
func.func @permute_result(%a: tensor<2x3x4xf32>) {
  %0 = tfm.permute %a {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.permute: result must be 4x2x3, got 2x3x4

// -----
func.func @broadcast_shape(%a: tensor<2x3xf32>) {
  %0 = tfm.broadcast %a : (tensor<2x3xf32>) -> tensor<4x3xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.broadcast: 2x3 does not broadcast to 4x3

// -----
func.func @slice_range(%a: tensor<2x16xf32>) {
  %0 = tfm.slice %a {dim = 1 : i64, start = 8 : i64, end = 20 : i64, step = 1 : i64} : (tensor<2x16xf32>) -> tensor<2x12xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.slice: bad range 8:20:1 for a dim of size 16

// -----
func.func @slice_step(%a: tensor<2x16xf32>) {
  %0 = tfm.slice %a {dim = 1 : i64, start = 0 : i64, end = 16 : i64, step = 0 : i64} : (tensor<2x16xf32>) -> tensor<2x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.slice: bad range 0:16:0 for a dim of size 16

// -----
func.func @slice_dim(%a: tensor<2x16xf32>) {
  %0 = tfm.slice %a {dim = 2 : i64, start = 0 : i64, end = 1 : i64, step = 1 : i64} : (tensor<2x16xf32>) -> tensor<2x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.slice: dim 2 out of range for rank 2

// -----
func.func @slice_result(%a: tensor<2x16xf32>) {
  %0 = tfm.slice %a {dim = 1 : i64, start = 0 : i64, end = 16 : i64, step = 2 : i64} : (tensor<2x16xf32>) -> tensor<2x16xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.slice: result must be 2x8, got 2x16

// -----
func.func @concat_shapes(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) {
  %0 = tfm.concat %a, %b {dim = 1 : i64} : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<2x8xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.concat: inputs 2x3 and 3x5 differ outside dim 1

// -----
func.func @concat_dtype(%a: tensor<2x3xf32>, %b: tensor<2x5xf16>) {
  %0 = tfm.concat %a, %b {dim = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf16>) -> tensor<2x8xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.concat: dtype changes from f16 to f32

// -----
func.func @concat_result(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>) {
  %0 = tfm.concat %a, %b {dim = -1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x9xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.concat: result must be 2x8, got 2x9

// -----
func.func @pad_negative(%a: tensor<4x8xf32>) {
  %0 = tfm.pad %a {low = array<i64: 0, 0>, high = array<i64: 0, -2>, value = 0.0 : f64} : (tensor<4x8xf32>) -> tensor<4x6xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.pad: padding must be non-negative

// -----
func.func @pad_entries(%a: tensor<4x8xf32>) {
  %0 = tfm.pad %a {low = array<i64: 0>, high = array<i64: 0, 2>, value = 0.0 : f64} : (tensor<4x8xf32>) -> tensor<4x10xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.pad: low and high need 2 entries

// -----
func.func @reduce_dims(%a: tensor<2x4xf32>) {
  %0 = tfm.reduce %a {kind = #tfm<reduce_kind sum>, dims = array<i64: 2>} : (tensor<2x4xf32>) -> tensor<2xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.reduce: dims (2,) out of range

// -----
func.func @reduce_keepdim(%a: tensor<2x4xf32>) {
  %0 = tfm.reduce %a {kind = #tfm<reduce_kind mean>, dims = array<i64: 1>, keepdim} : (tensor<2x4xf32>) -> tensor<2xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.reduce: result must be 2x1, got 2

// -----
func.func @softmax_dim(%a: tensor<2x4xf32>) {
  %0 = tfm.softmax %a {dim = 2 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.softmax: dim 2 out of range for rank 2

// -----
func.func @softmax_backward_types(%g: tensor<2x4xf32>, %y: tensor<2x4xf16>) {
  %0 = tfm.softmax_backward %g, %y {dim = 1 : i64} : (tensor<2x4xf32>, tensor<2x4xf16>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.softmax_backward: grad, forward output and result must have one type

// -----
func.func @layer_norm_weight(%x: tensor<2x16x64xf32>, %w: tensor<32xf32>, %b: tensor<64xf32>) {
  %0 = tfm.layer_norm %x, %w, %b {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<32xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.layer_norm: weight/bias 32 must match the normalised dims 64

// -----
func.func @layer_norm_ndim(%x: tensor<2x16x64xf32>, %w: tensor<64xf32>) {
  %0 = tfm.layer_norm %x, %w, %w {eps = 1.0e-05 : f64, ndim = 4 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.layer_norm: ndim 4 out of range for 2x16x64

// -----
func.func @layer_norm_eps(%x: tensor<2x16x64xf32>, %w: tensor<64xf32>) {
  %0 = tfm.layer_norm %x, %w, %w {eps = -1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.layer_norm: eps must be non-negative

// -----
func.func @layer_norm_backward_types(%x: tensor<2x16x64xf32>, %w: tensor<64xf32>) {
  %0:3 = tfm.layer_norm_backward %x, %x, %w, %w {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<2x16x64xf32>)
  func.return
}
// CHECK: Operation does not verify: tfm.layer_norm_backward: weight and bias gradients must match the weight and bias types

// -----
func.func @rms_norm_weight(%x: tensor<2x16x64xf32>, %w: tensor<16x64xf32>) {
  %0 = tfm.rms_norm %x weight %w {eps = 1.0e-06 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<16x64xf32>) -> tensor<2x16x64xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.rms_norm: weight/bias 16x64 must match the normalised dims 64

// -----
func.func @gelu_backward_types(%g: tensor<8xf32>, %x: tensor<4xf32>) {
  %0 = tfm.gelu_backward %g, %x : (tensor<8xf32>, tensor<4xf32>) -> tensor<8xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.gelu_backward: grad, input and result must have one type

// -----
func.func @cross_entropy_shapes(%x: tensor<2x4xf32>, %l: tensor<3xi64>) {
  %0 = tfm.cross_entropy %x, %l {ignore_index = -100 : i64, reduction = #tfm<reduction mean>} : (tensor<2x4xf32>, tensor<3xi64>) -> tensor<f32>
  func.return
}
// CHECK: Operation does not verify: tfm.cross_entropy: scores must be [N, C] and labels [N], got 2x4 and 3

// -----
func.func @cross_entropy_rank(%x: tensor<2x3x4xf32>, %l: tensor<2x3xi64>) {
  %0 = tfm.cross_entropy %x, %l {ignore_index = -100 : i64, reduction = #tfm<reduction mean>} : (tensor<2x3x4xf32>, tensor<2x3xi64>) -> tensor<f32>
  func.return
}
// CHECK: Operation does not verify: tfm.cross_entropy: scores must be [N, C] and labels [N], got 2x3x4 and 2x3

// -----
func.func @cross_entropy_labels(%x: tensor<2x4xf32>, %l: tensor<2xf32>) {
  %0 = tfm.cross_entropy %x, %l {ignore_index = -100 : i64, reduction = #tfm<reduction mean>} : (tensor<2x4xf32>, tensor<2xf32>) -> tensor<f32>
  func.return
}
// CHECK: Operation does not verify: tfm.cross_entropy: labels must be integers, got f32

// -----
func.func @nll_loss_result(%x: tensor<2x4xf32>, %l: tensor<2xi64>) {
  %0 = tfm.nll_loss %x, %l {ignore_index = -100 : i64, reduction = #tfm<reduction none>} : (tensor<2x4xf32>, tensor<2xi64>) -> tensor<f32>
  func.return
}
// CHECK: Operation does not verify: tfm.nll_loss: result must be 2, got scalar

// -----
func.func @nll_loss_backward_result(%g: tensor<f32>, %x: tensor<2x4xf32>, %l: tensor<2xi64>) {
  %0 = tfm.nll_loss_backward %g, %x, %l {ignore_index = -100 : i64, reduction = #tfm<reduction mean>} : (tensor<f32>, tensor<2x4xf32>, tensor<2xi64>) -> tensor<2x4xf16>
  func.return
}
// CHECK: Operation does not verify: tfm.nll_loss_backward: result type must equal the input type

// -----
func.func @embedding_table(%t: tensor<10xf32>, %i: tensor<2x3xi64>) {
  %0 = tfm.embedding %t, %i : (tensor<10xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.embedding: table must be [rows, dim], got 10

// -----
func.func @embedding_ids(%t: tensor<10x4xf32>, %i: tensor<2x3xf32>) {
  %0 = tfm.embedding %t, %i : (tensor<10x4xf32>, tensor<2x3xf32>) -> tensor<2x3x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.embedding: ids must be integers, got f32

// -----
func.func @embedding_backward_shape(%g: tensor<2x3x8xf32>, %i: tensor<2x3xi64>) {
  %0 = tfm.embedding_backward %g, %i {padding_idx = -1 : i64} : (tensor<2x3x8xf32>, tensor<2x3xi64>) -> tensor<10x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.embedding_backward: grad 2x3x8 must be ids 2x3 + [4]

// -----
func.func @dropout_p(%x: tensor<2x4xf32>) {
  %0 = tfm.dropout %x {p = 1.0 : f64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.dropout: p must be in [0, 1), got 1.0

// -----
func.func @generic_target(%x: tensor<2x4xf32>) {
  %0 = tfm.generic %x {target = "cumsum", args = [#tfm.operand<0>, 1 : i64], kwargs = {}} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return
}
// CHECK: Operation does not verify: tfm.generic: target 'cumsum' is not an ATen op name
