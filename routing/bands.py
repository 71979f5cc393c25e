"""Per time band: the CCH metric and RoutingKit's query objects bound to it (one set per thread)."""

from __future__ import annotations

import threading
from typing import Any

import routingkit_cch as rk

from routing.artifact import Array
from routing.legs import Option
from routing.pinned import PinnedSet


class BandQueries:
    """The CCH metric of one time band and the query objects bound to it.

    RoutingKit's query objects are bound to the thread that made them (pyo3 `unsendable`),
    so each thread gets its own; the metric is shared.
    """

    def __init__(self, cch: rk.CCH, weights: Array) -> None:
        self.metric = rk.CCHMetric(cch, weights.tolist())
        self._local = threading.local()
        self._queries()

    def _queries(self) -> threading.local:
        local = self._local
        if not hasattr(local, "query"):
            local.query = rk.CCHQuery(self.metric)
            local.many_to_one = rk.CCHManyToOne(self.metric, [0])
            local.one_to_many = rk.CCHOneToMany(self.metric, [0])
            local.sources = local.targets = None  # the PinnedSet pinned in each, if any
        return local

    def to_one(self, sources: PinnedSet, enter: list[Option]) -> list[int | None]:
        """Distances from each pinned source to `enter`; repins only for another set."""
        local = self._queries()
        q = local.many_to_one
        if local.sources is not sources:
            local.sources = None  # a failed repin must not leave a stale claim
            q.repin_sources(sources.pins)
            local.sources = sources
        return q.distances_to_multi(enter)  # type: ignore[no-any-return]

    def from_one(self, targets: PinnedSet, leave: list[Option]) -> list[int | None]:
        """Distances from `leave` to each pinned target; repins only for another set."""
        local = self._queries()
        q = local.one_to_many
        if local.targets is not targets:
            local.targets = None
            q.repin_targets(targets.pins)
            local.targets = targets
        return q.distances_from_multi(leave)  # type: ignore[no-any-return]

    @property
    def query(self) -> Any:
        return self._queries().query

    @property
    def many_to_one(self) -> Any:
        return self._queries().many_to_one

    @property
    def one_to_many(self) -> Any:
        return self._queries().one_to_many
