"""Endpoint sets pinned in RoutingKit's many-to-one / one-to-many queries, reused across queries.

Callers ask again and again for the same destinations (the hospitals from every scene) or
origins (ambulances at their stations). A `PinnedSet` holds such a set's graph entry/exit
options, built once per band, and the query object keeps it pinned until another set is asked
for, so a repeated set costs neither the Python walk over its snaps nor a repin. Sets are
keyed by the identity of the `Snap` objects (frozen); the cache keeps them alive, so an id is
never reused while its entry exists. Results are exactly those of the unpinned path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import cast

import numpy as np

from routing.artifact import Array
from routing.legs import Option
from routing.snapping import PointLike, Snap


@dataclass(eq=False)
class PinnedSet:
    """Snaps and their options flattened into pins: snap k owns pins first[k]..first[k+1]-1.

    `uses` and `table` belong to `routing.trees.TargetTables` (a set of one band only)."""

    snaps: tuple[Snap, ...]
    pins: list[int]
    first: list[int]  # first pin of each snap
    extra: list[int]  # milliseconds between each pin node and its snap
    by_edge: dict[int, list[int]]  # edge -> snaps on it (for the same-road shortcut)
    uses: int = 0
    table: Array | None = field(default=None, repr=False)

    @classmethod
    def build(cls, snaps: Sequence[Snap], options: Callable[[Snap], list[Option]]) -> PinnedSet:
        pins: list[int] = []
        extra: list[int] = []
        first: list[int] = []
        by_edge: dict[int, list[int]] = {}
        for k, snap in enumerate(snaps):
            first.append(len(pins))
            for node, ms in options(snap):
                pins.append(node)
                extra.append(ms)
            by_edge.setdefault(snap.edge, []).append(k)
        return cls(snaps=tuple(snaps), pins=pins, first=first, extra=extra, by_edge=by_edge)

    # arrays made on first use: a one-snap set (the most common) never needs them
    @cached_property
    def starts(self) -> Array:
        return np.array(self.first, dtype=np.intp)

    @cached_property
    def extra_ms(self) -> Array:
        return np.array(self.extra, dtype=np.float64)

    @cached_property
    def offroad_s(self) -> Array:
        return np.array([s.offroad_s for s in self.snaps], dtype=np.float64)

    def best_from_table(self, table: Array, leave: list[Option]) -> Array:
        """Like `best_ms`, from a `TargetTables` table and the origin's exit options."""
        rows = table[[node for node, _ in leave]].astype(np.float64)
        rows += np.array([ms for _, ms in leave], dtype=np.float64)[:, None]
        best = rows.min(axis=0)
        best[np.isinf(best)] = np.nan
        return best  # type: ignore[no-any-return]

    def best_ms(self, dist: list[int | None]) -> Array:
        """Per snap, the least (distance to its pin + its extra); NaN where none is reachable."""
        total = np.array(dist, dtype=np.float64) + self.extra_ms  # None -> NaN
        return np.fmin.reduceat(total, self.starts)


class PinCache:
    """`PinnedSet`s by the identity of their snaps (one cache per band); cleared when full."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._sets: dict[tuple[int, ...], PinnedSet] = {}

    def get(
        self, snaps: Sequence[PointLike], options: Callable[[Snap], list[Option]]
    ) -> PinnedSet | None:
        """The set for exactly these `Snap` objects (built on first use); None if any item is
        not a `Snap` (it could change; the caller takes the unpinned path)."""
        key = tuple(map(id, snaps))
        found = self._sets.get(key)
        if found is not None:
            return found
        if not all(type(s) is Snap for s in snaps):
            return None
        if len(self._sets) >= self.max_entries:
            self._sets.clear()
        found = self._sets[key] = PinnedSet.build(cast(Sequence[Snap], snaps), options)
        return found
