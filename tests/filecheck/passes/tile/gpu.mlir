// RUN: tandem-opt %s -p 'tile{target=a100-sxm4-40gb}' | filecheck %s

// On a GPU the record explains the GEMM model's own choice, like a cuBLAS heuristic: the CTA
// tile and split-K, the CTAs and waves on 108 SMs, and the tile and wave quantization
// (useful / computed outputs; busy / paid SM-waves). It changes no prediction.
// 2000 x 4000 outputs leave partial tiles (tile efficiency < 1).

// CHECK-NOT:  tile.gain
// CHECK:      %y = tfm.matmul %x, %w {tile = {cta = array<i64: [[TM:[0-9]+]], [[TN:[0-9]+]]>, split_k = {{[0-9]+}} : i64, ctas = {{[0-9]+}} : i64, waves = {{[0-9]+}} : i64, tile_efficiency = 9.{{[0-9]+}}e-01 : f64, wave_efficiency = {{.*}} : f64, dram_bytes = {{.*}} : f64, seconds = {{.*}} : f64, bound = "compute"}}
func.func @forward(%x: tensor<2000x1024xf16> {tfm.input = "in0"}, %w: tensor<1024x4000xf16> {tfm.param = "w"}) -> (tensor<2000x4000xf16> {tfm.output = "out0"}) {
  %y = tfm.matmul %x, %w : (tensor<2000x1024xf16>, tensor<1024x4000xf16>) -> tensor<2000x4000xf16>
  func.return %y : tensor<2000x4000xf16>
}
