"""Spatial history queries: calls within a radius and time window, call counts per district."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch.db.engine import EARTH_RADIUS_M, haversine_m
from dispatch.repository import SqlRepository
from tests.dispatch.persistence_driver import call_created

T0 = 1_700_000_000.0
CENTRE = (105.85, 21.03)
LANDMARKS = {  # checked by hand against the Nominatim polygons
    "Hoàn Kiếm": (105.8523, 21.0287),  # Hoàn Kiếm lake
    "Hà Đông": (105.7765, 20.9714),
    "Cầu Giấy": (105.7990, 21.0330),
    "Long Biên": (105.8940, 21.0470),
}
OUTSIDE_DISTRICTS = (105.95, 21.02)  # Gia Lâm: inside Hà Nội, in none of the loaded districts


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRepository]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'h115.db'}"
    else:
        url = request.getfixturevalue("postgis_url")
    repository = SqlRepository.open(url)
    yield repository
    repository.close()


def _offset(lon: float, lat: float, *, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lon + dlon, lat + dlat


def _create(repo: SqlRepository, call_id: str, lonlat: tuple[float, float], at_s: float) -> None:
    repo.append([call_created(call_id, *lonlat, at_s)], expected_versions={f"call:{call_id}": 0})


def test_radius_and_time_window(repo: SqlRepository) -> None:
    for call_id, north_m, east_m, at_s in [
        ("near-100", 100, 0, T0 + 10),
        ("near-900", 0, 900, T0 + 20),
        ("diag-990", 700, -700, T0 + 30),  # 990 m to the north-west
        ("far-1100", -1100, 0, T0 + 40),
        ("far-5000", 0, 5000, T0 + 50),
        ("near-too-early", 50, 50, T0 - 1),
        ("near-too-late", 50, 50, T0 + 3600),
    ]:
        _create(repo, call_id, _offset(*CENTRE, north_m=north_m, east_m=east_m), at_s)
    found = repo.calls_within(*CENTRE, radius_m=1000, since_s=T0, until_s=T0 + 3600)
    assert found == ["near-100", "near-900", "diag-990"]  # oldest first
    assert repo.calls_within(*CENTRE, radius_m=6000, since_s=T0, until_s=T0 + 45) == [
        "near-100", "near-900", "diag-990", "far-1100",
    ]  # fmt: skip
    assert repo.calls_within(*CENTRE, radius_m=50, since_s=T0, until_s=T0 + 3600) == []


def test_radius_agrees_with_haversine_on_random_calls(repo: SqlRepository) -> None:
    rng = random.Random(115)
    points = {}
    for i in range(150):
        lonlat = (CENTRE[0] + rng.uniform(-0.05, 0.05), CENTRE[1] + rng.uniform(-0.05, 0.05))
        points[f"R{i:03d}"] = lonlat
        _create(repo, f"R{i:03d}", lonlat, T0 + i)
    radius_m = 3000.0
    found = set(repo.calls_within(*CENTRE, radius_m=radius_m, since_s=T0, until_s=T0 + 1e6))
    dist = {k: haversine_m(*CENTRE, *v) for k, v in points.items()}
    # Spheroid (PostGIS geography) and sphere (haversine) differ by < 0.5 %: skip that band.
    clear_in = {k for k, d in dist.items() if d < radius_m * 0.99}
    clear_out = {k for k, d in dist.items() if d > radius_m * 1.01}
    assert clear_in <= found
    assert not (clear_out & found)
    assert 20 < len(clear_in) < 130  # the sample really straddles the circle


def test_counts_per_district(repo: SqlRepository, osm_dir: Path) -> None:
    loaded = repo.load_districts(osm_dir / "hanoi_admin_boundaries_nominatim.geojson")
    assert loaded == 13  # 12 urban districts and Thanh Trì; the city outline is skipped
    plan = {"Hoàn Kiếm": 3, "Hà Đông": 2, "Cầu Giấy": 1, "Long Biên": 0}
    n = 0
    for name, count in plan.items():
        for _ in range(count):
            n += 1
            _create(repo, f"D{n}", LANDMARKS[name], T0 + n)
    _create(repo, "outside", OUTSIDE_DISTRICTS, T0 + 50)
    _create(repo, "late", LANDMARKS["Long Biên"], T0 + 5000)
    counts = repo.call_counts_by_district(since_s=T0, until_s=T0 + 3600)
    assert len(counts) == 13
    assert {k: counts[k] for k in plan} == plan
    assert sum(counts.values()) == 6  # the Gia Lâm call and the late one are not counted
    assert repo.call_counts_by_district(since_s=T0, until_s=T0 + 9999)["Long Biên"] == 1
    assert repo.load_districts(osm_dir / "hanoi_admin_boundaries_nominatim.geojson") == 13
