// RUN: tandem-opt %s -p 'tile{target=tpuv4-like}' | filecheck %s --check-prefix=TPU
// RUN: tandem-opt %s -p 'tile{target=acceltran-server}' | filecheck %s --check-prefix=ACC
// RUN: tandem-opt %s -p 'tile{target=tpuv4-like verbose=true}' -o /dev/null 2>&1 | filecheck %s --check-prefix=TABLE

// One tile record per op, never one op per tile: the PE tile (and the single-core / single
// PE-group one), the on-chip blocks and DRAM loop order, and the predicted seconds against
// the default tile's, with the DRAM and buffer traffic. Attention ops get one record per GEMM
// of their materialised form.
//
// On the TPUv4-like chip 128 tokens against a 3072-wide weight run faster input-stationary
// (pe = [m_split, 1]): the activations stay in the systolic arrays and the weight streams.

// TPU:      builtin.module attributes {tile.gain = {{.*}} : f64}
// TPU:      %y = tfm.matmul %x, %w {tile = {pe = array<i64: {{[0-9]+}}, 1>, pe_single = array<i64: {{[0-9]+}}, {{[01]}}>, block = array<i64: 128, 3072, 768>, order = "mnk", seconds = 4.7{{[0-9]+}}e-06 : f64, default_seconds = 6.58{{[0-9]+}}e-06 : f64, dram_bytes = 5.70{{[0-9]+}}e+06 : f64, buffer_bytes = {{.*}} : f64, bound = "dram"}}
// TPU:      %o = tfm.attention %q, %k, %v {tile = {scores = {pe = {{.*}}, values = {pe = {{.*}}}, scale = 1.250000e-01 : f64}

// ACC:      %y = tfm.matmul %x, %w {tile = {pe = array<i64: 1, {{8|16|32}}>, pe_single = array<i64: 1, {{8|16|32}}>, block = array<i64: 128, 3072, 768>, order = "mnk", seconds = {{.*}}, default_seconds = {{.*}}, dram_bytes = 5.70{{[0-9]+}}e+06 : f64, buffer_bytes = {{.*}}, bound = "dram"}}

// TABLE:      tile on tpuv4-like: one row per distinct GEMM (default tile -> chosen tile)
// TABLE:      tfm.matmul {{.*}} 1  pe=({{[0-9]+}}, 1) block=128x3072x768 mnk  6.58 us  4.7{{[0-9]}} us  +2{{[0-9.]+}}%  dram
// TABLE:      total
func.func @forward(%x: tensor<128x768xf16> {tfm.input = "in0"}, %w: tensor<768x3072xf16> {tfm.param = "w"}, %q: tensor<1x12x128x64xf16> {tfm.input = "in1"}, %k: tensor<1x12x128x64xf16> {tfm.input = "in2"}, %v: tensor<1x12x128x64xf16> {tfm.input = "in3"}) -> (tensor<128x3072xf16> {tfm.output = "out0"}, tensor<1x12x128x64xf16> {tfm.output = "out1"}) {
  %y = tfm.matmul %x, %w : (tensor<128x768xf16>, tensor<768x3072xf16>) -> tensor<128x3072xf16>
  %o = tfm.attention %q, %k, %v {scale = 0.125 : f64} : (tensor<1x12x128x64xf16>, tensor<1x12x128x64xf16>, tensor<1x12x128x64xf16>) -> tensor<1x12x128x64xf16>
  func.return %y, %o : tensor<128x3072xf16>, tensor<1x12x128x64xf16>
}
