"""Where points meet the road network for the policy: memoised snaps, and the hospitals
(which do not move) placed once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dispatch.model import Point
from dispatch.ports import SnappedPoint, TravelTimes, TravelTimesError
from stations.models import Hospital


@dataclass(slots=True)
class SnapCache:
    """Memoises `TravelTimes.snap` per exact position (stations and hospitals repeat)."""

    travel: TravelTimes
    max_entries: int = 20_000
    _memo: dict[tuple[float, float], SnappedPoint] = field(default_factory=dict)

    def snap(self, point: Point) -> SnappedPoint:
        key = (point.lon, point.lat)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= self.max_entries:
                self._memo.clear()
            hit = self._memo[key] = self.travel.snap(point.lon, point.lat)
        return hit

    def snap_all(self, points: Sequence[Point]) -> list[SnappedPoint | Exception]:
        """Snap many points, in one vectorised call for the misses when the travel-times
        object offers `snap_many`; a point that cannot be placed gets its error instead."""
        memo = self._memo
        hits: list[SnappedPoint | Exception] = []
        for point in points:  # the usual case (stations, hospitals, known pins): all cached
            hit = memo.get((point.lon, point.lat))
            if hit is None:
                break
            hits.append(hit)
        else:
            return hits
        misses = sorted({(p.lon, p.lat) for p in points if (p.lon, p.lat) not in self._memo})
        snap_many = getattr(self.travel, "snap_many", None)
        if len(misses) > 1 and snap_many is not None:
            if len(self._memo) + len(misses) >= self.max_entries:
                self._memo.clear()
            try:
                found = snap_many([m[0] for m in misses], [m[1] for m in misses])
                self._memo.update(zip(misses, found, strict=True))
            except TravelTimesError:
                pass  # one is outside: fall back to one by one to tell which
        out: list[SnappedPoint | Exception] = []
        for point in points:
            try:
                out.append(self.snap(point))
            except TravelTimesError as exc:
                out.append(exc)
        return out


class HospitalSet:
    """The hospitals patients may be taken to, in id order, placed on the road network once
    (hospitals do not move). Every ranking then asks the travel times for the very same
    destination objects, which a router can keep pinned between queries."""

    def __init__(self, hospitals: Iterable[Hospital]) -> None:
        self.hospitals = tuple(sorted(hospitals, key=lambda h: h.hospital_id))
        self._points = [h.point for h in self.hospitals]
        self._placed: tuple[SnapCache, list[Hospital], list[SnappedPoint], list[Hospital]] | None
        self._placed = None

    def placed(self, snaps: SnapCache) -> tuple[list[Hospital], list[SnappedPoint], list[Hospital]]:
        """(hospitals on the network, their snaps, hospitals that cannot be placed), id order."""
        if self._placed is None or self._placed[0] is not snaps:
            placed: list[Hospital] = []
            dests: list[SnappedPoint] = []
            lost: list[Hospital] = []
            for hospital, snap in zip(self.hospitals, snaps.snap_all(self._points), strict=True):
                if isinstance(snap, Exception):
                    lost.append(hospital)  # listed as unreachable, not dropped
                else:
                    dests.append(snap)
                    placed.append(hospital)
            self._placed = (snaps, placed, dests, lost)
        return self._placed[1], self._placed[2], self._placed[3]
