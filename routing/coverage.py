"""Multi-source travel times to every node: one scipy Dijkstra from a virtual super-source."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from routing.artifact import Array

_EPS_S = 1e-9  # scipy drops explicit zero weights; a seed at zero cost keeps a tiny one


class CoverageGraph:
    """The graph as CSR (parallel arcs reduced to the fastest, self-loops dropped) per band."""

    def __init__(self, tail: Array, head: Array, node_count: int) -> None:
        self.n = node_count
        keep = np.nonzero(tail != head)[0]
        key = tail[keep].astype(np.int64) * node_count + head[keep]
        order = np.argsort(key, kind="stable")
        self._keep = keep[order]
        uniq, self._start = np.unique(key[order], return_index=True)
        self._indices = (uniq % node_count).astype(np.int32)
        self._indptr = np.searchsorted(uniq // node_count, np.arange(node_count + 1)).astype(
            np.int32
        )
        self._data: dict[str, Array] = {}

    def _band_data(self, band: str, weights_ms: Array) -> Array:
        if band not in self._data:
            secs = weights_ms[self._keep].astype(np.float64) / 1000.0
            self._data[band] = np.minimum.reduceat(secs, self._start)
        return self._data[band]

    def times(self, band: str, weights_ms: Array, seeds: Sequence[tuple[int, float]]) -> Array:
        """Seconds to every node from the best seed (node, seconds already spent); inf if none."""
        if not seeds:
            return np.full(self.n, np.inf)
        best: dict[int, float] = {}
        for node, secs in seeds:
            best[node] = min(secs, best.get(node, np.inf))
        nodes = np.array(sorted(best), dtype=np.int32)
        costs = np.maximum(np.array([best[int(n)] for n in nodes]), _EPS_S)
        data = np.concatenate([self._band_data(band, weights_ms), costs])
        indices = np.concatenate([self._indices, nodes])
        indptr = np.concatenate([self._indptr, [self._indptr[-1] + nodes.size]]).astype(np.int32)
        graph = sp.csr_matrix((data, indices, indptr), shape=(self.n + 1, self.n + 1))
        dist = dijkstra(graph, directed=True, indices=self.n)
        return np.asarray(dist[: self.n], dtype=np.float64)
