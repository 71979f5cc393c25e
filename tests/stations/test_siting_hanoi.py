"""Siting on the real Hoàn Kiếm road graph through the routing engine, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.places import place_file
from stations.coverage import local_time_s
from stations.loaders import load_hospitals, load_stations
from stations.population import node_population
from stations.siting import solve_mclp, solve_pmedian
from stations.siting.hanoi import HanoiSiting, build_hanoi_siting
from web.cli import main

PMED1 = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pmed" / "pmed1.txt"
AT_S = local_time_s(dt.date(2026, 11, 23), 10.0)


@pytest.fixture(scope="module")
def siting(hoankiem_router: Any) -> HanoiSiting:
    return build_hanoi_siting(
        hoankiem_router,
        node_population(
            hoankiem_router.node_lonlat, boundaries_file=place_file(hoankiem_router, "districts")
        ),
        p_new=2,
        stations=load_stations(),
        hospitals=load_hospitals(place_file(hoankiem_router, "hospitals")),
        at_s=AT_S,
        grid_m=400.0,
    )


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
