"""A hand-made TravelTimes for dispatch tests: straight-line travel at a fixed speed.

The Red River (lon 105.86 .. 105.87) has no bridge here: points on the two banks cannot
reach each other. Points outside the box raise OutsideServiceArea, like the real router.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dispatch import events as ev
from dispatch.errors import ConcurrencyConflict
from dispatch.memory import InMemoryRepository
from dispatch.ports import SnappedPoint
from routing.errors import OutsideServiceArea

WEST, SOUTH, EAST, NORTH = 105.70, 20.90, 106.00, 21.15
RIVER_LON = 105.865
SPEED_MPS = 8.0
WALK_MPS = 1.0


@dataclass(frozen=True)
class FakeSnap:
    lon: float
    lat: float
    offroad_m: float
    offroad_s: float


def metres(a_lon: float, a_lat: float, b_lon: float, b_lat: float) -> float:
    k = math.cos(math.radians((a_lat + b_lat) / 2))
    return 111_320.0 * math.hypot((b_lon - a_lon) * k, b_lat - a_lat)


class FakeTravel:
    """Travel time = straight metres / 8 m/s + the off-road walk at the destination.

    `alley_m`: off-road distance attached to every snapped point (walking leg).
    `calls` counts ETA queries (to check batching).
    """

    def __init__(self, *, alley_m: float = 0.0) -> None:
        self.alley_m = alley_m
        self.calls = 0

    def snap(self, lon: float, lat: float) -> FakeSnap:
        if not (WEST <= lon <= EAST and SOUTH <= lat <= NORTH):
            raise OutsideServiceArea(lon, lat, 9999.0, 500.0)
        return FakeSnap(lon, lat, self.alley_m, self.alley_m / WALK_MPS)

    def one(self, a: SnappedPoint, b: SnappedPoint, at_s: float) -> float | None:
        if (a.lon < RIVER_LON) != (b.lon < RIVER_LON):
            return None
        peak = 1.5 if 11 <= ((at_s / 3600 + 7) % 24) < 12 else 1.0  # a silly "peak" hour
        return peak * metres(a.lon, a.lat, b.lon, b.lat) / SPEED_MPS + b.offroad_s

    def eta_many_to_one(
        self, origins: Sequence[SnappedPoint], dest: SnappedPoint, *, at_s: float
    ) -> list[float | None]:
        self.calls += 1
        return [self.one(o, dest, at_s) for o in origins]

    def eta_one_to_many(
        self, origin: SnappedPoint, dests: Sequence[SnappedPoint], *, at_s: float
    ) -> list[float | None]:
        self.calls += 1
        return [self.one(origin, d, at_s) for d in dests]


class FlakyRepository(InMemoryRepository):
    """Fails the next append (as a lost race or a dropped database would)."""

    fail_next = False

    def append(
        self,
        events: Sequence[ev.Event],
        *,
        expected_versions: Mapping[str, int],
        idempotency_key: str | None = None,
    ) -> list[ev.StoredEvent]:
        if self.fail_next:
            self.fail_next = False
            raise ConcurrencyConflict("simulated")
        return super().append(
            events, expected_versions=expected_versions, idempotency_key=idempotency_key
        )
