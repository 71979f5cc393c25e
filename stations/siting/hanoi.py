"""Siting on Hanoi's road graph: candidate sites, population demand and travel-time costs.

Candidates are the existing stations (kept open as fixed sites), emergency hospitals and one
road node per grid cell; demand is the district population spread over road nodes, pooled per
small cell onto one representative node; costs are the routing engine's travel times from each
candidate to each demand node at a chosen departure time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from stations.models import Hospital, Station
from stations.population import NodePopulation
from stations.siting.problem import FloatArray, IntArray, SitingError, SitingProblem, SitingResult

METRES_PER_DEG_LAT = 110_574.0


class SitingRouter(Protocol):
    """What siting needs of `routing.engine.Router`."""

    @property
    def node_lonlat(self) -> np.ndarray: ...
    def snap(self, lon: float, lat: float) -> Any: ...
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
class HanoiSiting:
    """A siting problem on the road graph with what its rows and columns stand for."""

    problem: SitingProblem
    candidates: tuple[Candidate, ...]
    demand_nodes: IntArray
    at_s: float

    def describe(self, result: SitingResult) -> dict[str, Any]:
        """JSON-ready: chosen sites, mean travel time, population shares within 8/15 min."""
        cost = self.problem.cost[:, list(result.sites)].min(axis=1)
        people = self.problem.weights
        total = float(people.sum())
        reach = np.isfinite(cost)
        return {
            **result.to_dict(),
            "at_s": self.at_s,
            "candidates": len(self.candidates),
            "demand_points": len(self.demand_nodes),
            "population": round(total),
            "mean_time_s": round(float(people[reach] @ cost[reach]) / total, 1),
            "share_within": {
                f"{m}_min": round(float(people[cost <= m * 60.0].sum()) / total, 4) for m in (8, 15)
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
    lonlat: np.ndarray, people: FloatArray, cell_m: float
) -> tuple[IntArray, FloatArray]:
    """Pool node populations per `cell_m` cell onto one representative node each."""
    cells = _cells(lonlat, cell_m)
    lived = people > 0
    reps = _representatives(lonlat, cells, lived)  # one per occupied cell, in cell order
    weight = np.bincount(
        np.searchsorted(np.unique(cells[lived]), cells[lived]), weights=people[lived]
    )
    return reps, weight.astype(np.float64)


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
    population: NodePopulation,
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
    demand_cell_m: size (m) of the cells that pool population onto one demand node.
    Candidates the router cannot snap (outside the service area) are left out.
    """
    from routing.errors import OutsideServiceArea

    lonlat = np.asarray(router.node_lonlat)
    if population.total <= 0:
        raise SitingError("no population lives inside this graph's districts")
    demand_nodes, weights = pooled_demand(lonlat, population.people, demand_cell_m)
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
    return HanoiSiting(problem, tuple(candidates), demand_nodes, at_s)
