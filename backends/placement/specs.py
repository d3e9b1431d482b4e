"""How a value is laid out over the ranks of a parallel axis, and how layouts map through views.

An axis is `"tp"` (tensor-parallel ranks) or `"batch"` (the batch cut into microbatches: used
only to cost a template at another microbatch size). A value is whole on every rank
(replicated, no `Split`), or split along one dim, or (tensor parallel only) a partial sum
that an all-reduce completes:

    Spec(tp=Split(1, blocks=3))   # dim 1 in 3 blocks, rank r holds the r-th part of each
    Spec(partial="sum")           # each rank holds a summand

`map_reshape` and friends say where a split dim goes through a view, or None when the layout
cannot follow (the caller then gathers first).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

AXES = ("tp", "batch")


@dataclass(frozen=True)
class Split:
    """A dim split over an axis's ranks, in `blocks` equal blocks."""

    dim: int
    blocks: int = 1


@dataclass(frozen=True)
class Spec:
    tp: Split | None = None
    batch: Split | None = None
    partial: str | None = None  # tensor parallel: "sum", "mean", "max" or "min" of all ranks

    def get(self, axis: str) -> Split | None:
        return self.tp if axis == "tp" else self.batch

    def put(self, axis: str, split: Split | None) -> Spec:
        return replace(self, tp=split) if axis == "tp" else replace(self, batch=split)


REPLICATED = Spec()


def local_shape(shape: tuple[int, ...], spec: Spec, sizes: dict[str, int]) -> tuple[int, ...]:
    """Each rank's shape of a value of global `shape` laid out as `spec`."""
    out = list(shape)
    for axis in AXES:
        s = spec.get(axis)
        if s is not None:
            out[s.dim] //= sizes[axis]
    return tuple(out)


def divisible(shape: tuple[int, ...], split: Split, ranks: int) -> bool:
    """Can `shape` be split as `split` over `ranks` ranks (every block cut evenly)?"""
    return (
        0 <= split.dim < len(shape)
        and shape[split.dim] > 1
        and shape[split.dim] % (ranks * split.blocks) == 0
    )


def _groups(a: tuple[int, ...], b: tuple[int, ...]) -> list[tuple[list[int], list[int]]] | None:
    """Dims of `a` and `b` (size-1 dims left out) grouped by equal products, in order."""
    ia = [i for i, n in enumerate(a) if n != 1]
    ib = [j for j, n in enumerate(b) if n != 1]
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(ia) and j < len(ib):
        ga, gb = [ia[i]], [ib[j]]
        pa, pb = a[ia[i]], b[ib[j]]
        i, j = i + 1, j + 1
        while pa != pb:
            if pa < pb:
                if i >= len(ia):
                    return None
                ga.append(ia[i])
                pa *= a[ia[i]]
                i += 1
            else:
                if j >= len(ib):
                    return None
                gb.append(ib[j])
                pb *= b[ib[j]]
                j += 1
        groups.append((ga, gb))
    return groups if i == len(ia) and j == len(ib) else None


def map_reshape(
    src: tuple[int, ...], dst: tuple[int, ...], split: Split, ranks: int
) -> Split | None:
    """Where `split` of a `src`-shaped value lands after a reshape to `dst` (None: nowhere).

    The split dim must be the outermost of its group of merged/split dims, and the outermost
    dim of the matching group must hold every block of every rank evenly.
    """
    for ga, gb in _groups(src, dst) or []:
        if split.dim not in ga:
            continue
        if ga[0] != split.dim or dst[gb[0]] % (ranks * split.blocks):
            return None
        return Split(gb[0], split.blocks)
    return None


def map_permute(perm: tuple[int, ...], split: Split) -> Split:
    return Split(perm.index(split.dim), split.blocks)


def map_broadcast(src: tuple[int, ...], dst: tuple[int, ...], split: Split) -> Split | None:
    d = split.dim + len(dst) - len(src)
    return Split(d, split.blocks) if dst[d] == src[split.dim] else None


def map_slice(
    shape: tuple[int, ...], split: Split, bounds: tuple[int, int, int, int], ranks: int
) -> tuple[Split, int, int] | None:
    """A slice on the split dim: (split of the result, local start, local end), or None.

    It keeps the layout when it takes whole blocks (the q, k, v thirds of a fused projection).
    """
    dim, start, end, step = bounds
    n = shape[split.dim]
    block = n // split.blocks
    if step != 1 or start % block or end % block or end <= start:
        return None
    return Split(split.dim, (end - start) // block), start // ranks, end // ranks
