"""Travel-time adapters for the simulator: an exact memo in front of the router, free-flow
travel (congestion off) and a fixed travel time for degenerate what-if and check scenarios.

All satisfy `dispatch.ports.TravelTimes`, so the shared policy cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from dispatch.ports import SnappedPoint, TravelTimes

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class FixedPoint:
    """A point that needs no road graph (fixed-travel scenarios)."""

    lon: float
    lat: float
    offroad_m: float = 0.0
    offroad_s: float = 0.0


class FixedTravelTimes:
    """Every trip takes `travel_s` seconds, whatever the places and the time of day."""

    def __init__(self, travel_s: float) -> None:
        self.travel_s = float(travel_s)

    def snap(self, lon: float, lat: float) -> FixedPoint:
        return FixedPoint(lon, lat)

    def eta_many_to_one(
        self, origins: Sequence[SnappedPoint], dest: SnappedPoint, *, at_s: float
    ) -> list[float | None]:
        return [self.travel_s] * len(origins)

    def eta_one_to_many(
        self, origin: SnappedPoint, dests: Sequence[SnappedPoint], *, at_s: float
    ) -> list[float | None]:
        return [self.travel_s] * len(dests)


class MemoTravelTimes:
    """Remembers snaps and travel times of an inner `TravelTimes`; answers are unchanged.

    Exact because the inner engine's times depend on the departure time only through
    `time_key(at_s)` (the router's congestion band), and a trip's time does not depend on the
    other trips asked in the same batch. `free_flow_at_s`, when set, replaces every departure
    time (congestion off: the caller passes a time whose band has no congestion).
    `max_entries` bounds memory; when full, the memo starts afresh.
    """

    def __init__(
        self,
        inner: TravelTimes,
        *,
        time_key: Callable[[float], Hashable],
        free_flow_at_s: float | None = None,
        max_entries: int = 1_000_000,
    ) -> None:
        self.inner = inner
        self.time_key = time_key
        self.free_flow_at_s = free_flow_at_s
        self.max_entries = max_entries
        self._snaps: dict[tuple[float, float], SnappedPoint] = {}
        self._to: dict[tuple[SnappedPoint, Hashable], dict[SnappedPoint, float | None]] = {}
        self._from: dict[tuple[SnappedPoint, Hashable], dict[Any, Any]] = {}
        self.entries = 0
        self.hits = 0
        self.misses = 0

    def preload(self, lonlat: Sequence[Sequence[float]], snaps: Sequence[SnappedPoint]) -> None:
        """Remember snaps computed in bulk (e.g. every call place, once per world)."""
        for key, snapped in zip(lonlat, snaps, strict=True):
            self._snaps[(float(key[0]), float(key[1]))] = snapped

    def knows(self, lon: float, lat: float) -> bool:
        """Whether this position's snap is remembered."""
        return (lon, lat) in self._snaps

    def snap(self, lon: float, lat: float) -> SnappedPoint:
        key = (lon, lat)
        found = self._snaps.get(key)
        if found is None:
            found = self._snaps[key] = self.inner.snap(lon, lat)
        return found

    def eta_many_to_one(
        self, origins: Sequence[SnappedPoint], dest: SnappedPoint, *, at_s: float
    ) -> list[float | None]:
        at_s = at_s if self.free_flow_at_s is None else self.free_flow_at_s
        table = self._table(self._to, dest, at_s)
        get = table.get
        out = [get(o, _MISSING) for o in origins]
        if _MISSING not in out:
            self.hits += len(origins)
            return out
        missing = [i for i, value in enumerate(out) if value is _MISSING]
        asked = list(dict.fromkeys(origins[i] for i in missing))  # units share stations
        found = dict(zip(asked, self.inner.eta_many_to_one(asked, dest, at_s=at_s), strict=True))
        table.update(found)
        for i in missing:
            out[i] = found[origins[i]]
        self._count(len(asked))
        self.hits += len(origins) - len(missing)
        return out

    def eta_one_to_many(
        self, origin: SnappedPoint, dests: Sequence[SnappedPoint], *, at_s: float
    ) -> list[float | None]:
        # Remembered per request: the policy asks for the same destination objects (its
        # hospitals) every time, so one lookup by their identities answers the whole list.
        # The entry keeps `dests` alive, so their ids cannot be reused while it exists.
        at_s = at_s if self.free_flow_at_s is None else self.free_flow_at_s
        table = self._table(self._from, origin, at_s)
        key = tuple(map(id, dests))
        found = table.get(key)
        if found is None:
            found = table[key] = (list(dests), self.inner.eta_one_to_many(origin, dests, at_s=at_s))
            self._count(len(dests))
        else:
            self.hits += len(dests)
        return list(found[1])

    def _table(
        self, tables: dict[tuple[SnappedPoint, Hashable], dict[Any, Any]], point: Any, at_s: float
    ) -> dict[Any, Any]:
        key = (point, self.time_key(at_s))
        table = tables.get(key)
        if table is None:
            table = tables[key] = {}
        return table

    def _count(self, added: int) -> None:
        self.misses += added
        self.entries += added
        if self.entries > self.max_entries:
            self._to.clear()
            self._from.clear()
            self.entries = 0
