"""Tables of travel times from every node to a fixed set of destinations, for repeated sets.

A set of destinations asked for again and again (the hospitals, from every scene) gets one
shortest-path tree per destination and band: a reverse Dijkstra over the whole graph from a
virtual node that reaches the destination's entry nodes at their entry costs. A query is then
a row lookup per exit option of the origin instead of a CCH search. Weights are the same
integer milliseconds as the CCH metric, and sums of integers are exact in float64, so a table
gives exactly the distances the CCH query would (the tests compare both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from routing.artifact import Array
from routing.legs import Option
from routing.pinned import PinnedSet
from routing.snapping import Snap

_EXACT_F32 = float(2**24)  # integers up to this are exact in float32


class TargetTables:
    """Builds `PinnedSet` tables on the reversed graph of each band (built on first need)."""

    def __init__(self, tail: Array, head: Array, node_count: int, *, min_uses: int = 500) -> None:
        self.n = node_count
        self.min_uses = min_uses
        keep = np.nonzero(tail != head)[0]  # self-loops never shorten a path
        # reversed arcs (head -> tail), parallel ones reduced to the fastest
        key = head[keep].astype(np.int64) * node_count + tail[keep]
        order = np.argsort(key, kind="stable")
        self._keep = keep[order]
        uniq, self._start = np.unique(key[order], return_index=True)
        self._rows = uniq // node_count
        self._cols = uniq % node_count

    def table(self, targets: PinnedSet, weights_ms: Array) -> Array | None:
        """The (nodes, targets) table of `targets` for this band's weights, once the set has
        been asked for `min_uses` times (built then); None before."""
        if targets.table is None:
            targets.uses += 1
            if targets.uses >= self.min_uses:
                targets.table = self._build(targets, weights_ms)
        return targets.table

    def _build(self, targets: PinnedSet, weights_ms: Array) -> Array:
        n, k = self.n, len(targets.snaps)
        data = np.minimum.reduceat(weights_ms[self._keep].astype(np.float64), self._start)
        entry: dict[tuple[int, int], int] = {}
        owner = np.repeat(np.arange(k), np.diff(np.append(targets.starts, len(targets.pins))))
        for j, node, ms in zip(owner.tolist(), targets.pins, targets.extra, strict=True):
            cur = entry.get((n + j, node))
            entry[(n + j, node)] = ms if cur is None else min(cur, ms)
        # +1 ms on the virtual arcs: scipy drops explicit zero weights; subtracted below
        rows = np.concatenate([self._rows, np.array([r for r, _ in entry], dtype=np.int64)])
        cols = np.concatenate([self._cols, np.array([c for _, c in entry], dtype=np.int64)])
        vals = np.concatenate([data, np.array(list(entry.values()), dtype=np.float64) + 1.0])
        graph = sp.csr_matrix((vals, (rows, cols)), shape=(n + k, n + k))
        dist = dijkstra(graph, directed=True, indices=np.arange(n, n + k))[:, :n] - 1.0
        table = np.ascontiguousarray(dist.T)
        finite = table[np.isfinite(table)]
        if finite.size and finite.max() >= _EXACT_F32:
            return table  # too long for float32 to hold exactly: keep float64
        return table.astype(np.float32)


class SourceTrees:
    """Travel times from one origin to every node, for origins asked for again and again
    (ambulances at their stations): one forward Dijkstra per origin and band, from a virtual
    node that reaches the origin's exit nodes at their exit costs. Keyed by the identity of
    the `Snap` (kept alive by the entry); at most `max_trees` are kept (memory).

    With `reverse`, the same for destinations (crews driving home to their station): a tree
    on the reversed graph from the destination's entry nodes, giving the time from every
    node to the destination."""

    def __init__(
        self,
        tail: Array,
        head: Array,
        node_count: int,
        *,
        min_uses: int = 300,
        max_trees: int = 400,
        reverse: bool = False,
    ) -> None:
        self.n = node_count
        self.min_uses, self.max_trees = min_uses, max_trees
        keep = np.nonzero(tail != head)[0]
        if reverse:
            tail, head = head, tail
        key = tail[keep].astype(np.int64) * node_count + head[keep]
        order = np.argsort(key, kind="stable")
        self._keep = keep[order]
        uniq, self._start = np.unique(key[order], return_index=True)
        self._rows = uniq // node_count
        self._cols = uniq % node_count
        self._entries: dict[tuple[int, int], list[Any]] = {}  # (band, id) -> [snap, uses, tree]
        self.built = 0

    def tree(
        self,
        band: int,
        snap: Snap,
        exits: Callable[[Snap, Array], list[Option]],
        weights_ms: Array,
    ) -> Array | None:
        """The tree of `snap` in `band` once asked for `min_uses` times (built then from
        `exits(snap, weights_ms)`, the snap's exit options, or its entry options when
        `reverse`); None before."""
        entry = self._entries.get((band, id(snap)))
        if entry is None:
            if type(snap) is not Snap:
                return None
            if len(self._entries) >= 50 * self.max_trees:  # forget the counts of rare origins
                self._entries = {k: e for k, e in self._entries.items() if e[2] is not None}
            entry = self._entries[(band, id(snap))] = [snap, 0, None]
        if entry[2] is None:
            entry[1] += 1
            if entry[1] >= self.min_uses and self.built < self.max_trees:
                entry[2] = self._build(exits(snap, weights_ms), weights_ms)
                self.built += 1
        return entry[2]  # type: ignore[no-any-return]

    def _build(self, exits: list[Option], weights_ms: Array) -> Array:
        n = self.n
        data = np.minimum.reduceat(weights_ms[self._keep].astype(np.float64), self._start)
        first: dict[int, int] = {}
        for node, ms in exits:
            first[node] = min(ms, first.get(node, ms))
        rows = np.concatenate([self._rows, np.full(len(first), n, dtype=np.int64)])
        cols = np.concatenate([self._cols, np.array(list(first), dtype=np.int64)])
        vals = np.concatenate([data, np.array(list(first.values()), dtype=np.float64) + 1.0])
        graph = sp.csr_matrix((vals, (rows, cols)), shape=(n + 1, n + 1))
        dist: Array = dijkstra(graph, directed=True, indices=n)[:n] - 1.0
        finite = dist[np.isfinite(dist)]
        if finite.size and finite.max() >= _EXACT_F32:
            return dist
        return dist.astype(np.float32)
