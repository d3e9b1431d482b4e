"""Tiling: how one GEMM maps onto a chip's memory hierarchy (DRAM -> on-chip buffers -> PEs).

Per template, a cost function of a tile (the per-level roofline: max of compute cycles and of
each level's traffic over its bandwidth, under the buffers' capacities) and a mapper that
minimises it:

* ``blocking.py``: the DRAM loops (on-chip blocks and loop order) and their traffic, shared;
* ``acceltran.py``: (b, x, x) tiles over MAC lanes, AccelTran's three buffers;
* ``phaze.py``: weight-stationary systolic tensor cores, the global buffer;
* ``gpu.py``: the CTA tile and split-K the GPU GEMM model picks, with tile and wave
  quantization explained;
* ``tile.py``: ``Tile`` and ``TileCost``; ``record.py``: the ``tile`` attribute on the IR;
* ``mapper.py``: tiles for a tfm op (a matmul, or each GEMM of an attention op).

The cost model (``backends/cost/accel.py``) evaluates a recorded tile with the same functions,
so the mapper's choice and the simulator's prediction agree.

    from backends.tiling.mapper import choose_tiles
    choices = choose_tiles(matmul_op, load_target("acceltran-server"))
    choices[""].cost.seconds, choices[""].default.seconds
"""
