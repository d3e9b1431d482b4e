"""ATen op -> tfm op translation, one module per op family, all registered in `HANDLERS`
(fx node target -> handler; see `registry.handles`). Targets without a handler go to
`generic.generic` (`tfm.generic`).

Each handler gets the `Importer` (`importer.py`) and the fx node and returns the SSA value
(or a tuple of values for multi-output ATen ops). Views and copies return their input.

    importer.py      Importer: emission, node -> value map, layer and phase attribution
    registry.py      HANDLERS, @handles, arg()
    views.py         identity/copies, reshape, permute, transpose, expand, slice, select,
                     split, cat, pad, getitem
    linalg.py        mm, bmm, matmul, addmm, linear
    elementwise.py   binary, unary, comparison, where, masked_fill, clamp, constants, arange
    reductions.py    sum, mean, amax, amin, any, all, prod
    norms.py         softmax, layer norm, RMS norm, their backward, GELU/SiLU backward
    attention.py     scaled dot-product attention and its fused kernels
    embedding.py     embedding and its backward
    losses.py        nll, cross-entropy, dropout
    higher_order.py  inlined grad-mode and autocast regions
    generic.py       the tfm.generic fallback
"""

from frontends.aten import (  # noqa: F401  (imported for their @handles registrations)
    attention,
    elementwise,
    embedding,
    higher_order,
    linalg,
    losses,
    norms,
    reductions,
    views,
)
from frontends.aten.registry import HANDLERS, handles

__all__ = ["HANDLERS", "handles"]
