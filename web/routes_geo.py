"""REST: map data (road network, stations, hospitals), street search, routes, settings for pages."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from routing.geocode import geocode_online
from web.context import Context, get_context
from web.errors import about_field
from web.protocol import PROTOCOL_VERSION
from web.schemas import GeoPoint, RouteRequest

router = APIRouter(prefix="/api/v1", tags=["map"])
Ctx = Annotated[Context, Depends(get_context)]


@router.get("/config", summary="Settings the pages need (map bounds, tiles, protocol version)")
def get_config(ctx: Ctx) -> dict[str, Any]:
    west, south, east, north = ctx.bounds
    return {
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2],
        "tile_url": ctx.settings.tile_url,
        "heartbeat_timeout_s": ctx.settings.heartbeat_timeout_s,
        "ack_alert_s": ctx.settings.ack_alert_s,
        "protocol_version": PROTOCOL_VERSION,
        "demo": ctx.demo,
        "server_time_s": time.time(),
        "attribution": "© OpenStreetMap contributors",
    }


@router.get(
    "/network",
    summary="The road network as a GeoJSON FeatureCollection, for drawing the map",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}},
)
def get_network(ctx: Ctx) -> Response:
    body = ctx.cache.get("network")
    if body is None:
        simplify_m = 0.0 if ctx.router.node_count < 20_000 else 4.0
        doc = ctx.router.network_geojson(simplify_m=simplify_m)
        body = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
        ctx.cache["network"] = body
    return Response(
        content=body, media_type="application/geo+json", headers={"Cache-Control": "max-age=3600"}
    )


@router.get(
    "/streets",
    summary="Search street names (case- and diacritics-insensitive); OpenStreetMap geocoding "
    "(Nominatim) added when H115_GEOCODE_ONLINE is on",
)
def search_streets(
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=100, description="part of a name")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[dict[str, Any]]:
    out = []
    for hit in ctx.router.search_streets(_street_part(q), limit):
        lon, lat = _hit_lonlat(hit)
        out.append({"name": hit["name"], "location": GeoPoint.of(lon, lat), "source": "streets"})
    if ctx.settings.geocode_online and len(out) < limit:
        found = geocode_online(q)
        if found is not None:
            out.append({"name": q, "location": GeoPoint.of(*found), "source": "nominatim"})
    return out


_HOUSE_NUMBER = re.compile(r"^\s*(?:số\s*)?\d+[\w/]*\s*,?\s+", re.IGNORECASE)


def _street_part(address: str) -> str:
    """ "11 Phan Chu Trinh" -> "Phan Chu Trinh": our OSM data names streets, not houses."""
    return _HOUSE_NUMBER.sub("", address, count=1) or address


def _hit_lonlat(hit: dict[str, Any]) -> tuple[float, float]:
    if "lon" in hit:
        return float(hit["lon"]), float(hit["lat"])
    coords = hit["location"]["coordinates"]
    return float(coords[0]), float(coords[1])


@router.get("/stations", summary="Ambulance stations (GeoJSON FeatureCollection)")
def get_stations(ctx: Ctx) -> dict[str, Any]:
    features = [
        _feature(
            s.lon,
            s.lat,
            station_id=s.station_id,
            name=s.name,
            host=s.host,
            confidence=s.confidence,
            source=s.source,
            is_hq=s.is_hq,
        )
        for s in ctx.stations
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get("/hospitals", summary="Hospitals that receive emergencies (GeoJSON)")
def get_hospitals(ctx: Ctx) -> dict[str, Any]:
    features = [
        _feature(h.lon, h.lat, hospital_id=h.hospital_id, name=h.name, reason=h.reason)
        for h in ctx.hospitals
    ]
    return {"type": "FeatureCollection", "features": features}


@router.post("/routes", summary="Fastest route between two points (GeoJSON Feature with steps)")
def post_route(ctx: Ctx, body: RouteRequest) -> dict[str, Any]:
    with about_field("origin"):
        origin = ctx.router.snap(*body.origin.coordinates)
    with about_field("destination"):
        dest = ctx.router.snap(*body.destination.coordinates)
    route = ctx.router.route(origin, dest, at_s=body.at_s or time.time())
    if route is None:
        return {"type": "Feature", "geometry": None, "properties": {"reachable": False}}
    feature = route.to_geojson()
    feature["properties"]["reachable"] = True
    return feature


def _feature(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": GeoPoint.of(lon, lat), "properties": props}
