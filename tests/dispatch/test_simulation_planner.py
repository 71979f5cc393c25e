"""What the planner page calls: scenario list, a run with progress, KPIs and map layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dispatch.simulation.planner import planner_scenarios, run_planner_scenario
from dispatch.simulation.scenario import load_scenario

GOLDEN_SCENARIO = Path(__file__).parent / "simulation_data" / "golden_hoankiem.toml"


def test_packaged_scenarios_are_listed_for_the_page() -> None:
    listed = {s["name"]: s for s in planner_scenarios()}
    assert listed["demand_x10"]["calls_per_day"] == 1100.0
    assert listed["erlang_check"]["needs_graph"] is False
    assert listed["baseline_core7"]["policy"] == {"p1_diversion": True}


def test_a_run_returns_json_kpis_and_coverage_layers(hoankiem_router: Any) -> None:
    seen: list[tuple[float, str]] = []
    out = run_planner_scenario(
        load_scenario(GOLDEN_SCENARIO),
        router=hoankiem_router,
        days=0.5,
        replications=2,
        progress=lambda fraction, message: seen.append((fraction, message)),
    )
    json.dumps(out)  # JSON-ready throughout
    kpis, layers = out["kpis"], out["layers"]
    assert kpis["replications"] == 2 and kpis["simulated_days"] == 1.0
    assert seen[-1][0] == 1.0 and "golden_hoankiem" in seen[-1][1]
    assert layers["type"] == "FeatureCollection"
    minutes = sorted(
        f["properties"]["minutes"]
        for f in layers["features"]
        if f["properties"]["layer"] == "isochrone"
    )
    assert minutes == [8.0, 15.0]
    shares = layers["properties"]["share_within"]
    assert 0 < shares["8_min"] <= shares["15_min"] <= 1
