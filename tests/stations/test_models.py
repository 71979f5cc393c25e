"""Station, UnitSpec and Hospital are small frozen value objects."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch.model import Point, UnitType
from stations.models import Hospital, Station, UnitSpec


def test_points_and_immutability() -> None:
    s = Station("hq", "HQ", 105.8565, 21.0245, "ref", "placed by hand", is_hq=True)
    h = Hospital("osm-w1", "Bạch Mai", 105.841, 21.001, "emergency=yes")
    assert s.point == Point(105.8565, 21.0245) and h.point == Point(105.841, 21.001)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.lon = 0.0  # type: ignore[misc]
    u = UnitSpec("hq-A1", "hq", UnitType.AMBULANCE, 3, "24/7", 120.0)
    assert dataclasses.replace(u, crew_size=2).crew_size == 2 and u.crew_size == 3
