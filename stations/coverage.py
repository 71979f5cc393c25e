"""Coverage of a station set: travel time from the nearest station to every road node at a
chosen hour, the population-weighted share reached within 8 and 15 minutes, GeoJSON layers for
the planner page and a map image for reports. Travel times come from the routing engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stations.models import Station
from stations.population import NodePopulation, node_population

HANOI_UTC_OFFSET_H = 7
TARGETS_MIN = (8, 15)


class CoverageRouter(Protocol):
    """What coverage needs of `routing.engine.Router`."""

    @property
    def node_lonlat(self) -> np.ndarray: ...
    def snap(self, lon: float, lat: float) -> Any: ...
    def coverage(self, sources: Sequence[Any], *, at_s: float) -> np.ndarray: ...
    def isochrones(
        self, sources: Sequence[Any], *, at_s: float, minutes: Sequence[float] = ...
    ) -> dict[str, Any]: ...


def local_time_s(day: dt.date, hour: float) -> float:
    """Epoch seconds (UTC) of `hour` o'clock Hanoi time (UTC+7) on `day`."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    return midnight + (hour - HANOI_UTC_OFFSET_H) * 3600.0


@dataclass(frozen=True)
class Coverage:
    """Travel time (s) from the nearest station to each node, and who lives within reach."""

    at_s: float
    node_time_s: np.ndarray  # per road node; inf where no station reaches
    population: NodePopulation
    station_ids: tuple[str, ...]
    turnout_s: float = 0.0

    def share_within(self, minutes: float) -> float:
        """Population-weighted share of people reached within `minutes` (0..1)."""
        people = self.population.people
        total = people.sum()
        reached = people[self.node_time_s + self.turnout_s <= minutes * 60.0].sum()
        return float(reached / total) if total > 0 else 0.0

    def share_by_district(self, minutes: float) -> dict[str, float]:
        """The same share per district (name -> 0..1)."""
        within = self.node_time_s + self.turnout_s <= minutes * 60.0
        owner = self.population.district_of_node
        people = self.population.people
        out = {}
        for index, name in enumerate(self.population.district_names()):
            mask = owner == index
            total = people[mask].sum()
            out[name] = round(float(people[mask & within].sum() / total), 4) if total else 0.0
        return out

    def summary(self, targets: Sequence[float] = TARGETS_MIN) -> dict[str, Any]:
        """A JSON-ready digest: shares overall and by district, and node-time percentiles."""
        finite = self.node_time_s[np.isfinite(self.node_time_s)] + self.turnout_s
        return {
            "at_s": self.at_s,
            "stations": list(self.station_ids),
            "turnout_s": self.turnout_s,
            "population": round(self.population.total),
            "share_within": {f"{m:g}_min": round(self.share_within(m), 4) for m in targets},
            "share_by_district": {f"{m:g}_min": self.share_by_district(m) for m in targets},
            "node_time_min": {
                "median": round(float(np.median(finite)) / 60.0, 2) if len(finite) else None,
                "p90": round(float(np.percentile(finite, 90)) / 60.0, 2) if len(finite) else None,
                "unreachable_nodes": int((~np.isfinite(self.node_time_s)).sum()),
            },
        }


def station_coverage(
    router: CoverageRouter,
    stations: Sequence[Station],
    *,
    at_s: float,
    turnout_s: float = 0.0,
    population_file: Path | None = None,
    population: NodePopulation | None = None,
    boundaries_file: Path | None = None,
) -> Coverage:
    """Coverage of `stations` for departures at `at_s` (epoch s; see `local_time_s`).

    `turnout_s` (seconds) is added to every travel time when judging the 8/15-minute shares.
    Pass `population` to reuse the node weights across calls on the same graph; without it,
    they come from `population_file` and `boundaries_file` (district polygons; None: the
    router's graph folder's `districts.geojson`).
    """
    if not stations:
        raise ValueError("coverage needs at least one station")
    sources = [router.snap(s.lon, s.lat) for s in stations]
    times = np.asarray(router.coverage(sources, at_s=at_s), dtype=float)
    if population is None:
        from routing.places import place_file

        boundaries = boundaries_file or place_file(router, "districts")
        population = node_population(
            np.asarray(router.node_lonlat), population_file, boundaries_file=boundaries
        )
    people = population
    return Coverage(at_s, times, people, tuple(s.station_id for s in stations), turnout_s)


def coverage_layers(
    router: CoverageRouter,
    stations: Sequence[Station],
    *,
    at_s: float,
    minutes: Sequence[float] = TARGETS_MIN,
) -> dict[str, Any]:
    """GeoJSON FeatureCollection for the planner map: isochrone polygons and station points.

    Isochrone features come from the routing engine (with its `minutes` property); station
    features carry `layer = "station"`, `station_id` and `name`.
    """
    sources = [router.snap(s.lon, s.lat) for s in stations]
    iso = router.isochrones(sources, at_s=at_s, minutes=tuple(minutes))
    features = [
        {**f, "properties": {**f.get("properties", {}), "layer": "isochrone"}}
        for f in iso.get("features", [])
    ]
    features += [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
            "properties": {"layer": "station", "station_id": s.station_id, "name": s.name},
        }
        for s in stations
    ]
    return {"type": "FeatureCollection", "features": features}


def plot_coverage(
    coverage: Coverage, node_lonlat: np.ndarray, stations: Sequence[Station], path: Path
) -> Path:
    """A PNG map: road nodes coloured by minutes from the nearest station, stations as stars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap

    minutes = (coverage.node_time_s + coverage.turnout_s) / 60.0
    minutes = np.where(np.isfinite(minutes), minutes, 999.0)
    bounds = [0, 8, 15, 25, 1000]
    cmap = ListedColormap(["#1a9850", "#fee08b", "#fc8d59", "#d73027"])
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.scatter(
        node_lonlat[:, 0],
        node_lonlat[:, 1],
        c=minutes,
        s=1.5,
        cmap=cmap,
        norm=BoundaryNorm(bounds, cmap.N),
        linewidths=0,
    )
    ax.scatter(
        [s.lon for s in stations],
        [s.lat for s in stations],
        marker="*",
        s=160,
        c="black",
        edgecolors="white",
    )
    shares = ", ".join(f"{m} min: {coverage.share_within(m):.0%}" for m in TARGETS_MIN)
    ax.set(
        title=f"Minutes from the nearest station (people within {shares})",
        xlabel="lon",
        ylabel="lat",
        aspect=1 / np.cos(np.radians(node_lonlat[:, 1].mean())),
    )
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
