"""Download Hanoi's hospitals and district polygons from OpenStreetMap (internet mode only).

Used by `routing.build.build_graph` when no OSM file is given, next to the road download, to
write the same GeoJSON the graph folder gets from files (see `routing.places`):

- hospitals: ``osmnx.features_from_place("Hà Nội, Vietnam", tags={"amenity": "hospital"})``;
  nodes as points, ways and relations as their centroids; every OSM tag kept, plus
  ``osm_type`` and ``osm_id``.
- districts: ``osmnx.geocode_to_gdf`` by OSM relation id for the 12 former urban districts and
  Thanh Trì (`DISTRICT_RELATIONS`, the relations of the shared Nominatim file); each feature
  gets a ``district`` property with the name `stations.population` joins on.

Needs internet (Overpass and Nominatim): no test runs it here; the copy path is what is tested.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

PLACE = "Hà Nội, Vietnam"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
DISTRICT_RELATIONS: dict[str, int] = {
    "Ba Đình": 9421136,
    "Bắc Từ Liêm": 9421138,
    "Cầu Giấy": 9421132,
    "Hai Bà Trưng": 9421134,
    "Hoàn Kiếm": 9421131,
    "Hoàng Mai": 9421133,
    "Hà Đông": 9424587,
    "Long Biên": 7115863,
    "Nam Từ Liêm": 9421137,
    "Thanh Trì": 7115709,
    "Thanh Xuân": 9421130,
    "Tây Hồ": 9421139,
    "Đống Đa": 9421135,
}


def download_hospitals(out_file: Path, *, place: str = PLACE) -> Path:
    """Write the `amenity=hospital` features of `place` to `out_file` as GeoJSON points."""
    import osmnx as ox

    gdf = ox.features_from_place(place, tags={"amenity": "hospital"})
    features = []
    for (element, osm_id), row in gdf.iterrows():
        geom = row["geometry"]
        point = geom if geom.geom_type == "Point" else geom.centroid
        tags = {k: _plain(v) for k, v in row.items() if k != "geometry" and _present(v)}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [point.x, point.y]},
                "properties": {"osm_type": str(element), "osm_id": int(osm_id), **tags},
            }
        )
    return _write(out_file, "hanoi_hospitals_osm", features)


def download_districts(out_file: Path) -> Path:
    """Write the polygons of `DISTRICT_RELATIONS` (from Nominatim) to `out_file` as GeoJSON."""
    import osmnx as ox

    names = list(DISTRICT_RELATIONS)
    gdf = ox.geocode_to_gdf([f"R{DISTRICT_RELATIONS[n]}" for n in names], by_osmid=True)
    features = [
        {
            "type": "Feature",
            "geometry": row["geometry"].__geo_interface__,
            "properties": {
                "district": name,
                "osm_relation_id": DISTRICT_RELATIONS[name],
                "display_name": str(row.get("display_name", "")),
            },
        }
        for name, (_, row) in zip(names, gdf.iterrows(), strict=True)
    ]
    return _write(out_file, "hanoi_districts_nominatim", features)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """A JSON-ready tag value (numpy scalars and lists from osmnx become plain Python)."""
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _write(out_file: Path, name: str, features: list[dict[str, Any]]) -> Path:
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": name,
        "attribution": ATTRIBUTION,
        "features": features,
    }
    out_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return out_file
