"""District populations spread over road nodes: demand weights for coverage and simulation.

Populations come from the data folder (`_districts_2019.toml`); polygons from a district
GeoJSON, normally the graph folder's `districts.geojson` (`routing.places.place_file`), which
the caller resolves and passes in.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from stations.loaders import DataError, data_dir

POPULATION_FILE = "_districts_2019.toml"  # in the data folder's scenarios/


def default_population_file() -> Path:
    """The packaged 2019 district populations (data/scenarios/_districts_2019.toml)."""
    return data_dir() / "scenarios" / POPULATION_FILE


@dataclass(frozen=True)
class District:
    """A district with its census population and its polygon (lon, lat)."""

    name: str
    population: int
    confidence: str
    polygon: shapely.Geometry


@lru_cache(maxsize=8)
def load_districts(
    population_file: Path | None = None, *, boundaries_file: Path
) -> tuple[District, ...]:
    """Districts named in `population_file`, each joined by name to its polygon in
    `boundaries_file` (a feature's `district` property, else its `display_name` up to
    " District,").

    Raises DataError if `boundaries_file` is missing, KeyError naming a district that has no
    polygon in it.
    """
    population_file = population_file or default_population_file()
    data = tomllib.loads(population_file.read_text(encoding="utf-8"))
    boundaries = Path(boundaries_file)
    if not boundaries.is_file():
        raise DataError(
            f"district polygons not found: {boundaries} (set H115_DISTRICTS_FILE, or build "
            "the graph with `hanoi115 graph build --districts FILE`)"
        )
    features = json.loads(boundaries.read_text(encoding="utf-8"))["features"]
    polygons = {
        name: shape(f["geometry"])
        for f in features
        if (name := _district_name(f["properties"])) is not None
    }
    districts = []
    for item in data["district"]:
        name = str(item["name"])
        if name not in polygons:
            raise KeyError(f"no polygon for district {name!r} in {boundaries}")
        districts.append(
            District(name, int(item["population"]), str(item["confidence"]), polygons[name])
        )
    return tuple(districts)


def _district_name(props: dict[str, object]) -> str | None:
    if props.get("district"):
        return str(props["district"])
    display = str(props.get("display_name", ""))
    return display.split(" District,")[0] if " District," in display else None


def node_district(node_lonlat: np.ndarray, districts: tuple[District, ...]) -> np.ndarray:
    """Index into `districts` of the polygon holding each node (lon, lat rows); -1 if none.

    Where polygons overlap along shared borders, the first district listed wins.
    """
    owner = np.full(len(node_lonlat), -1, dtype=np.int32)
    lon, lat = node_lonlat[:, 0], node_lonlat[:, 1]
    for index, district in enumerate(districts):
        shapely.prepare(district.polygon)
        inside = shapely.contains_xy(district.polygon, lon, lat) & (owner < 0)
        owner[inside] = index
    return owner


@dataclass(frozen=True)
class NodePopulation:
    """People per road node: each district's population shared equally by its nodes."""

    districts: tuple[District, ...]
    district_of_node: np.ndarray  # int32 per node, -1 outside every district
    people: np.ndarray  # float per node; 0 outside every district

    @property
    def total(self) -> float:
        return float(self.people.sum())

    def district_names(self) -> list[str]:
        return [d.name for d in self.districts]


def node_population(
    node_lonlat: np.ndarray, population_file: Path | None = None, *, boundaries_file: Path
) -> NodePopulation:
    """Spread district populations over the nodes inside each district polygon.

    `boundaries_file`: the district polygons (GeoJSON), e.g. the graph folder's
    `districts.geojson`. A district with no road node inside (outside the graph's extract)
    carries no weight.
    """
    districts = load_districts(population_file, boundaries_file=Path(boundaries_file))
    owner = node_district(node_lonlat, districts)
    counts = np.bincount(owner[owner >= 0], minlength=len(districts))
    per_node = np.array(
        [d.population / c if c else 0.0 for d, c in zip(districts, counts, strict=True)]
    )
    people = np.where(owner >= 0, per_node[np.maximum(owner, 0)], 0.0)
    return NodePopulation(districts, owner, people)
