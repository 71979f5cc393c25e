"""Siting on the real Hoàn Kiếm road graph through the routing engine, and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.places import place_file
from stations.coverage import local_time_s
from stations.loaders import DataError, load_hospitals, load_stations
from stations.population import node_population
from stations.siting import solve_mclp, solve_pmedian
from stations.siting.hanoi import (
    CallPoints,
    HanoiSiting,
    NodeDemand,
    build_hanoi_siting,
    call_demand,
    population_demand,
    read_calls_csv,
)
from web.cli import main

PMED1 = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pmed" / "pmed1.txt"
GOLDEN_SCENARIO = (
    Path(__file__).resolve().parents[1] / "dispatch" / "simulation_data" / "golden_hoankiem.toml"
)
AT_S = local_time_s(dt.date(2026, 11, 23), 10.0)


def people(router: Any) -> NodeDemand:
    districts = place_file(router, "districts")
    return population_demand(node_population(router.node_lonlat, boundaries_file=districts))


def hoankiem_siting(router: Any, demand: NodeDemand, *, p_new: int) -> HanoiSiting:
    return build_hanoi_siting(
        router,
        demand,
        p_new=p_new,
        stations=load_stations(),
        hospitals=load_hospitals(place_file(router, "hospitals")),
        at_s=AT_S,
        grid_m=400.0,
    )


def write_calls(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def siting(hoankiem_router: Any) -> HanoiSiting:
    return hoankiem_siting(hoankiem_router, people(hoankiem_router), p_new=2)


def test_costs_are_the_routers_travel_times(siting: HanoiSiting, hoankiem_router: Any) -> None:
    kinds = {c.kind for c in siting.candidates}
    assert kinds == {"station", "hospital", "grid"}
    assert all(siting.candidates[j].kind == "station" for j in siting.problem.fixed)
    assert siting.problem.p == len(siting.problem.fixed) + 2
    for j in (0, len(siting.candidates) // 2, len(siting.candidates) - 1):
        cand = siting.candidates[j]
        times = hoankiem_router.coverage([hoankiem_router.snap(cand.lon, cand.lat)], at_s=AT_S)
        assert np.array_equal(siting.problem.cost[:, j], times[siting.demand_nodes])
    districts = place_file(hoankiem_router, "districts")
    assert siting.problem.weights.sum() == pytest.approx(
        node_population(hoankiem_router.node_lonlat, boundaries_file=districts).total
    )


def test_pmedian_on_hanoi_is_proven_and_keeps_the_stations(siting: HanoiSiting) -> None:
    result = solve_pmedian(siting.problem, time_limit_s=30)
    assert result.optimal
    assert set(siting.problem.fixed) <= set(result.sites)
    only_fixed = siting.problem.pmedian_value(list(siting.problem.fixed))
    assert result.objective < only_fixed
    summary = siting.describe(result)
    assert summary["mean_time_s"] == pytest.approx(
        result.objective / siting.problem.weights.sum(), abs=0.1
    )
    assert len(siting.geojson(result)["features"]) == siting.problem.p


def test_mclp_on_hanoi_covers_at_least_what_the_stations_cover(siting: HanoiSiting) -> None:
    result = solve_mclp(siting.problem, 300.0, time_limit_s=30)
    assert result.optimal and set(siting.problem.fixed) <= set(result.sites)
    fixed_only = siting.problem.covered_weight(list(siting.problem.fixed), 300.0)
    assert result.objective >= fixed_only
    assert result.objective == pytest.approx(siting.problem.covered_weight(result.sites, 300.0))


def test_cli_pmedian_on_an_instance(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["site", "pmedian", "--instance", str(PMED1), "--method", "exact"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["objective"] == 5819 and out["optimal"] is True
    assert len(out["sites"]) == 5 and min(out["sites"]) >= 1  # 1-based like the file


def test_cli_mclp_needs_a_radius_on_an_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["site", "mclp", "--instance", str(PMED1)]) == 2
    code = main(["site", "mclp", "--instance", str(PMED1), "--radius", "60", "--fixed", "1,2"])
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert code == 0 and {1, 2} <= set(out["sites"]) and out["optimal"] is True


def test_cli_hanoi_writes_geojson(
    hoankiem_graph_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "sites.geojson"
    args = ["site", "mclp", "--hanoi", "--graph-dir", str(hoankiem_graph_dir), "--p-new", "1"]
    code = main([*args, "--grid-m", "500", "--radius-min", "5", "--out", str(out_file)])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["optimal"] is True
    features = json.loads(out_file.read_text())["features"]
    assert len(features) == len(summary["sites"])
    assert sum(f["properties"]["fixed"] for f in features) == len(summary["sites"]) - 1
    assert summary["demand"] == "population" and summary["population"] > 0


def new_site(siting: HanoiSiting) -> np.ndarray:
    """Where p-median opens the one new site of `siting` (lon, lat)."""
    result = solve_pmedian(siting.problem, time_limit_s=30)
    (new,) = (siting.candidates[j] for j in result.sites if j not in siting.problem.fixed)
    return np.array([new.lon, new.lat])


def test_served_calls_in_one_corner_pull_the_new_site_there(
    hoankiem_router: Any, tmp_path: Path
) -> None:
    lonlat = hoankiem_router.node_lonlat
    west = lonlat[lonlat[:, 0] <= np.quantile(lonlat[:, 0], 0.1)]  # the extract's west edge
    east = lonlat[lonlat[:, 0] >= np.quantile(lonlat[:, 0], 0.9)]
    rows = [{"lon": lon, "lat": lat, "outcome": "served"} for lon, lat in west]
    rows += [{"lon": lon, "lat": lat, "outcome": "nuisance"} for lon, lat in east]
    calls = read_calls_csv(write_calls(tmp_path / "calls.csv", rows))
    by_calls = hoankiem_siting(
        hoankiem_router, call_demand(hoankiem_router, calls, label="west"), p_new=1
    )
    by_people = hoankiem_siting(hoankiem_router, people(hoankiem_router), p_new=1)
    centre = west.mean(axis=0)
    metres = np.array([104_000.0, 110_574.0])  # per degree of lon, lat at Hanoi's latitude
    near_calls = np.linalg.norm((new_site(by_calls) - centre) * metres)
    near_people = np.linalg.norm((new_site(by_people) - centre) * metres)
    assert near_calls < 500.0 < 2000.0 < near_people


def test_read_calls_csv_keeps_served_calls_unless_told(tmp_path: Path) -> None:
    rows = [
        {"lon": 105.85, "lat": 21.03, "outcome": outcome}
        for outcome in ("served", "nuisance", "served", "cancelled")
    ]
    path = write_calls(tmp_path / "calls.csv", rows)
    assert len(read_calls_csv(path).lonlat) == 2
    assert len(read_calls_csv(path, all_calls=True).lonlat) == 4
    weighted = write_calls(tmp_path / "w.csv", [{"lat": 21.0, "lon": 105.8, "weight": 3}])
    calls = read_calls_csv(weighted)  # no outcome column: every row counts, with its weight
    assert calls.lonlat.tolist() == [[105.8, 21.0]] and calls.weight.tolist() == [3.0]


def test_call_demand_counts_calls_on_their_nearest_road_node(hoankiem_router: Any) -> None:
    lonlat = hoankiem_router.node_lonlat
    nodes = np.array([3, 3, 40, 500])
    offset = np.array([0.00002, -0.00001])  # a few metres off the node
    calls = CallPoints(lonlat[nodes] + offset, np.array([1.0, 1.0, 2.0, 1.0]))
    demand = call_demand(hoankiem_router, calls, label="four calls")
    assert demand.kind == "calls" and demand.weight.sum() == 5.0
    assert demand.weight[[3, 40, 500]].tolist() == [2.0, 2.0, 1.0]
    far = CallPoints(np.array([[105.5, 21.3]]), np.ones(1))
    with pytest.raises(DataError, match="outside this graph"):
        call_demand(hoankiem_router, far, label="far")


def test_cli_sites_on_the_served_calls_of_a_simulation(
    hoankiem_graph_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = ["--graph-dir", str(hoankiem_graph_dir)]
    simulate = ["simulate", str(GOLDEN_SCENARIO), "--days", "1", "--replications", "1"]
    assert main([*simulate, "--out", str(tmp_path), *graph, "--no-progress"]) == 0
    calls_csv = tmp_path / "golden_hoankiem" / "calls.csv"
    rows = list(csv.DictReader(calls_csv.open(encoding="utf-8")))
    served = sum(r["outcome"] == "served" for r in rows)
    assert 0 < served < len(rows)  # the run has nuisance or cancelled calls to drop
    capsys.readouterr()
    site = ["site", "pmedian", "--hanoi", *graph, "--p-new", "1", "--grid-m", "500"]
    assert main([*site, "--demand-calls", str(calls_csv)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["demand"] == f"simulated calls ({served} calls from {calls_csv})"
    assert summary["calls"] == served and "population" not in summary
    assert summary["optimal"] is True and 0 < summary["share_within"]["15_min"] <= 1
    assert main([*site, "--demand-calls", str(calls_csv), "--all-calls"]) == 0
    assert json.loads(capsys.readouterr().out)["calls"] == len(rows)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "calls file not found"),
        ([{"x": 105.85, "y": 21.03}], "no lon and lat columns"),
        ([{"lon": 105.85, "lat": 21.03, "outcome": "nuisance"}], "no calls left"),
        ([{"lon": 105.5, "lat": 21.3, "outcome": "served"}], "outside this graph"),
    ],
)
def test_cli_says_what_is_wrong_with_a_calls_file(
    hoankiem_graph_dir: Path, tmp_path: Path, rows: list[dict[str, Any]] | None, message: str
) -> None:
    path = tmp_path / "calls.csv"
    if rows is not None:
        write_calls(path, rows)
    args = ["site", "mclp", "--hanoi", "--graph-dir", str(hoankiem_graph_dir)]
    with pytest.raises(SystemExit, match=message) as raised:
        main([*args, "--demand-calls", str(path)])
    assert str(raised.value).startswith("hanoi115 site: --demand-calls: ")
