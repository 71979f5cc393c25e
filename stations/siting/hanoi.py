"""Siting on Hanoi's road graph: candidate sites, demand (population or calls), travel costs.

Candidates are the existing stations (kept open as fixed sites), emergency hospitals and one
road node per grid cell; demand is either the district population spread over road nodes or
calls (e.g. the `calls.csv` of `hanoi115 simulate`) snapped to their nearest road node, pooled
per small cell onto one representative node; costs are the routing engine's travel times from
each candidate to each demand node at a chosen departure time.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stations.loaders import DataError
from stations.models import Hospital, Station
from stations.population import NodePopulation
from stations.siting.problem import FloatArray, IntArray, SitingError, SitingProblem, SitingResult

METRES_PER_DEG_LAT = 110_574.0


class SitingRouter(Protocol):
    """What siting needs of `routing.engine.Router`."""

    @property
    def node_lonlat(self) -> np.ndarray: ...
    def snap(self, lon: float, lat: float) -> Any: ...
    def snap_many(self, lons: Sequence[float], lats: Sequence[float]) -> list[Any]: ...
    def coverage(self, sources: Sequence[Any], *, at_s: float) -> np.ndarray: ...


@dataclass(frozen=True)
class Candidate:
    """A place where a station could be: kind is "station", "hospital" or "grid"."""

    kind: str
    name: str
    lon: float
    lat: float
    fixed: bool = False


@dataclass(frozen=True)
class NodeDemand:
    """Demand weight per road node: `kind` is what it counts ("population" or "calls"),
    `label` where it came from, as the siting summary says it."""

    weight: FloatArray
    kind: str
    label: str


@dataclass(frozen=True)
class HanoiSiting:
    """A siting problem on the road graph with what its rows and columns stand for."""

    problem: SitingProblem
    candidates: tuple[Candidate, ...]
    demand_nodes: IntArray
    at_s: float
    demand_kind: str = "population"
    demand_label: str = "population"

    def describe(self, result: SitingResult) -> dict[str, Any]:
        """JSON-ready: chosen sites, the demand used and its total (key "population" or
        "calls"), the mean travel time and the shares of that demand within 8/15 min."""
        cost = self.problem.cost[:, list(result.sites)].min(axis=1)
        weight = self.problem.weights
        total = float(weight.sum())
        reach = np.isfinite(cost)
        return {
            **result.to_dict(),
            "at_s": self.at_s,
            "candidates": len(self.candidates),
            "demand": self.demand_label,
            "demand_points": len(self.demand_nodes),
            self.demand_kind: round(total),
            "mean_time_s": round(float(weight[reach] @ cost[reach]) / total, 1),
            "share_within": {
                f"{m}_min": round(float(weight[cost <= m * 60.0].sum()) / total, 4) for m in (8, 15)
            },
            "sites_detail": [vars(self.candidates[j]) for j in result.sites],
        }

    def geojson(self, result: SitingResult) -> dict[str, Any]:
        """The chosen sites as a GeoJSON FeatureCollection (Points, lon/lat)."""
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
                "properties": {"kind": c.kind, "name": c.name, "fixed": c.fixed},
            }
            for c in (self.candidates[j] for j in result.sites)
        ]
        return {"type": "FeatureCollection", "features": features}


def _cells(lonlat: np.ndarray, size_m: float) -> IntArray:
    """A cell id per point on a square grid of `size_m` metres (local equirectangular)."""
    lat0 = float(lonlat[:, 1].mean())
    x = (lonlat[:, 0] - lonlat[:, 0].min()) * METRES_PER_DEG_LAT * math.cos(math.radians(lat0))
    y = (lonlat[:, 1] - lonlat[:, 1].min()) * METRES_PER_DEG_LAT
    ix, iy = (x // size_m).astype(np.int64), (y // size_m).astype(np.int64)
    cells: IntArray = ix * (int(iy.max()) + 1) + iy
    return cells


def _representatives(lonlat: np.ndarray, cells: IntArray, mask: np.ndarray) -> IntArray:
    """Per occupied cell (among `mask` nodes), the node nearest the cell's mean position."""
    nodes = np.flatnonzero(mask)
    order = np.argsort(cells[nodes], kind="stable")
    nodes = nodes[order]
    _, starts = np.unique(cells[nodes], return_index=True)
    out = []
    for group in np.split(nodes, starts[1:]):
        centre = lonlat[group].mean(axis=0)
        out.append(int(group[np.argmin(((lonlat[group] - centre) ** 2).sum(axis=1))]))
    return np.array(out, dtype=np.int64)


def pooled_demand(
    lonlat: np.ndarray, weight: FloatArray, cell_m: float
) -> tuple[IntArray, FloatArray]:
    """Pool node demand (people or calls) per `cell_m` cell onto one representative node each."""
    cells = _cells(lonlat, cell_m)
    lived = weight > 0
    reps = _representatives(lonlat, cells, lived)  # one per occupied cell, in cell order
    pooled = np.bincount(
        np.searchsorted(np.unique(cells[lived]), cells[lived]), weights=weight[lived]
    )
    return reps, pooled.astype(np.float64)


def population_demand(population: NodePopulation) -> NodeDemand:
    """The district population on the road nodes as siting demand."""
    return NodeDemand(np.asarray(population.people, dtype=np.float64), "population", "population")


@dataclass(frozen=True)
class CallPoints:
    """Calls read from a CSV: where each was (lon, lat rows) and how many calls it counts for."""

    lonlat: FloatArray
    weight: FloatArray


def read_calls_csv(path: Path, *, all_calls: bool = False) -> CallPoints:
    """Calls with `lon` and `lat` columns (degrees) and an optional `weight` (default 1), such
    as the `calls.csv` that `hanoi115 simulate` writes.

    Unless `all_calls`, rows with an `outcome` other than "served" are dropped: a nuisance or
    cancelled call sends no ambulance to anybody, so it is no demand for a station.
    Raises DataError for a missing file, missing columns, bad numbers or no rows left.
    """
    if not path.is_file():
        raise DataError(f"calls file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"lon", "lat"} <= set(reader.fieldnames or ()):
            raise DataError(f"{path} has no lon and lat columns (found {reader.fieldnames})")
        rows = [r for r in reader if all_calls or r.get("outcome", "served") == "served"]
    if not rows:
        raise DataError(f"no calls left in {path}" + ("" if all_calls else " (served only)"))
    try:
        lonlat = np.array([[float(r["lon"]), float(r["lat"])] for r in rows])
        weight = np.array([float(r.get("weight") or 1.0) for r in rows])
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    if not (np.isfinite(lonlat).all() and np.isfinite(weight).all() and (weight >= 0).all()):
        raise DataError(f"{path}: lon, lat and weight must be finite, weights not negative")
    if weight.sum() <= 0:
        raise DataError(f"{path}: the calls' weights are all zero")
    return CallPoints(lonlat, weight)


def call_demand(router: SitingRouter, calls: CallPoints, *, label: str) -> NodeDemand:
    """Calls as siting demand: each call counts on the road node nearest to where it was.

    Raises DataError if a call is beyond the router's snap limit (outside this graph).
    """
    from scipy.spatial import cKDTree

    from routing.errors import OutsideServiceArea

    places, row_place = np.unique(calls.lonlat, axis=0, return_inverse=True)
    try:  # the engine's own service-area test, as for every call and station it routes
        router.snap_many(places[:, 0].tolist(), places[:, 1].tolist())
    except OutsideServiceArea as exc:
        raise DataError(f"a call is outside this graph: {exc}") from exc
    lonlat = np.asarray(router.node_lonlat)
    scale = np.array([math.cos(math.radians(float(lonlat[:, 1].mean()))), 1.0])
    _, node_of_place = cKDTree(lonlat * scale).query(places * scale)
    weight = np.bincount(
        node_of_place[row_place.ravel()], weights=calls.weight, minlength=len(lonlat)
    )
    return NodeDemand(weight.astype(np.float64), "calls", label)


def site_candidates(
    lonlat: np.ndarray,
    *,
    stations: Sequence[Station],
    hospitals: Sequence[Hospital],
    grid_m: float,
    fix_stations: bool = True,
) -> list[Candidate]:
    """Existing stations (fixed unless told otherwise), hospitals, one road node per cell."""
    out = [Candidate("station", s.name, s.lon, s.lat, fix_stations) for s in stations]
    out += [Candidate("hospital", h.name, h.lon, h.lat) for h in hospitals]
    cells = _cells(lonlat, grid_m)
    for node in _representatives(lonlat, cells, np.ones(len(lonlat), dtype=bool)):
        lon, lat = (float(v) for v in lonlat[node])
        out.append(Candidate("grid", f"node {node}", lon, lat))
    return out


def build_hanoi_siting(
    router: SitingRouter,
    demand: NodeDemand,
    *,
    p_new: int,
    stations: Sequence[Station],
    hospitals: Sequence[Hospital],
    at_s: float,
    grid_m: float = 1000.0,
    demand_cell_m: float = 300.0,
    fix_stations: bool = True,
) -> HanoiSiting:
    """The siting problem on `router`'s graph: open `p_new` sites besides the fixed ones.

    at_s: departure time (epoch s UTC) deciding the congestion band of the travel times.
    grid_m: spacing (m) of the grid of road-node candidates.
    demand: people or calls per road node (`population_demand`, `call_demand`).
    demand_cell_m: size (m) of the cells that pool demand onto one demand node.
    Candidates the router cannot snap (outside the service area) are left out.
    """
    from routing.errors import OutsideServiceArea

    lonlat = np.asarray(router.node_lonlat)
    if demand.weight.sum() <= 0:
        raise SitingError(f"no {demand.label} inside this graph")
    demand_nodes, weights = pooled_demand(lonlat, demand.weight, demand_cell_m)
    candidates, columns = [], []
    raw = site_candidates(
        lonlat, stations=stations, hospitals=hospitals, grid_m=grid_m, fix_stations=fix_stations
    )
    for cand in raw:
        try:
            snap = router.snap(cand.lon, cand.lat)
        except OutsideServiceArea:  # not a usable site on this graph
            continue
        times = np.asarray(router.coverage([snap], at_s=at_s), dtype=np.float64)
        columns.append(times[demand_nodes])
        candidates.append(cand)
    fixed = tuple(j for j, c in enumerate(candidates) if c.fixed)
    problem = SitingProblem(
        cost=np.column_stack(columns), p=len(fixed) + p_new, weights=weights, fixed=fixed
    )
    return HanoiSiting(problem, tuple(candidates), demand_nodes, at_s, demand.kind, demand.label)
