"""FLOP constants that are counted or estimated, not fitted to measurements.

Matmul and attention FLOPs follow `torch.utils.flop_counter.FlopCounterMode` exactly (2 FLOPs
per multiply-add; tests check it). Everything else an op computes is counted here per output
element, each constant with where it comes from; "estimate" marks a count that depends on how
a kernel is written. Fitted constants (GPU efficiencies, alignment penalties) live in the
target TOML files instead.
"""

from __future__ import annotations

# ---- counted from the op's definition (a transcendental or a division counts as one) ----
ADD = 1  # x + y
SIGMOID = 3  # exp(-x), 1 + e, 1 / d
SILU = 4  # sigmoid (3) and the product x * s
SILU_BACKWARD = 6  # g * s * (1 + x * (1 - s)): sigmoid (3) + 3 more
DROPOUT = 2  # compare a random draw with p, multiply by mask / (1 - p)
SOFTMAX = 5  # max, subtract, exp, sum, divide: per element of the softmax axis
LOG_SOFTMAX = 5  # max, subtract, exp, sum, log-and-subtract
SOFTMAX_BACKWARD = 4  # g * y, row sum, subtract, multiply
RMS_NORM = 5  # square, mean, rsqrt (per row, amortised), scale, weight
CROSS_ENTROPY = 6  # log-softmax (5) and the label gather/negate (1)
CONVERT = 0  # a dtype cast moves data but does no arithmetic
COPY = 0  # concat, pad
PRUNE = 2  # DynaProp: |x| compared with the threshold, then a select

# ---- estimates (how a kernel is written changes these) -------------------------------------
# tanh-GELU 0.5x(1 + tanh(c(x + 0.044715x^3))): 8 operations with tanh as one; exact GELU
# (erf) is counted the same.
GELU = 8
# d/dx of GELU: the forward's terms again plus the sech^2 product.
GELU_BACKWARD = 12
# mean, centre, square, variance, rsqrt (amortised), normalise, scale, shift.
LAYER_NORM = 8
# recomputed statistics, dx from the three reductions, dw and db accumulations.
LAYER_NORM_BACKWARD = 16

# ---- used by the cost models ----------------------------------------------------------------
# A memory-bound op priced only by its element count (no IR op at hand): estimate.
VECTOR_OP = 5
# FlashAttention backward runs 5 GEMMs where the forward runs 2: 2.5x its FLOPs
# (Dao et al., "FlashAttention", 2022; FlopCounterMode's sdpa backward formula agrees).
ATTENTION_BACKWARD_FACTOR = 2.5
