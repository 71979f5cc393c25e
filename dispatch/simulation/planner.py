"""What the planner web page calls: list scenarios, run one with progress, get KPIs and map layers.

Everything returned is JSON-ready. Long runs belong in a background job; `progress(fraction,
message)` is called from the running thread (or, with workers > 1, from a polling thread).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from dispatch.simulation.runner import Progress, ScenarioResult, run_scenario
from dispatch.simulation.scenario import Scenario, list_scenarios, load_scenario
from dispatch.simulation.world import select_stations

LAYER_DAY = dt.date(2025, 3, 4)  # a Tuesday: weekday congestion bands


def planner_scenarios(directory: Path | None = None) -> list[dict[str, Any]]:
    """The packaged scenarios (or those in `directory`) with what a planner picks them by."""
    return [
        scenario_info(load_scenario(directory / f"{name}.toml" if directory is not None else name))
        for name in list_scenarios(directory)
    ]


def scenario_info(s: Scenario) -> dict[str, Any]:
    """What a planner picks a scenario by (JSON-ready)."""
    return {
        "name": s.name,
        "description": s.description,
        "days": s.days,
        "replications": s.replications,
        "calls_per_day": s.demand.calls_per_day_effective,
        "congestion": s.congestion,
        "policy": s.policy_options(),
        "needs_graph": s.fixed_travel_s is None,
    }


def coverage_geojson(scenario: Scenario, router: Any, *, hour_local: float = 8) -> dict[str, Any]:
    """Isochrones (8 and 15 min) and station points of the scenario's station set, with the
    population shares within reach in the collection's `properties`."""
    from stations.coverage import coverage_layers, local_time_s, station_coverage

    stations = select_stations(scenario)
    at_s = local_time_s(LAYER_DAY, hour_local)
    layers = coverage_layers(router, stations, at_s=at_s)
    summary = station_coverage(router, stations, at_s=at_s).summary()
    layers["properties"] = {
        "scenario": scenario.name,
        "hour_local": hour_local,
        "share_within": summary["share_within"],
        "share_by_district": summary["share_by_district"],
    }
    return layers


def run_planner_scenario(
    scenario: Scenario | str,
    *,
    router: Any | None = None,
    graph_dir: Path | None = None,
    progress: Progress | None = None,
    workers: int = 1,
    days: float | None = None,
    replications: int | None = None,
    hour_local: float = 8,
) -> dict[str, Any]:
    """Run a scenario (name, file or object); returns {"kpis": ..., "layers": GeoJSON or None}."""
    chosen = load_scenario(scenario) if isinstance(scenario, str) else scenario
    overrides: dict[str, Any] = {}
    if days is not None:
        overrides["days"] = days
    if replications is not None:
        overrides["replications"] = replications
    chosen = chosen.with_overrides(**overrides)
    result: ScenarioResult = run_scenario(
        chosen, router=router, graph_dir=graph_dir, workers=workers, progress=progress
    )
    layers = None
    if router is not None and chosen.fixed_travel_s is None:
        layers = coverage_geojson(chosen, router, hour_local=hour_local)
    return {"kpis": result.kpis, "layers": layers}
