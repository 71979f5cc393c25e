"""The fixed part of a simulation: stations, fleet, hospitals, travel times and call places."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dispatch.model import UnitType
from dispatch.ports import TravelTimes
from dispatch.simulation.errors import ScenarioError
from dispatch.simulation.scenario import Scenario
from dispatch.simulation.travel import FixedTravelTimes, MemoTravelTimes
from stations.loaders import load_fleet, load_hospitals, load_station_set
from stations.models import Hospital, Station, UnitSpec


@dataclass
class World:
    """Everything the simulator needs besides the calls; built once per scenario and process."""

    travel: TravelTimes
    stations: list[Station]
    units: list[UnitSpec]
    hospitals: list[Hospital]
    location_lonlat: np.ndarray  # (K, 2) lon, lat of the places calls come from
    location_weight: np.ndarray  # (K,) demand weight (people)
    location_district: np.ndarray  # (K,) district name of each place


def select_stations(scenario: Scenario) -> list[Station]:
    """The scenario's stations: its station set, narrowed to `only_stations` if given."""
    stations = list(load_station_set(scenario.stations_file).stations)
    if scenario.only_stations:
        known = {s.station_id for s in stations}
        unknown = set(scenario.only_stations) - known
        if unknown:
            raise ScenarioError(f"only_stations names unknown stations {sorted(unknown)}")
        stations = [s for s in stations if s.station_id in scenario.only_stations]
    return stations


def select_units(scenario: Scenario, stations: list[Station]) -> list[UnitSpec]:
    """The fleet file's units, with `units` overriding the ambulance count per station."""
    fleet = load_fleet(stations, scenario.fleet_file)
    overrides = dict(scenario.units)
    unknown = set(overrides) - {s.station_id for s in stations}
    if unknown:
        raise ScenarioError(f"units names unknown stations {sorted(unknown)}")
    out = [u for u in fleet if u.station_id not in overrides]
    for station_id, count in overrides.items():
        template = next((u for u in fleet if u.station_id == station_id), None)
        turnout = template.turnout_s if template else 60.0
        crew, shift = (template.crew_size, template.shift) if template else (3, "24h")
        out += [
            UnitSpec(f"{station_id}-A{n}", station_id, UnitType.AMBULANCE, crew, shift, turnout)
            for n in range(1, count + 1)
        ]
    return sorted(out, key=lambda u: u.unit_id)


def _band_key(router: Any) -> Any:
    """The router's ETAs depend on the departure time only through its congestion band."""
    band_at = getattr(router, "band_at", None)
    if band_at is None:
        raise ScenarioError("the router exposes no congestion band to key travel times by")
    return band_at


def free_flow_time_s(router: Any, start_s: float) -> float:
    """A departure time with no congestion (a band whose every factor is 1), for congestion off."""
    profile = router.profile
    for hour in range(7 * 24):
        at_s = start_s + hour * 3600.0
        band = profile.band_at(at_s)
        if all(float(v) == 1.0 for v in profile.bands[band].values()):
            return at_s
    raise ScenarioError("the profile has no congestion-free band; cannot switch congestion off")


_MEMOS: dict[tuple[int, float | None], tuple[Any, MemoTravelTimes]] = {}


def shared_memo(router: Any, free_flow_at_s: float | None) -> MemoTravelTimes:
    """One memo per router and congestion setting in this process, shared by scenarios and
    replications: scenarios with the same seed and demand see the same calls, so a comparison
    asks the same trips again (exact: the memo never changes an answer)."""
    key = (id(router), free_flow_at_s)
    held = _MEMOS.get(key)
    if held is None or held[0] is not router:
        memo = MemoTravelTimes(router, time_key=_band_key(router), free_flow_at_s=free_flow_at_s)
        held = _MEMOS[key] = (router, memo)
    return held[1]


def build_world(scenario: Scenario, router: Any | None, *, start_s: float) -> World:
    """Stations, fleet, hospitals, travel times and the population-weighted call places."""
    stations = select_stations(scenario)
    units = select_units(scenario, stations)
    if scenario.fixed_travel_s is not None:
        travel: TravelTimes = FixedTravelTimes(scenario.fixed_travel_s)
        hospitals = load_hospitals(scenario.hospitals_file) if scenario.hospitals_file else []
        places = np.array([[s.lon, s.lat] for s in stations])
        return World(
            travel,
            stations,
            units,
            hospitals,
            places,
            np.ones(len(stations)),
            np.array([s.station_id for s in stations]),
        )
    if router is None:
        raise ScenarioError("this scenario needs a road graph (set H115_GRAPH_DIR or --graph)")
    from routing.places import place_file
    from stations.population import node_population

    free_at = None if scenario.congestion else free_flow_time_s(router, start_s)
    memo = shared_memo(router, free_at)
    _check_snaps(memo, stations)
    lonlat = np.asarray(router.node_lonlat)
    people = node_population(
        lonlat, scenario.demand.population_file, boundaries_file=place_file(router, "districts")
    )
    keep = people.people > 0
    places = lonlat[keep]
    if not memo.knows(float(places[0, 0]), float(places[0, 1])):
        memo.preload(places.tolist(), router.snap_many(places[:, 0], places[:, 1]))
    names = np.array([*people.district_names(), "-"])
    west, south = lonlat.min(axis=0)
    east, north = lonlat.max(axis=0)
    hospitals_file = scenario.hospitals_file or place_file(router, "hospitals")
    hospitals = _reachable(memo, load_hospitals(hospitals_file, bbox=(west, south, east, north)))
    return World(
        memo,
        stations,
        units,
        hospitals,
        places,
        people.people[keep],
        names[people.district_of_node[keep]],
    )


def _check_snaps(travel: TravelTimes, stations: list[Station]) -> None:
    from routing.errors import RoutingError

    for station in stations:
        try:
            travel.snap(station.lon, station.lat)
        except RoutingError as exc:
            raise ScenarioError(
                f"station {station.station_id} is off the road graph: {exc}"
            ) from exc


def _reachable(travel: TravelTimes, hospitals: list[Hospital]) -> list[Hospital]:
    from routing.errors import RoutingError

    out = []
    for hospital in hospitals:
        try:
            travel.snap(hospital.lon, hospital.lat)
        except RoutingError:
            continue
        out.append(hospital)
    return out
