"""Coverage of a station set through the real routing engine, weighted by district population."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.places import place_file
from stations.coverage import coverage_layers, local_time_s, plot_coverage, station_coverage
from stations.loaders import load_stations
from stations.models import Station
from stations.population import load_districts, node_population

DAY = dt.date(2025, 3, 4)  # a Tuesday


@pytest.fixture(scope="module")
def hq() -> Station:
    return next(s for s in load_stations() if s.station_id == "hq")


def test_population_is_shared_equally_by_the_nodes_of_each_district(hoankiem_router: Any) -> None:
    boundaries = place_file(hoankiem_router, "districts")
    people = node_population(hoankiem_router.node_lonlat, boundaries_file=boundaries)
    districts = load_districts(boundaries_file=boundaries)
    present = set(people.district_of_node[people.district_of_node >= 0].tolist())
    assert "Hoàn Kiếm" in {districts[i].name for i in present}
    assert people.total == pytest.approx(sum(districts[i].population for i in present))
    for index in present:
        weights = people.people[people.district_of_node == index]
        assert np.allclose(weights, districts[index].population / len(weights))
    assert np.all(people.people[people.district_of_node < 0] == 0)


def test_shares_are_population_weighted_and_ordered(hoankiem_router: Any, hq: Station) -> None:
    peak = station_coverage(hoankiem_router, [hq], at_s=local_time_s(DAY, 18))
    night = station_coverage(hoankiem_router, [hq], at_s=local_time_s(DAY, 3))
    people = peak.population.people
    by_hand = people[peak.node_time_s <= 8 * 60].sum() / people.sum()
    assert peak.share_within(8) == pytest.approx(by_hand)
    assert 0 < peak.share_within(8) <= peak.share_within(15) <= 1
    assert np.all(night.node_time_s <= peak.node_time_s + 1e-6)
    assert night.share_within(8) > peak.share_within(8)
    late = station_coverage(hoankiem_router, [hq], at_s=local_time_s(DAY, 18), turnout_s=120)
    assert late.share_within(8) < peak.share_within(8)
    summary = peak.summary()
    assert summary["share_within"]["8_min"] == round(peak.share_within(8), 4)
    assert set(summary["share_by_district"]["15_min"]) == set(peak.population.district_names())


def test_a_second_station_only_helps(hoankiem_router: Any, hq: Station) -> None:
    extra = Station("ext", "test site", 105.8440, 21.0300, "test", "scenario")
    at_s = local_time_s(DAY, 8)
    one = station_coverage(hoankiem_router, [hq], at_s=at_s)
    two = station_coverage(hoankiem_router, [hq, extra], at_s=at_s)
    solo = station_coverage(hoankiem_router, [extra], at_s=at_s)
    assert np.allclose(two.node_time_s, np.minimum(one.node_time_s, solo.node_time_s))
    assert two.share_within(8) >= one.share_within(8)


def test_layers_and_map_image(hoankiem_router: Any, hq: Station, tmp_path: Path) -> None:
    at_s = local_time_s(DAY, 8)
    layers = coverage_layers(hoankiem_router, [hq], at_s=at_s)
    kinds = [f["properties"]["layer"] for f in layers["features"]]
    assert kinds.count("station") == 1 and kinds.count("isochrone") >= 1
    station = next(f for f in layers["features"] if f["properties"]["layer"] == "station")
    assert station["geometry"]["coordinates"] == [hq.lon, hq.lat]
    cov = station_coverage(hoankiem_router, [hq], at_s=at_s)
    path = plot_coverage(cov, hoankiem_router.node_lonlat, [hq], tmp_path / "map.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
