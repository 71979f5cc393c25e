"""A golden file pins a short seeded run on the real Hoàn Kiếm graph (router, policy, service).

Any change to the call generator, the policy, the status machine or the travel times shows
up here. After an intended change, regenerate with `H115_UPDATE_GOLDEN=1 pytest this-file`
and review the diff of the JSON file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dispatch.simulation.runner import run_scenario
from dispatch.simulation.scenario import load_scenario

DATA = Path(__file__).parent / "simulation_data"
SCENARIO = DATA / "golden_hoankiem.toml"
GOLDEN = DATA / "golden_hoankiem.json"
PINNED = ("calls", "calls_by_outcome", "response", "response_by_priority", "queue", "events")


def pinned(kpis: dict[str, Any]) -> dict[str, Any]:
    out = {key: kpis[key] for key in PINNED}
    out["utilisation_mean"] = kpis["utilisation"]["mean"]
    normalised: dict[str, Any] = json.loads(json.dumps(out))
    return normalised


def test_short_run_matches_the_golden_file(hoankiem_router: Any) -> None:
    result = run_scenario(load_scenario(SCENARIO), router=hoankiem_router)
    got = pinned(result.kpis)
    if os.environ.get("H115_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got == expected
    # Sanity of the pinned numbers themselves, so a bad golden file cannot pass silently.
    assert 150 < got["calls"] < 300
    assert 0 < got["response"]["median_min"] < 30
    assert got["calls_by_outcome"]["nuisance"] > 0


def test_same_run_twice_is_identical(hoankiem_router: Any) -> None:
    scenario = load_scenario(SCENARIO).with_overrides(days=0.5)
    a = run_scenario(scenario, router=hoankiem_router)
    b = run_scenario(scenario, router=hoankiem_router)
    assert pinned(a.kpis) == pinned(b.kpis)


@pytest.mark.parametrize("congestion", [True, False])
def test_congestion_switch_changes_travel_not_calls(hoankiem_router: Any, congestion: bool) -> None:
    scenario = load_scenario(SCENARIO).with_overrides(days=1, congestion=congestion)
    result = run_scenario(scenario, router=hoankiem_router)
    base = run_scenario(load_scenario(SCENARIO).with_overrides(days=1), router=hoankiem_router)
    assert result.kpis["calls"] == base.kpis["calls"]
    travel = result.runs[0].calls["travel_s"]
    travel_base = base.runs[0].calls["travel_s"]
    if congestion:
        assert result.kpis["response"] == base.kpis["response"]
    else:
        assert sum(travel[travel == travel]) < sum(travel_base[travel_base == travel_base])
