"""What the planner page chooses from: scenarios (runnable on this road graph or not), station
sets, and the coverage layers of a station set at a chosen hour."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.errors import NotFound, ValidationError
from dispatch.simulation.errors import SimulationError
from dispatch.simulation.planner import LAYER_DAY, scenario_info
from dispatch.simulation.scenario import Scenario, list_scenarios, load_scenario, scenario_dir
from dispatch.simulation.world import select_stations
from routing.errors import RoutingError
from stations.models import Station

LIVE_SET = "live"  # the stations the live service dispatches from


@dataclass(frozen=True)
class ScenarioEntry:
    """A scenario file and what the page shows of it."""

    name: str
    file: Path
    info: dict[str, Any]


def scenario_catalog(router: Any, extra_dir: Path | None) -> dict[str, ScenarioEntry]:
    """The packaged scenarios, then those of `extra_dir` (same name: the extra one wins), each
    marked `runnable` when it loads and the served road graph holds every station it needs."""
    catalog: dict[str, ScenarioEntry] = {}
    folders = [scenario_dir()] if extra_dir is None else [scenario_dir(), extra_dir]
    for folder in folders:
        for stem in list_scenarios(folder):
            entry = _entry(router, folder / f"{stem}.toml")
            catalog[entry.name] = entry
    return catalog


def _entry(router: Any, file: Path) -> ScenarioEntry:
    try:
        scenario = load_scenario(file)
    except (SimulationError, OSError, ValueError) as exc:  # shown on the page, not hidden
        info = {"name": file.stem, "description": "", "runnable": False}
        return ScenarioEntry(file.stem, file, {**info, "not_runnable_because": str(exc)})
    runnable, why = _runnable(router, scenario)
    info = {**scenario_info(scenario), "runnable": runnable, "not_runnable_because": why}
    return ScenarioEntry(scenario.name, file, info)


def _runnable(router: Any, scenario: Scenario) -> tuple[bool, str | None]:
    if scenario.fixed_travel_s is not None:
        return True, None
    try:
        stations = select_stations(scenario)
    except (SimulationError, OSError, ValueError) as exc:
        return False, str(exc)
    outside = outside_graph(router, stations)
    if outside:
        return False, f"stations off this road graph: {', '.join(outside)}"
    return True, None


def outside_graph(router: Any, stations: list[Station]) -> list[str]:
    """Ids of the stations that do not snap to the road graph."""
    outside = []
    for station in stations:
        try:
            router.snap(station.lon, station.lat)
        except RoutingError:
            outside.append(station.station_id)
    return outside


def station_set_names() -> list[str]:
    """`live` and the packaged station sets (data/stations/*.geojson)."""
    from stations.loaders import data_dir

    packaged = sorted(p.stem for p in (data_dir() / "stations").glob("*.geojson"))
    return [LIVE_SET, *packaged]


def station_set(name: str, live: list[Station]) -> list[Station]:
    """The stations of a named set (`live`: the service's own)."""
    from stations.loaders import data_dir, load_station_set

    if name == LIVE_SET:
        return list(live)
    if name not in station_set_names():
        raise NotFound(f"no station set {name!r}: one of {', '.join(station_set_names())}")
    return list(load_station_set(data_dir() / "stations" / f"{name}.geojson").stations)


def station_sets(router: Any, live: list[Station]) -> list[dict[str, Any]]:
    """Every station set with how many of its stations lie on the served road graph."""
    out = []
    for name in station_set_names():
        stations = station_set(name, live)
        outside = outside_graph(router, stations)
        out.append(
            {
                "name": name,
                "stations": len(stations),
                "on_graph": len(stations) - len(outside),
                "outside": outside,
            }
        )
    return out


def coverage_of_set(
    router: Any, name: str, stations: list[Station], *, hour_local: int, population: Any
) -> dict[str, Any]:
    """Isochrones (8 and 15 min) and station points of the set's stations on the graph, at
    `hour_local` o'clock Hanoi time on a weekday, with the population shares within reach."""
    from stations.coverage import coverage_layers, local_time_s, station_coverage

    outside = outside_graph(router, stations)
    inside = [s for s in stations if s.station_id not in outside]
    if not inside:
        raise ValidationError(f"no station of set {name!r} is on this road graph", field="stations")
    at_s = local_time_s(LAYER_DAY, hour_local)
    layers = coverage_layers(router, inside, at_s=at_s)
    summary = station_coverage(router, inside, at_s=at_s, population=population).summary()
    layers["properties"] = {
        "station_set": name,
        "hour_local": hour_local,
        "at_s": at_s,
        "stations": [s.station_id for s in inside],
        "outside": outside,
        "share_within": summary["share_within"],
        "share_by_district": summary["share_by_district"],
    }
    return layers
