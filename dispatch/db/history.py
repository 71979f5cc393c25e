"""Spatial queries over call history for planners, on PostGIS or (without PostGIS) SQLite.

PostGIS: radius on `geography` (metres on the WGS84 spheroid, GIST-indexed) and district
counts by a spatial join. SQLite: the radius query prefilters on a lat/lon bounding box
(indexed) and then keeps calls whose haversine distance (a spherical Earth, within about
0.5 % of the spheroid) is within the radius; district counts are computed in Python with
shapely over the stored GeoJSON polygons, since SQLite has no spatial join.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import Geography, Geometry
from shapely import prepared
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape

from dispatch.db.engine import EARTH_RADIUS_M, is_postgres
from dispatch.db.schema import calls, districts

CITY_KINDS = frozenset({"city"})  # Nominatim's whole-city boundary: not a district

# PostGIS-only geometry columns (generated from lon/lat and GeoJSON by the migration).
_calls_geom = sa.literal_column("calls.geom", Geometry("POINT", srid=4326))
_districts_geom = sa.literal_column("districts.geom", Geometry("MULTIPOLYGON", srid=4326))


def calls_within(
    conn: sa.Connection, lon: float, lat: float, *, radius_m: float, since_s: float, until_s: float
) -> list[str]:
    """Ids of calls created in [since_s, until_s) within `radius_m` metres of (lon, lat)."""
    in_window = sa.and_(calls.c.created_at >= since_s, calls.c.created_at < until_s)
    if is_postgres(conn):
        here = sa.cast(sa.func.ST_SetSRID(sa.func.ST_MakePoint(lon, lat), 4326), Geography)
        near = sa.func.ST_DWithin(sa.cast(_calls_geom, Geography), here, radius_m)
        query = sa.select(calls.c.call_id).select_from(calls).where(in_window, near)
    else:
        query = sa.select(calls.c.call_id).where(in_window, _bbox(lon, lat, radius_m))
        distance = sa.func.h115_haversine_m(lon, lat, calls.c.lon, calls.c.lat)
        query = query.where(distance <= radius_m)
    return list(conn.execute(query.order_by(calls.c.created_at, calls.c.call_id)).scalars())


def _bbox(lon: float, lat: float, radius_m: float) -> sa.ColumnElement[bool]:
    """A lat/lon box that contains the circle (so the index can prune before haversine)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 1e-6)
    dlon = min(180.0, math.degrees(radius_m / (EARTH_RADIUS_M * coslat)))
    return sa.and_(
        calls.c.lat.between(lat - dlat, lat + dlat), calls.c.lon.between(lon - dlon, lon + dlon)
    )


def read_district_features(geojson_file: Path) -> list[dict[str, Any]]:
    """District rows from a Nominatim boundary FeatureCollection (the city outline skipped)."""
    collection = json.loads(Path(geojson_file).read_text(encoding="utf-8"))
    rows = []
    for feature in collection["features"]:
        props = feature["properties"]
        kind = str(props.get("addresstype", "district"))
        if kind in CITY_KINDS:
            continue
        name = str(props["display_name"]).split(",")[0].strip()
        rows.append(
            {
                "district_id": int(props["osm_relation_id"]),
                "name": name.removesuffix(" District"),
                "kind": kind,
                "geojson": json.dumps(feature["geometry"]),
            }
        )
    return rows


def load_districts(conn: sa.Connection, geojson_file: Path) -> int:
    """Replace the districts table with the file's district polygons; returns how many."""
    rows = read_district_features(geojson_file)
    conn.execute(sa.delete(districts))
    if rows:
        conn.execute(sa.insert(districts), rows)
    return len(rows)


def call_counts_by_district(
    conn: sa.Connection, *, since_s: float, until_s: float
) -> dict[str, int]:
    """Calls created in [since_s, until_s) per district name; districts with none give 0."""
    if is_postgres(conn):
        return _counts_postgis(conn, since_s=since_s, until_s=until_s)
    return _counts_shapely(conn, since_s=since_s, until_s=until_s)


def _counts_postgis(conn: sa.Connection, *, since_s: float, until_s: float) -> dict[str, int]:
    joined = districts.outerjoin(
        calls,
        sa.and_(
            sa.func.ST_Intersects(_districts_geom, _calls_geom),
            calls.c.created_at >= since_s,
            calls.c.created_at < until_s,
        ),
    )
    query = (
        sa.select(districts.c.name, sa.func.count(calls.c.call_id))
        .select_from(joined)
        .group_by(districts.c.district_id, districts.c.name)
    )
    return {name: int(n) for name, n in conn.execute(query)}


def _counts_shapely(conn: sa.Connection, *, since_s: float, until_s: float) -> dict[str, int]:
    polygons = [
        (name, prepared.prep(shape(json.loads(text))))
        for name, text in conn.execute(sa.select(districts.c.name, districts.c.geojson))
    ]
    counts = dict.fromkeys((name for name, _ in polygons), 0)
    window = sa.select(calls.c.lon, calls.c.lat).where(
        calls.c.created_at >= since_s, calls.c.created_at < until_s
    )
    for lon, lat in conn.execute(window):
        point = ShapelyPoint(lon, lat)
        for name, polygon in polygons:
            if polygon.intersects(point):
                counts[name] += 1
    return counts
