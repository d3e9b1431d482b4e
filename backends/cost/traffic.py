"""Minimal main-memory traffic of memory-bound ops, per op kind.

op_bytes("softmax", 1024, "f16")   # 4096.0: one fp16 read and one write per value
"""

from __future__ import annotations

from ir.dtypes import nbytes_of

# kind -> (tensor reads, tensor writes, extra bytes per element); the extra is the 1-byte
# dropout mask. Unknown kinds are treated as "elementwise" (one read, one write).
OP_TRAFFIC: dict[str, tuple[int, int, float]] = {
    "elementwise": (1, 1, 0.0),
    "softmax": (1, 1, 0.0),
    "layernorm": (1, 1, 0.0),
    "gelu": (1, 1, 0.0),
    "relu": (1, 1, 0.0),
    "tanh": (1, 1, 0.0),
    "dropout": (1, 1, 1.0),
    "bias_dropout_add": (2, 1, 1.0),
    "add": (2, 1, 0.0),
    "copy": (1, 1, 0.0),
}


def op_bytes(kind: str, elements: int, dtype: str = "f16") -> float:
    """Minimal main-memory traffic of a memory-bound op over ``elements`` values."""
    reads, writes, extra = OP_TRAFFIC.get(kind, OP_TRAFFIC["elementwise"])
    return float(elements) * ((reads + writes) * nbytes_of(dtype) + extra)
