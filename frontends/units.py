r"""The parts of a traced stack of blocks that `frontends/stamp.py` copies: units of ops and
runs of arguments and results.

    lay = layout(ops, traced=4)   # lay.units[("F", 2)]: the ops of forward block 2's unit
    args = Labels(arg_attrs, (attrs.PARAM, attrs.BUFFER), re.compile(r"^h\.(\d+)\.(.+)$"), 4)

A unit starts at the first op of its `layer` and ends where the next unit starts (the last
one at its own last op), in each phase: forward, then backward in reverse layer order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xdsl.dialects.builtin import DictionaryAttr, StringAttr
from xdsl.ir import Operation

from ir import attrs

__all__ = ["BACKWARD", "FORWARD", "Labels", "Layout", "NotStampable", "layout", "name_in"]

FORWARD, BACKWARD = "F", "B"


class NotStampable(Exception):
    """The traced IR does not have the shape of identical blocks; trace the whole model."""


@dataclass
class Layout:
    """Where every op and value of the traced function sits."""

    traced: int
    units: dict[tuple[str, int], list[Operation]] = field(default_factory=dict)
    # op -> (phase, appearance index, position in unit)
    place: dict[Operation, tuple[str, int, int]] = field(default_factory=dict)
    outside: list[list[Operation]] = field(default_factory=list)  # prologue, middle, epilogue
    phases: tuple[str, ...] = (FORWARD,)

    def layer(self, phase: str, index: int) -> int:
        return index if phase == FORWARD else self.traced - 1 - index


def _label(op: Operation) -> tuple[str, int | None]:
    return (BACKWARD if attrs.phase_of(op) == attrs.BACKWARD else FORWARD, attrs.layer_of(op))


def layout(ops: list[Operation], traced: int) -> Layout:
    lay = Layout(traced)
    labels = [_label(op) for op in ops]
    first: dict[tuple[str, int], int] = {}
    last: dict[tuple[str, int], int] = {}
    for i, (phase, layer) in enumerate(labels):
        if layer is None:
            continue
        if not 0 <= layer < traced:
            raise NotStampable(f"an op of layer {layer} outside the traced stack")
        first.setdefault((phase, layer), i)
        last[(phase, layer)] = i
    lay.phases = (FORWARD, BACKWARD) if any(p == BACKWARD for p, _ in first) else (FORWARD,)
    bounds: list[tuple[int, int]] = []
    for phase in lay.phases:
        keys = [(phase, lay.layer(phase, i)) for i in range(traced)]
        if any(k not in first for k in keys):
            raise NotStampable(f"a traced block has no {phase} ops")
        starts = [first[k] for k in keys]
        if starts != sorted(starts):
            raise NotStampable(f"the {phase} ops do not run block after block")
        end = last[keys[-1]] + 1
        ends = [*starts[1:], end]
        for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
            lay.units[(phase, i)] = ops[s:e]
            for p, op in enumerate(ops[s:e]):
                lay.place[op] = (phase, i, p)
        bounds.append((starts[0], end))
    cuts = [0] + [b for pair in bounds for b in pair] + [len(ops)]
    if cuts != sorted(cuts):
        raise NotStampable("the forward and backward blocks overlap")
    lay.outside = [ops[cuts[i] : cuts[i + 1]] for i in range(0, len(cuts), 2)]
    for region in lay.outside:
        if any(attrs.layer_of(op) is not None for op in region):
            raise NotStampable("an op of a block lies outside the blocks")
    return lay


class Labels:
    """The labels of a function's arguments or results: outside ones, and per-block runs of
    the parameters (gradients) of blocks 0, 1, ..., each run with the same suffixes."""

    def __init__(
        self, entries: list[DictionaryAttr], keys: tuple[str, ...], prefix: re.Pattern, k: int
    ) -> None:
        self.entries, self.keys = entries, keys
        # per item: None (outside a block) or (layer, suffix)
        self.blocks: list[tuple[int, str] | None] = []
        for entry in entries:
            name = name_in(entry, keys)
            m = prefix.match(name) if name else None
            self.blocks.append((int(m.group(1)), m.group(2)) if m else None)
        for seg in self._segments():
            runs: list[tuple[int, list[str]]] = []
            for t in seg:
                layer, suffix = self.block(t)
                if not runs or runs[-1][0] != layer:
                    runs.append((layer, []))
                runs[-1][1].append(suffix)
            if [layer for layer, _ in runs] != list(range(k)) or any(
                suffixes != runs[0][1] for _, suffixes in runs
            ):
                raise NotStampable("the blocks' parameters differ")

    def block(self, t: int) -> tuple[int, str]:
        found = self.blocks[t]
        assert found is not None
        return found

    def _segments(self) -> list[list[int]]:
        """Maximal runs of consecutive block items."""
        segs: list[list[int]] = []
        for t, blk in enumerate(self.blocks):
            if blk is None:
                continue
            if segs and segs[-1][-1] == t - 1:
                segs[-1].append(t)
            else:
                segs.append([t])
        return segs

    def expanded(self, prefix: str, total: int) -> list[tuple[int, int | None, DictionaryAttr]]:
        """(traced item, stamped block or None, label) for every stamped item, in order: outside
        items once, each segment as `total` runs named `prefix.<block>.<suffix>`."""
        out: list[tuple[int, int | None, DictionaryAttr]] = []
        segs = {seg[0]: seg for seg in self._segments()}
        t = 0
        while t < len(self.blocks):
            if t not in segs:
                out.append((t, None, self.entries[t]))
                t += 1
                continue
            first_run = [u for u in segs[t] if self.block(u)[0] == 0]
            for layer in range(total):
                for u in first_run:
                    name = f"{prefix}.{layer}.{self.block(u)[1]}"
                    out.append((u, layer, renamed(self.entries[u], self.keys, name)))
            t = segs[t][-1] + 1
        return out


def name_in(entry: DictionaryAttr, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = entry.data.get(key)
        if isinstance(value, StringAttr):
            return value.data
    return None


def renamed(entry: DictionaryAttr, keys: tuple[str, ...], name: str) -> DictionaryAttr:
    data = dict(entry.data)
    for key in keys:
        if key in data:
            data[key] = StringAttr(name)
    return DictionaryAttr(data)
