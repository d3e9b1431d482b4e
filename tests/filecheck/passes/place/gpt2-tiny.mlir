// RUN: tandem-opt %s -p 'place{gpus=8 global-batch=8 t=2 p=2 d=2 recompute=full sp=off vp=1 zero=off}' | filecheck %s

// Tiny GPT-2 (2 layers) placed on 2 x 2 x 2 GPUs: the plan on the module, the fused QKV
// weight column-parallel in 3 blocks (q, k, v), the attention projection row-parallel with
// its all-reduce, heads split (4 -> 2 per rank), the vocabulary-parallel embedding, one
// stage per layer with the activation, the gradient and the tied embedding's gradient sent
// between them, and every gradient averaged over the data-parallel group.

// CHECK: builtin.module attributes {tfm.plan = {t = 2 : i64, p = 2 : i64, d = 2 : i64, microbatch = 2 : i64, recompute = "full"
// CHECK-SAME: stage_layers = [1 : i64, 1 : i64]
// CHECK-SAME: microbatches = 2 : i64, sends = 3 : i64
// CHECK: %model_transformer_h_0_attn_c_attn_weight: tensor<64x96xf32> {tfm.param = "model.transformer.h.0.attn.c_attn.weight", tfm.shard = "1/3"}
// CHECK: %model_transformer_h_0_attn_c_proj_weight: tensor<32x64xf32> {tfm.param = "model.transformer.h.0.attn.c_proj.weight", tfm.shard = "0/1"}
// CHECK: tfm.embedding {{.*}}stage = 0 : i64{{.*}} : (tensor<128x64xf32>, tensor<2x16xi64>) -> tensor<2x16x64xf32>
// CHECK: tfm.all_reduce {{.*}}group = "tp", ranks = 2 : i64, reduce = #tfm<reduce_kind sum>
// CHECK: tfm.attention {{.*}}layer = 0 : i64, stage = 0 : i64{{.*}} : (tensor<2x2x16x16xf32>
// CHECK: tfm.send {{.*}}stage = 0 : i64, dst = 1 : i64
// CHECK: tfm.recv {{.*}}stage = 1 : i64, src = 0 : i64
// CHECK: tfm.attention {{.*}}layer = 1 : i64, stage = 1 : i64
// CHECK: tfm.send {{.*}}phase = "backward"{{.*}}dst = 0 : i64
// CHECK: tfm.all_reduce {{.*}}group = "dp", ranks = 2 : i64, reduce = #tfm<reduce_kind mean>
// CHECK: func.return

builtin.module {
  func.func @train_step(%in0: tensor<2x16xi64> {tfm.input = "in0"}, %in1: tensor<2x16xi64> {tfm.input = "in1"}, %model_transformer_wte_weight: tensor<256x64xf32> {tfm.param = "model.transformer.wte.weight"}, %model_transformer_wpe_weight: tensor<64x64xf32> {tfm.param = "model.transformer.wpe.weight"}, %model_transformer_h_0_ln_1_weight: tensor<64xf32> {tfm.param = "model.transformer.h.0.ln_1.weight"}, %model_transformer_h_0_ln_1_bias: tensor<64xf32> {tfm.param = "model.transformer.h.0.ln_1.bias"}, %model_transformer_h_0_attn_c_attn_weight: tensor<64x192xf32> {tfm.param = "model.transformer.h.0.attn.c_attn.weight"}, %model_transformer_h_0_attn_c_attn_bias: tensor<192xf32> {tfm.param = "model.transformer.h.0.attn.c_attn.bias"}, %model_transformer_h_0_attn_c_proj_weight: tensor<64x64xf32> {tfm.param = "model.transformer.h.0.attn.c_proj.weight"}, %model_transformer_h_0_attn_c_proj_bias: tensor<64xf32> {tfm.param = "model.transformer.h.0.attn.c_proj.bias"}, %model_transformer_h_0_ln_2_weight: tensor<64xf32> {tfm.param = "model.transformer.h.0.ln_2.weight"}, %model_transformer_h_0_ln_2_bias: tensor<64xf32> {tfm.param = "model.transformer.h.0.ln_2.bias"}, %model_transformer_h_0_mlp_c_fc_weight: tensor<64x256xf32> {tfm.param = "model.transformer.h.0.mlp.c_fc.weight"}, %model_transformer_h_0_mlp_c_fc_bias: tensor<256xf32> {tfm.param = "model.transformer.h.0.mlp.c_fc.bias"}, %model_transformer_h_0_mlp_c_proj_weight: tensor<256x64xf32> {tfm.param = "model.transformer.h.0.mlp.c_proj.weight"}, %model_transformer_h_0_mlp_c_proj_bias: tensor<64xf32> {tfm.param = "model.transformer.h.0.mlp.c_proj.bias"}, %model_transformer_h_1_ln_1_weight: tensor<64xf32> {tfm.param = "model.transformer.h.1.ln_1.weight"}, %model_transformer_h_1_ln_1_bias: tensor<64xf32> {tfm.param = "model.transformer.h.1.ln_1.bias"}, %model_transformer_h_1_attn_c_attn_weight: tensor<64x192xf32> {tfm.param = "model.transformer.h.1.attn.c_attn.weight"}, %model_transformer_h_1_attn_c_attn_bias: tensor<192xf32> {tfm.param = "model.transformer.h.1.attn.c_attn.bias"}, %model_transformer_h_1_attn_c_proj_weight: tensor<64x64xf32> {tfm.param = "model.transformer.h.1.attn.c_proj.weight"}, %model_transformer_h_1_attn_c_proj_bias: tensor<64xf32> {tfm.param = "model.transformer.h.1.attn.c_proj.bias"}, %model_transformer_h_1_ln_2_weight: tensor<64xf32> {tfm.param = "model.transformer.h.1.ln_2.weight"}, %model_transformer_h_1_ln_2_bias: tensor<64xf32> {tfm.param = "model.transformer.h.1.ln_2.bias"}, %model_transformer_h_1_mlp_c_fc_weight: tensor<64x256xf32> {tfm.param = "model.transformer.h.1.mlp.c_fc.weight"}, %model_transformer_h_1_mlp_c_fc_bias: tensor<256xf32> {tfm.param = "model.transformer.h.1.mlp.c_fc.bias"}, %model_transformer_h_1_mlp_c_proj_weight: tensor<256x64xf32> {tfm.param = "model.transformer.h.1.mlp.c_proj.weight"}, %model_transformer_h_1_mlp_c_proj_bias: tensor<64xf32> {tfm.param = "model.transformer.h.1.mlp.c_proj.bias"}, %model_transformer_ln_f_weight: tensor<64xf32> {tfm.param = "model.transformer.ln_f.weight"}, %model_transformer_ln_f_bias: tensor<64xf32> {tfm.param = "model.transformer.ln_f.bias"}) -> (tensor<f32> {tfm.output = "loss"}, tensor<256x64xf32> {tfm.grad_of = "model.transformer.wte.weight"}, tensor<64x64xf32> {tfm.grad_of = "model.transformer.wpe.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.0.ln_1.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.0.ln_1.bias"}, tensor<64x192xf32> {tfm.grad_of = "model.transformer.h.0.attn.c_attn.weight"}, tensor<192xf32> {tfm.grad_of = "model.transformer.h.0.attn.c_attn.bias"}, tensor<64x64xf32> {tfm.grad_of = "model.transformer.h.0.attn.c_proj.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.0.attn.c_proj.bias"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.0.ln_2.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.0.ln_2.bias"}, tensor<64x256xf32> {tfm.grad_of = "model.transformer.h.0.mlp.c_fc.weight"}, tensor<256xf32> {tfm.grad_of = "model.transformer.h.0.mlp.c_fc.bias"}, tensor<256x64xf32> {tfm.grad_of = "model.transformer.h.0.mlp.c_proj.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.0.mlp.c_proj.bias"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.1.ln_1.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.1.ln_1.bias"}, tensor<64x192xf32> {tfm.grad_of = "model.transformer.h.1.attn.c_attn.weight"}, tensor<192xf32> {tfm.grad_of = "model.transformer.h.1.attn.c_attn.bias"}, tensor<64x64xf32> {tfm.grad_of = "model.transformer.h.1.attn.c_proj.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.1.attn.c_proj.bias"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.1.ln_2.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.1.ln_2.bias"}, tensor<64x256xf32> {tfm.grad_of = "model.transformer.h.1.mlp.c_fc.weight"}, tensor<256xf32> {tfm.grad_of = "model.transformer.h.1.mlp.c_fc.bias"}, tensor<256x64xf32> {tfm.grad_of = "model.transformer.h.1.mlp.c_proj.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.h.1.mlp.c_proj.bias"}, tensor<64xf32> {tfm.grad_of = "model.transformer.ln_f.weight"}, tensor<64xf32> {tfm.grad_of = "model.transformer.ln_f.bias"}) {
    %0 = tfm.constant {value = 1.000000e+00 : f64} : tensor<f32>
    %1 = tfm.embedding %model_transformer_wte_weight, %in0 : (tensor<256x64xf32>, tensor<2x16xi64>) -> tensor<2x16x64xf32>
    %2 = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<16xi64>
    %3 = tfm.constant {value = 0 : i64} : tensor<i64>
    %4 = tfm.add %2, %3 : (tensor<16xi64>, tensor<i64>) -> tensor<16xi64>
    %5 = tfm.reshape %4 : (tensor<16xi64>) -> tensor<1x16xi64>
    %6 = tfm.embedding %model_transformer_wpe_weight, %5 : (tensor<64x64xf32>, tensor<1x16xi64>) -> tensor<1x16x64xf32>
    %7 = tfm.add %1, %6 : (tensor<2x16x64xf32>, tensor<1x16x64xf32>) -> tensor<2x16x64xf32>
    %8 = tfm.broadcast %5 : (tensor<1x16xi64>) -> tensor<2x16xi64>
    %9 = tfm.slice %8 {dim = 1 : i64, start = 0 : i64, end = 1 : i64, step = 1 : i64} : (tensor<2x16xi64>) -> tensor<2x1xi64>
    %10 = tfm.constant {value = 1 : i64} : tensor<i64>
    %11 = tfm.sub %9, %10 : (tensor<2x1xi64>, tensor<i64>) -> tensor<2x1xi64>
    %12 = tfm.concat %11, %8 {dim = 1 : i64} : (tensor<2x1xi64>, tensor<2x16xi64>) -> tensor<2x17xi64>
    %13 = tfm.slice %12 {dim = 1 : i64, start = 0 : i64, end = 16 : i64, step = 1 : i64} : (tensor<2x17xi64>) -> tensor<2x16xi64>
    %14 = tfm.slice %12 {dim = 1 : i64, start = 1 : i64, end = 17 : i64, step = 1 : i64} : (tensor<2x17xi64>) -> tensor<2x16xi64>
    %15 = tfm.sub %14, %13 : (tensor<2x16xi64>, tensor<2x16xi64>) -> tensor<2x16xi64>
    %16 = tfm.constant {value = 1 : i64} : tensor<i64>
    %17 = tfm.ne %15, %16 : (tensor<2x16xi64>, tensor<i64>) -> tensor<2x16xi1>
    %18 = tfm.generic %17 {target = "aten.cumsum.default", args = [#tfm.operand<0>, -1 : i64], kwargs = {}} : (tensor<2x16xi1>) -> tensor<2x16xi64>
    %19 = tfm.broadcast %5 : (tensor<1x16xi64>) -> tensor<2x16xi64>
    %20 = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<2xi64>
    %21 = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<16xi64>
    %22 = tfm.constant {value = 0 : i64} : tensor<i64>
    %23 = tfm.add %21, %22 : (tensor<16xi64>, tensor<i64>) -> tensor<16xi64>
    %24 = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<16xi64>
    %25 = tfm.constant {value = 0 : i64} : tensor<i64>
    %26 = tfm.add %24, %25 : (tensor<16xi64>, tensor<i64>) -> tensor<16xi64>
    %27 = tfm.reshape %20 : (tensor<2xi64>) -> tensor<2x1xi64>
    %28 = tfm.reshape %27 : (tensor<2x1xi64>) -> tensor<2x1x1xi64>
    %29 = tfm.reshape %28 : (tensor<2x1x1xi64>) -> tensor<2x1x1x1xi64>
    %30 = tfm.reshape %23 : (tensor<16xi64>) -> tensor<1x16xi64>
    %31 = tfm.reshape %30 : (tensor<1x16xi64>) -> tensor<1x1x16xi64>
    %32 = tfm.reshape %31 : (tensor<1x1x16xi64>) -> tensor<1x1x16x1xi64>
    %33 = tfm.reshape %26 : (tensor<16xi64>) -> tensor<1x16xi64>
    %34 = tfm.reshape %33 : (tensor<1x16xi64>) -> tensor<1x1x16xi64>
    %35 = tfm.reshape %34 : (tensor<1x1x16xi64>) -> tensor<1x1x1x16xi64>
    %36 = tfm.constant {value = 1 : i64} : tensor<i1>
    %37 = tfm.generic %18, %29, %32 {target = "aten.index.Tensor", args = [#tfm.operand<0>, [#tfm.operand<1>, #tfm.operand<2>]], kwargs = {}} : (tensor<2x16xi64>, tensor<2x1x1x1xi64>, tensor<1x1x16x1xi64>) -> tensor<2x1x16x1xi64>
    %38 = tfm.generic %18, %29, %35 {target = "aten.index.Tensor", args = [#tfm.operand<0>, [#tfm.operand<1>, #tfm.operand<2>]], kwargs = {}} : (tensor<2x16xi64>, tensor<2x1x1x1xi64>, tensor<1x1x1x16xi64>) -> tensor<2x1x1x16xi64>
    %39 = tfm.eq %37, %38 : (tensor<2x1x16x1xi64>, tensor<2x1x1x16xi64>) -> tensor<2x1x16x16xi1>
    %40 = tfm.and %36, %39 : (tensor<i1>, tensor<2x1x16x16xi1>) -> tensor<2x1x16x16xi1>
    %41 = tfm.generic %19, %29, %32 {target = "aten.index.Tensor", args = [#tfm.operand<0>, [#tfm.operand<1>, #tfm.operand<2>]], kwargs = {}} : (tensor<2x16xi64>, tensor<2x1x1x1xi64>, tensor<1x1x16x1xi64>) -> tensor<2x1x16x1xi64>
    %42 = tfm.generic %19, %29, %35 {target = "aten.index.Tensor", args = [#tfm.operand<0>, [#tfm.operand<1>, #tfm.operand<2>]], kwargs = {}} : (tensor<2x16xi64>, tensor<2x1x1x1xi64>, tensor<1x1x1x16xi64>) -> tensor<2x1x1x16xi64>
    %43 = tfm.le %42, %41 : (tensor<2x1x1x16xi64>, tensor<2x1x16x1xi64>) -> tensor<2x1x16x16xi1>
    %44 = tfm.and %40, %43 : (tensor<2x1x16x16xi1>, tensor<2x1x16x16xi1>) -> tensor<2x1x16x16xi1>
    %45 = tfm.layer_norm %7, %model_transformer_h_0_ln_1_weight, %model_transformer_h_0_ln_1_bias {layer = 0 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    %46 = tfm.reshape %45 {layer = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %47 = tfm.matmul %46, %model_transformer_h_0_attn_c_attn_weight {layer = 0 : i64} : (tensor<32x64xf32>, tensor<64x192xf32>) -> tensor<32x192xf32>
    %48 = tfm.add %47, %model_transformer_h_0_attn_c_attn_bias {layer = 0 : i64} : (tensor<32x192xf32>, tensor<192xf32>) -> tensor<32x192xf32>
    %49 = tfm.reshape %48 {layer = 0 : i64} : (tensor<32x192xf32>) -> tensor<2x16x192xf32>
    %50 = tfm.slice %49 {layer = 0 : i64, dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    %51 = tfm.slice %49 {layer = 0 : i64, dim = 2 : i64, start = 64 : i64, end = 128 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    %52 = tfm.slice %49 {layer = 0 : i64, dim = 2 : i64, start = 128 : i64, end = 192 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    %53 = tfm.reshape %51 {layer = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %54 = tfm.permute %53 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %55 = tfm.reshape %52 {layer = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %56 = tfm.permute %55 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %57 = tfm.reshape %50 {layer = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %58 = tfm.permute %57 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %59 = tfm.constant {value = 0xfff0000000000000 : f64} : tensor<f32>
    %60 = tfm.constant {value = 0.000000e+00 : f64} : tensor<f32>
    %61 = tfm.where %44, %60, %59 : (tensor<2x1x16x16xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x16x16xf32>
    %62 = tfm.attention %58, %54, %56 mask %61 {layer = 0 : i64, scale = 2.500000e-01 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x1x16x16xf32>) -> tensor<2x4x16x16xf32>
    %63 = tfm.permute %62 {layer = 0 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %64 = tfm.reshape %63 {layer = 0 : i64} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %65 = tfm.reshape %64 {layer = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %66 = tfm.matmul %65, %model_transformer_h_0_attn_c_proj_weight {layer = 0 : i64} : (tensor<32x64xf32>, tensor<64x64xf32>) -> tensor<32x64xf32>
    %67 = tfm.add %66, %model_transformer_h_0_attn_c_proj_bias {layer = 0 : i64} : (tensor<32x64xf32>, tensor<64xf32>) -> tensor<32x64xf32>
    %68 = tfm.reshape %67 {layer = 0 : i64} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %69 = tfm.add %68, %7 {layer = 0 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %70 = tfm.layer_norm %69, %model_transformer_h_0_ln_2_weight, %model_transformer_h_0_ln_2_bias {layer = 0 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    %71 = tfm.reshape %70 {layer = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %72 = tfm.matmul %71, %model_transformer_h_0_mlp_c_fc_weight {layer = 0 : i64} : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
    %73 = tfm.add %72, %model_transformer_h_0_mlp_c_fc_bias {layer = 0 : i64} : (tensor<32x256xf32>, tensor<256xf32>) -> tensor<32x256xf32>
    %74 = tfm.reshape %73 {layer = 0 : i64} : (tensor<32x256xf32>) -> tensor<2x16x256xf32>
    %75 = tfm.constant {value = 5.000000e-01 : f64} : tensor<f32>
    %76 = tfm.mul %74, %75 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %77 = tfm.constant {value = 3.000000e+00 : f64} : tensor<f32>
    %78 = tfm.pow %74, %77 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %79 = tfm.constant {value = 4.471500e-02 : f64} : tensor<f32>
    %80 = tfm.mul %78, %79 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %81 = tfm.add %74, %80 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %82 = tfm.constant {value = 0.79788456080286541 : f64} : tensor<f32>
    %83 = tfm.mul %81, %82 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %84 = tfm.tanh %83 {layer = 0 : i64} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %85 = tfm.constant {value = 1.000000e+00 : f64} : tensor<f32>
    %86 = tfm.add %84, %85 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %87 = tfm.mul %76, %86 {layer = 0 : i64} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %88 = tfm.reshape %87 {layer = 0 : i64} : (tensor<2x16x256xf32>) -> tensor<32x256xf32>
    %89 = tfm.matmul %88, %model_transformer_h_0_mlp_c_proj_weight {layer = 0 : i64} : (tensor<32x256xf32>, tensor<256x64xf32>) -> tensor<32x64xf32>
    %90 = tfm.add %89, %model_transformer_h_0_mlp_c_proj_bias {layer = 0 : i64} : (tensor<32x64xf32>, tensor<64xf32>) -> tensor<32x64xf32>
    %91 = tfm.reshape %90 {layer = 0 : i64} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %92 = tfm.add %69, %91 {layer = 0 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %93 = tfm.layer_norm %92, %model_transformer_h_1_ln_1_weight, %model_transformer_h_1_ln_1_bias {layer = 1 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    %94 = tfm.reshape %93 {layer = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %95 = tfm.matmul %94, %model_transformer_h_1_attn_c_attn_weight {layer = 1 : i64} : (tensor<32x64xf32>, tensor<64x192xf32>) -> tensor<32x192xf32>
    %96 = tfm.add %95, %model_transformer_h_1_attn_c_attn_bias {layer = 1 : i64} : (tensor<32x192xf32>, tensor<192xf32>) -> tensor<32x192xf32>
    %97 = tfm.reshape %96 {layer = 1 : i64} : (tensor<32x192xf32>) -> tensor<2x16x192xf32>
    %98 = tfm.slice %97 {layer = 1 : i64, dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    %99 = tfm.slice %97 {layer = 1 : i64, dim = 2 : i64, start = 64 : i64, end = 128 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    %100 = tfm.slice %97 {layer = 1 : i64, dim = 2 : i64, start = 128 : i64, end = 192 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    %101 = tfm.reshape %99 {layer = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %102 = tfm.permute %101 {layer = 1 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %103 = tfm.reshape %100 {layer = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %104 = tfm.permute %103 {layer = 1 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %105 = tfm.reshape %98 {layer = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %106 = tfm.permute %105 {layer = 1 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %107 = tfm.constant {value = 0xfff0000000000000 : f64} : tensor<f32>
    %108 = tfm.constant {value = 0.000000e+00 : f64} : tensor<f32>
    %109 = tfm.where %44, %108, %107 : (tensor<2x1x16x16xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x16x16xf32>
    %110 = tfm.attention %106, %102, %104 mask %109 {layer = 1 : i64, scale = 2.500000e-01 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x1x16x16xf32>) -> tensor<2x4x16x16xf32>
    %111 = tfm.permute %110 {layer = 1 : i64, perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %112 = tfm.reshape %111 {layer = 1 : i64} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %113 = tfm.reshape %112 {layer = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %114 = tfm.matmul %113, %model_transformer_h_1_attn_c_proj_weight {layer = 1 : i64} : (tensor<32x64xf32>, tensor<64x64xf32>) -> tensor<32x64xf32>
    %115 = tfm.add %114, %model_transformer_h_1_attn_c_proj_bias {layer = 1 : i64} : (tensor<32x64xf32>, tensor<64xf32>) -> tensor<32x64xf32>
    %116 = tfm.reshape %115 {layer = 1 : i64} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %117 = tfm.add %116, %92 {layer = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %118 = tfm.layer_norm %117, %model_transformer_h_1_ln_2_weight, %model_transformer_h_1_ln_2_bias {layer = 1 : i64, eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    %119 = tfm.reshape %118 {layer = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %120 = tfm.matmul %119, %model_transformer_h_1_mlp_c_fc_weight {layer = 1 : i64} : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
    %121 = tfm.add %120, %model_transformer_h_1_mlp_c_fc_bias {layer = 1 : i64} : (tensor<32x256xf32>, tensor<256xf32>) -> tensor<32x256xf32>
    %122 = tfm.reshape %121 {layer = 1 : i64} : (tensor<32x256xf32>) -> tensor<2x16x256xf32>
    %123 = tfm.constant {value = 5.000000e-01 : f64} : tensor<f32>
    %124 = tfm.mul %122, %123 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %125 = tfm.constant {value = 3.000000e+00 : f64} : tensor<f32>
    %126 = tfm.pow %122, %125 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %127 = tfm.constant {value = 4.471500e-02 : f64} : tensor<f32>
    %128 = tfm.mul %126, %127 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %129 = tfm.add %122, %128 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %130 = tfm.constant {value = 0.79788456080286541 : f64} : tensor<f32>
    %131 = tfm.mul %129, %130 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %132 = tfm.tanh %131 {layer = 1 : i64} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %133 = tfm.constant {value = 1.000000e+00 : f64} : tensor<f32>
    %134 = tfm.add %132, %133 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %135 = tfm.mul %124, %134 {layer = 1 : i64} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %136 = tfm.reshape %135 {layer = 1 : i64} : (tensor<2x16x256xf32>) -> tensor<32x256xf32>
    %137 = tfm.matmul %136, %model_transformer_h_1_mlp_c_proj_weight {layer = 1 : i64} : (tensor<32x256xf32>, tensor<256x64xf32>) -> tensor<32x64xf32>
    %138 = tfm.add %137, %model_transformer_h_1_mlp_c_proj_bias {layer = 1 : i64} : (tensor<32x64xf32>, tensor<64xf32>) -> tensor<32x64xf32>
    %139 = tfm.reshape %138 {layer = 1 : i64} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %140 = tfm.add %117, %139 {layer = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %141 = tfm.layer_norm %140, %model_transformer_ln_f_weight, %model_transformer_ln_f_bias {eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    %142 = tfm.permute %model_transformer_wte_weight {perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
    %143 = tfm.reshape %141 : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %144 = tfm.matmul %143, %142 : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
    %145 = tfm.reshape %144 : (tensor<32x256xf32>) -> tensor<2x16x256xf32>
    %146 = tfm.pad %in1 {low = array<i64: 0, 0>, high = array<i64: 0, 1>, value = -1.000000e+02 : f64} : (tensor<2x16xi64>) -> tensor<2x17xi64>
    %147 = tfm.slice %146 {dim = 1 : i64, start = 1 : i64, end = 17 : i64, step = 1 : i64} : (tensor<2x17xi64>) -> tensor<2x16xi64>
    %148 = tfm.reshape %145 : (tensor<2x16x256xf32>) -> tensor<32x256xf32>
    %149 = tfm.reshape %147 : (tensor<2x16xi64>) -> tensor<32xi64>
    %150 = tfm.log_softmax %148 {dim = 1 : i64} : (tensor<32x256xf32>) -> tensor<32x256xf32>
    %151 = tfm.nll_loss %150, %149 {reduction = #tfm<reduction mean>, ignore_index = -100 : i64} : (tensor<32x256xf32>, tensor<32xi64>) -> tensor<f32>
    %152 = tfm.nll_loss_backward %0, %150, %149 {phase = "backward", reduction = #tfm<reduction mean>, ignore_index = -100 : i64} : (tensor<f32>, tensor<32x256xf32>, tensor<32xi64>) -> tensor<32x256xf32>
    %153 = tfm.log_softmax_backward %152, %150 {phase = "backward", dim = 1 : i64} : (tensor<32x256xf32>, tensor<32x256xf32>) -> tensor<32x256xf32>
    %154 = tfm.reshape %153 {phase = "backward"} : (tensor<32x256xf32>) -> tensor<2x16x256xf32>
    %155 = tfm.reshape %154 {phase = "backward"} : (tensor<2x16x256xf32>) -> tensor<32x256xf32>
    %156 = tfm.permute %155 {phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x256xf32>) -> tensor<256x32xf32>
    %157 = tfm.matmul %156, %143 {phase = "backward"} : (tensor<256x32xf32>, tensor<32x64xf32>) -> tensor<256x64xf32>
    %158 = tfm.permute %157 {phase = "backward", perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
    %159 = tfm.permute %142 {phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x256xf32>) -> tensor<256x64xf32>
    %160 = tfm.matmul %155, %159 {phase = "backward"} : (tensor<32x256xf32>, tensor<256x64xf32>) -> tensor<32x64xf32>
    %161 = tfm.reshape %160 {phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %162 = tfm.permute %158 {phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x256xf32>) -> tensor<256x64xf32>
    %163, %164, %165 = tfm.layer_norm_backward %161, %140, %model_transformer_ln_f_weight, %model_transformer_ln_f_bias {phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    %166 = tfm.reshape %163 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %167 = tfm.permute %model_transformer_h_1_mlp_c_proj_weight {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
    %168 = tfm.matmul %166, %167 {layer = 1 : i64, phase = "backward"} : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
    %169 = tfm.permute %136 {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x256xf32>) -> tensor<256x32xf32>
    %170 = tfm.matmul %169, %166 {layer = 1 : i64, phase = "backward"} : (tensor<256x32xf32>, tensor<32x64xf32>) -> tensor<256x64xf32>
    %171 = tfm.reduce %166 {layer = 1 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x64xf32>) -> tensor<1x64xf32>
    %172 = tfm.reshape %171 {layer = 1 : i64, phase = "backward"} : (tensor<1x64xf32>) -> tensor<64xf32>
    %173 = tfm.reshape %168 {layer = 1 : i64, phase = "backward"} : (tensor<32x256xf32>) -> tensor<2x16x256xf32>
    %174 = tfm.mul %173, %124 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %175 = tfm.mul %173, %134 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %176 = tfm.mul %132, %132 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %177 = tfm.constant {layer = 1 : i64, phase = "backward", value = 1.000000e+00 : f64} : tensor<f32>
    %178 = tfm.sub %177, %176 {layer = 1 : i64, phase = "backward"} : (tensor<f32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %179 = tfm.mul %174, %178 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %180 = tfm.constant {layer = 1 : i64, phase = "backward", value = 0.79788456080286541 : f64} : tensor<f32>
    %181 = tfm.mul %179, %180 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %182 = tfm.constant {layer = 1 : i64, phase = "backward", value = 4.471500e-02 : f64} : tensor<f32>
    %183 = tfm.mul %181, %182 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %184 = tfm.constant {layer = 1 : i64, phase = "backward", value = 2.000000e+00 : f64} : tensor<f32>
    %185 = tfm.pow %122, %184 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %186 = tfm.constant {layer = 1 : i64, phase = "backward", value = 3.000000e+00 : f64} : tensor<f32>
    %187 = tfm.mul %185, %186 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %188 = tfm.mul %183, %187 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %189 = tfm.add %181, %188 {phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %190 = tfm.constant {layer = 1 : i64, phase = "backward", value = 5.000000e-01 : f64} : tensor<f32>
    %191 = tfm.mul %175, %190 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %192 = tfm.add %189, %191 {phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %193 = tfm.reshape %192 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x256xf32>) -> tensor<32x256xf32>
    %194 = tfm.permute %model_transformer_h_1_mlp_c_fc_weight {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x256xf32>) -> tensor<256x64xf32>
    %195 = tfm.matmul %193, %194 {layer = 1 : i64, phase = "backward"} : (tensor<32x256xf32>, tensor<256x64xf32>) -> tensor<32x64xf32>
    %196 = tfm.permute %119 {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
    %197 = tfm.matmul %196, %193 {layer = 1 : i64, phase = "backward"} : (tensor<64x32xf32>, tensor<32x256xf32>) -> tensor<64x256xf32>
    %198 = tfm.reduce %193 {layer = 1 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x256xf32>) -> tensor<1x256xf32>
    %199 = tfm.reshape %198 {layer = 1 : i64, phase = "backward"} : (tensor<1x256xf32>) -> tensor<256xf32>
    %200 = tfm.reshape %195 {layer = 1 : i64, phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %201, %202, %203 = tfm.layer_norm_backward %200, %117, %model_transformer_h_1_ln_2_weight, %model_transformer_h_1_ln_2_bias {layer = 1 : i64, phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    %204 = tfm.add %163, %201 {phase = "backward"} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %205 = tfm.reshape %204 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %206 = tfm.permute %model_transformer_h_1_attn_c_proj_weight {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x64xf32>) -> tensor<64x64xf32>
    %207 = tfm.matmul %205, %206 {layer = 1 : i64, phase = "backward"} : (tensor<32x64xf32>, tensor<64x64xf32>) -> tensor<32x64xf32>
    %208 = tfm.permute %113 {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
    %209 = tfm.matmul %208, %205 {layer = 1 : i64, phase = "backward"} : (tensor<64x32xf32>, tensor<32x64xf32>) -> tensor<64x64xf32>
    %210 = tfm.reduce %205 {layer = 1 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x64xf32>) -> tensor<1x64xf32>
    %211 = tfm.reshape %210 {layer = 1 : i64, phase = "backward"} : (tensor<1x64xf32>) -> tensor<64xf32>
    %212 = tfm.reshape %207 {layer = 1 : i64, phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %213 = tfm.reshape %212 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %214 = tfm.permute %213 {layer = 1 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %215, %216, %217 = tfm.attention_backward %214, %106, %102, %104, %110 mask %109 {layer = 1 : i64, phase = "backward", scale = 2.500000e-01 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x1x16x16xf32>) -> (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>)
    %218 = tfm.permute %215 {layer = 1 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %219 = tfm.reshape %218 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %220 = tfm.permute %217 {layer = 1 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %221 = tfm.reshape %220 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %222 = tfm.permute %216 {layer = 1 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %223 = tfm.reshape %222 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %224 = tfm.concat %219, %223, %221 {layer = 1 : i64, phase = "backward", dim = 2 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x192xf32>
    %225 = tfm.reshape %224 {layer = 1 : i64, phase = "backward"} : (tensor<2x16x192xf32>) -> tensor<32x192xf32>
    %226 = tfm.permute %model_transformer_h_1_attn_c_attn_weight {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x192xf32>) -> tensor<192x64xf32>
    %227 = tfm.matmul %225, %226 {layer = 1 : i64, phase = "backward"} : (tensor<32x192xf32>, tensor<192x64xf32>) -> tensor<32x64xf32>
    %228 = tfm.permute %94 {layer = 1 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
    %229 = tfm.matmul %228, %225 {layer = 1 : i64, phase = "backward"} : (tensor<64x32xf32>, tensor<32x192xf32>) -> tensor<64x192xf32>
    %230 = tfm.reduce %225 {layer = 1 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x192xf32>) -> tensor<1x192xf32>
    %231 = tfm.reshape %230 {layer = 1 : i64, phase = "backward"} : (tensor<1x192xf32>) -> tensor<192xf32>
    %232 = tfm.reshape %227 {layer = 1 : i64, phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %233, %234, %235 = tfm.layer_norm_backward %232, %92, %model_transformer_h_1_ln_1_weight, %model_transformer_h_1_ln_1_bias {layer = 1 : i64, phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    %236 = tfm.add %204, %233 {phase = "backward"} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %237 = tfm.reshape %236 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %238 = tfm.permute %model_transformer_h_0_mlp_c_proj_weight {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
    %239 = tfm.matmul %237, %238 {layer = 0 : i64, phase = "backward"} : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
    %240 = tfm.permute %88 {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x256xf32>) -> tensor<256x32xf32>
    %241 = tfm.matmul %240, %237 {layer = 0 : i64, phase = "backward"} : (tensor<256x32xf32>, tensor<32x64xf32>) -> tensor<256x64xf32>
    %242 = tfm.reduce %237 {layer = 0 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x64xf32>) -> tensor<1x64xf32>
    %243 = tfm.reshape %242 {layer = 0 : i64, phase = "backward"} : (tensor<1x64xf32>) -> tensor<64xf32>
    %244 = tfm.reshape %239 {layer = 0 : i64, phase = "backward"} : (tensor<32x256xf32>) -> tensor<2x16x256xf32>
    %245 = tfm.mul %244, %76 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %246 = tfm.mul %244, %86 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %247 = tfm.mul %84, %84 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %248 = tfm.constant {layer = 0 : i64, phase = "backward", value = 1.000000e+00 : f64} : tensor<f32>
    %249 = tfm.sub %248, %247 {layer = 0 : i64, phase = "backward"} : (tensor<f32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %250 = tfm.mul %245, %249 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %251 = tfm.constant {layer = 0 : i64, phase = "backward", value = 0.79788456080286541 : f64} : tensor<f32>
    %252 = tfm.mul %250, %251 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %253 = tfm.constant {layer = 0 : i64, phase = "backward", value = 4.471500e-02 : f64} : tensor<f32>
    %254 = tfm.mul %252, %253 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %255 = tfm.constant {layer = 0 : i64, phase = "backward", value = 2.000000e+00 : f64} : tensor<f32>
    %256 = tfm.pow %74, %255 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %257 = tfm.constant {layer = 0 : i64, phase = "backward", value = 3.000000e+00 : f64} : tensor<f32>
    %258 = tfm.mul %256, %257 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %259 = tfm.mul %254, %258 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %260 = tfm.add %252, %259 {phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %261 = tfm.constant {layer = 0 : i64, phase = "backward", value = 5.000000e-01 : f64} : tensor<f32>
    %262 = tfm.mul %246, %261 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>, tensor<f32>) -> tensor<2x16x256xf32>
    %263 = tfm.add %260, %262 {phase = "backward"} : (tensor<2x16x256xf32>, tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    %264 = tfm.reshape %263 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x256xf32>) -> tensor<32x256xf32>
    %265 = tfm.permute %model_transformer_h_0_mlp_c_fc_weight {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x256xf32>) -> tensor<256x64xf32>
    %266 = tfm.matmul %264, %265 {layer = 0 : i64, phase = "backward"} : (tensor<32x256xf32>, tensor<256x64xf32>) -> tensor<32x64xf32>
    %267 = tfm.permute %71 {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
    %268 = tfm.matmul %267, %264 {layer = 0 : i64, phase = "backward"} : (tensor<64x32xf32>, tensor<32x256xf32>) -> tensor<64x256xf32>
    %269 = tfm.reduce %264 {layer = 0 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x256xf32>) -> tensor<1x256xf32>
    %270 = tfm.reshape %269 {layer = 0 : i64, phase = "backward"} : (tensor<1x256xf32>) -> tensor<256xf32>
    %271 = tfm.reshape %266 {layer = 0 : i64, phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %272, %273, %274 = tfm.layer_norm_backward %271, %69, %model_transformer_h_0_ln_2_weight, %model_transformer_h_0_ln_2_bias {layer = 0 : i64, phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    %275 = tfm.add %236, %272 {phase = "backward"} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %276 = tfm.reshape %275 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    %277 = tfm.permute %model_transformer_h_0_attn_c_proj_weight {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x64xf32>) -> tensor<64x64xf32>
    %278 = tfm.matmul %276, %277 {layer = 0 : i64, phase = "backward"} : (tensor<32x64xf32>, tensor<64x64xf32>) -> tensor<32x64xf32>
    %279 = tfm.permute %65 {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
    %280 = tfm.matmul %279, %276 {layer = 0 : i64, phase = "backward"} : (tensor<64x32xf32>, tensor<32x64xf32>) -> tensor<64x64xf32>
    %281 = tfm.reduce %276 {layer = 0 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x64xf32>) -> tensor<1x64xf32>
    %282 = tfm.reshape %281 {layer = 0 : i64, phase = "backward"} : (tensor<1x64xf32>) -> tensor<64xf32>
    %283 = tfm.reshape %278 {layer = 0 : i64, phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %284 = tfm.reshape %283 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    %285 = tfm.permute %284 {layer = 0 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    %286, %287, %288 = tfm.attention_backward %285, %58, %54, %56, %62 mask %61 {layer = 0 : i64, phase = "backward", scale = 2.500000e-01 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x1x16x16xf32>) -> (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>)
    %289 = tfm.permute %286 {layer = 0 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %290 = tfm.reshape %289 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %291 = tfm.permute %288 {layer = 0 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %292 = tfm.reshape %291 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %293 = tfm.permute %287 {layer = 0 : i64, phase = "backward", perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x16x16xf32>) -> tensor<2x16x4x16xf32>
    %294 = tfm.reshape %293 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x4x16xf32>) -> tensor<2x16x64xf32>
    %295 = tfm.concat %290, %294, %292 {layer = 0 : i64, phase = "backward", dim = 2 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x192xf32>
    %296 = tfm.reshape %295 {layer = 0 : i64, phase = "backward"} : (tensor<2x16x192xf32>) -> tensor<32x192xf32>
    %297 = tfm.permute %model_transformer_h_0_attn_c_attn_weight {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<64x192xf32>) -> tensor<192x64xf32>
    %298 = tfm.matmul %296, %297 {layer = 0 : i64, phase = "backward"} : (tensor<32x192xf32>, tensor<192x64xf32>) -> tensor<32x64xf32>
    %299 = tfm.permute %46 {layer = 0 : i64, phase = "backward", perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
    %300 = tfm.matmul %299, %296 {layer = 0 : i64, phase = "backward"} : (tensor<64x32xf32>, tensor<32x192xf32>) -> tensor<64x192xf32>
    %301 = tfm.reduce %296 {layer = 0 : i64, phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<32x192xf32>) -> tensor<1x192xf32>
    %302 = tfm.reshape %301 {layer = 0 : i64, phase = "backward"} : (tensor<1x192xf32>) -> tensor<192xf32>
    %303 = tfm.reshape %298 {layer = 0 : i64, phase = "backward"} : (tensor<32x64xf32>) -> tensor<2x16x64xf32>
    %304, %305, %306 = tfm.layer_norm_backward %303, %7, %model_transformer_h_0_ln_1_weight, %model_transformer_h_0_ln_1_bias {layer = 0 : i64, phase = "backward", eps = 1.000000e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    %307 = tfm.add %275, %304 {phase = "backward"} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    %308 = tfm.reduce %307 {phase = "backward", kind = #tfm<reduce_kind sum>, dims = array<i64: 0>, keepdim} : (tensor<2x16x64xf32>) -> tensor<1x16x64xf32>
    %309 = tfm.embedding_backward %308, %5 {phase = "backward", padding_idx = -1 : i64} : (tensor<1x16x64xf32>, tensor<1x16xi64>) -> tensor<64x64xf32>
    %310 = tfm.embedding_backward %307, %in0 {phase = "backward", padding_idx = -1 : i64} : (tensor<2x16x64xf32>, tensor<2x16xi64>) -> tensor<256x64xf32>
    %311 = tfm.add %310, %162 {phase = "backward"} : (tensor<256x64xf32>, tensor<256x64xf32>) -> tensor<256x64xf32>
    func.return %151, %311, %309, %305, %306, %300, %302, %280, %282, %273, %274, %268, %270, %241, %243, %234, %235, %229, %231, %209, %211, %202, %203, %197, %199, %170, %172, %164, %165 : tensor<f32>, tensor<256x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x192xf32>, tensor<192xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x192xf32>, tensor<192xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64x256xf32>, tensor<256xf32>, tensor<256x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>
  }
}
