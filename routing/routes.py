"""Routes: road geometry, named turn-by-turn steps and positions along the way, from arc pieces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing.artifact import Array
from routing.geometry import ArcGeometry, bearing_deg, turn_name
from routing.snapping import Snap

_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")
_VERB = {
    "straight": "Continue onto",
    "slight left": "Keep slightly left onto",
    "slight right": "Keep slightly right onto",
    "left": "Turn left onto",
    "right": "Turn right onto",
    "u-turn": "Make a U-turn onto",
}
UNNAMED = "unnamed road"
SEPARATOR = " / "  # joins the names of a merged edge, see routing.artifact


@dataclass(frozen=True)
class Step:
    """One named stretch of a route: `maneuver` is depart, straight, slight left/right, left,
    right, u-turn, offroad or arrive; `lon, lat` is where the step begins."""

    name: str
    distance_m: float
    duration_s: float
    instruction: str
    maneuver: str = "straight"
    lon: float = 0.0
    lat: float = 0.0


@dataclass(frozen=True)
class Route:
    """A route between two snapped points.

    `distance_m` is the driven road distance; `duration_s` is door to door (off-road start +
    drive + off-road end), equal to the ETA the engine gives for the same pair and time.
    `geometry` follows the roads from the first snapped point to the last (partial first and
    last edges included); the off-road legs are reported apart (`offroad_*`).
    """

    distance_m: float
    duration_s: float
    drive_s: float
    geometry: dict[str, Any]
    steps: list[Step]
    offroad_start_m: float
    offroad_end_m: float
    offroad_start_s: float
    offroad_end_s: float
    band: str
    arcs: tuple[int, ...] = field(repr=False)
    track_lon: tuple[float, ...] = field(repr=False, compare=False)
    track_lat: tuple[float, ...] = field(repr=False, compare=False)
    track_s: tuple[float, ...] = field(repr=False, compare=False)

    def to_geojson(self) -> dict[str, Any]:
        """The route as a GeoJSON Feature (LineString plus summary and steps as properties)."""
        return {
            "type": "Feature",
            "geometry": self.geometry,
            "properties": {
                "distance_m": round(self.distance_m, 1),
                "duration_s": round(self.duration_s, 1),
                "drive_s": round(self.drive_s, 1),
                "offroad_start_m": round(self.offroad_start_m, 1),
                "offroad_end_m": round(self.offroad_end_m, 1),
                "band": self.band,
                "steps": [
                    {
                        "name": s.name,
                        "distance_m": round(s.distance_m, 1),
                        "duration_s": round(s.duration_s, 1),
                        "instruction": s.instruction,
                        "maneuver": s.maneuver,
                        "lon": s.lon,
                        "lat": s.lat,
                    }
                    for s in self.steps
                ],
            },
        }

    def position_at(self, elapsed_s: float) -> tuple[float, float]:
        """lon, lat after `elapsed_s` seconds along the route (clamped to its ends)."""
        t = np.asarray(self.track_s)
        lon = float(np.interp(elapsed_s, t, np.asarray(self.track_lon)))
        lat = float(np.interp(elapsed_s, t, np.asarray(self.track_lat)))
        return lon, lat


@dataclass(frozen=True)
class _Piece:
    arc: int
    name: int
    lon: Array
    lat: Array
    distance_m: float
    duration_s: float
    elapsed: Array  # seconds from the piece's start at each vertex


def assemble_route(
    pieces: list[tuple[int, float, float]],
    *,
    geom: ArcGeometry,
    arrays: dict[str, Array],
    weights_ms: Array,
    origin: Snap,
    dest: Snap,
    drive_ms: int,
    band: str,
    names: list[str],
) -> Route:
    """Build a `Route` from arc pieces (arc, from fraction, to fraction) in driving order."""
    # Zero-length pieces (a point exactly on a node) would add steps with no distance.
    pieces = [p for p in pieces if p[2] - p[1] > 1e-9] or pieces[:1]
    parts = [_piece(p, geom, arrays, weights_ms) for p in pieces]
    lon, lat, times = [origin.query_lon], [origin.query_lat], [0.0]
    clock = origin.offroad_s
    for part in parts:
        lon.extend(part.lon.tolist())
        lat.extend(part.lat.tolist())
        times.extend((clock + part.elapsed).tolist())
        clock += part.duration_s
    drive_s = drive_ms / 1000.0
    lon.append(dest.query_lon)
    lat.append(dest.query_lat)
    times.append(clock + dest.offroad_s)
    coords = _dedupe([[a, b] for a, b in zip(lon[1:-1], lat[1:-1], strict=True)])
    return Route(
        distance_m=sum(p.distance_m for p in parts),
        duration_s=origin.offroad_s + drive_s + dest.offroad_s,
        drive_s=drive_s,
        geometry={"type": "LineString", "coordinates": coords},
        steps=_steps(parts, names, origin, dest),
        offroad_start_m=origin.offroad_m,
        offroad_end_m=dest.offroad_m,
        offroad_start_s=origin.offroad_s,
        offroad_end_s=dest.offroad_s,
        band=band,
        arcs=tuple(p.arc for p in parts),
        track_lon=tuple(lon),
        track_lat=tuple(lat),
        track_s=tuple(times),
    )


def _piece(
    p: tuple[int, float, float], geom: ArcGeometry, arrays: dict[str, Array], w: Array
) -> _Piece:
    arc, f0, f1 = p
    lon, lat, dist = geom.slice(arc, f0, f1)
    duration = float(w[arc]) * (f1 - f0) / 1000.0
    span = float(dist[-1])
    elapsed = dist / span * duration if span > 0 else np.linspace(0.0, duration, dist.size)
    return _Piece(
        arc=arc,
        name=int(arrays["arc_name"][arc]),
        lon=lon,
        lat=lat,
        distance_m=float(arrays["arc_length_m"][arc]) * (f1 - f0),
        duration_s=duration,
        elapsed=elapsed,
    )


def _dedupe(coords: list[list[float]]) -> list[list[float]]:
    out = [coords[0]] if coords else []
    for c in coords[1:]:
        if c != out[-1]:
            out.append(c)
    if len(out) == 1:
        out.append(list(out[0]))  # a LineString needs two positions even for a zero-length route
    return out


def _heading(lon: list[float], lat: list[float], *, at_end: bool) -> float | None:
    """Heading (degrees) leaving the first point, or arriving at the last one."""
    n = len(lon)
    order = range(n - 1, 0, -1) if at_end else range(n - 1)
    step = -1 if at_end else 1
    for i in order:
        j = i + step
        if lon[i] != lon[j] or lat[i] != lat[j]:
            h = bearing_deg(lon[i], lat[i], lon[j], lat[j])
            return (h + 180.0) % 360.0 if at_end else h
    return None


def _group_by_name(parts: list[_Piece], names: list[str]) -> list[tuple[set[str], list[_Piece]]]:
    """Consecutive pieces sharing a street name form one step ("A", "A / B", "B" -> A, B)."""
    groups: list[tuple[set[str], list[_Piece]]] = []
    for part in parts:
        own = set(names[part.name].split(SEPARATOR)) if part.name >= 0 else set()
        if groups and (groups[-1][0] & own or (not groups[-1][0] and not own)):
            common, members = groups[-1]
            groups[-1] = (common & own, [*members, part])
        else:
            groups.append((own, [part]))
    return groups


def _steps(parts: list[_Piece], names: list[str], origin: Snap, dest: Snap) -> list[Step]:
    steps: list[Step] = []
    if origin.offroad_m >= 1.0:
        steps.append(
            Step(
                "",
                origin.offroad_m,
                origin.offroad_s,
                f"Off-road {origin.offroad_m:.0f} m to the road",
                "offroad",
                origin.query_lon,
                origin.query_lat,
            )
        )
    prev_heading: float | None = None
    for i, (common, group) in enumerate(_group_by_name(parts, names)):
        lon = np.concatenate([p.lon for p in group]).tolist()
        lat = np.concatenate([p.lat for p in group]).tolist()
        name = SEPARATOR.join(sorted(common))
        label = name or UNNAMED
        start = _heading(lon, lat, at_end=False)
        if i == 0 or prev_heading is None or start is None:
            compass = _COMPASS[int(((start or 0.0) + 22.5) // 45) % 8]
            maneuver, text = "depart", f"Head {compass} on {label}"
        else:
            maneuver = turn_name((start - prev_heading + 180.0) % 360.0 - 180.0)
            text = f"{_VERB[maneuver]} {label}"
        dist = sum(p.distance_m for p in group)
        dur = sum(p.duration_s for p in group)
        steps.append(Step(name, dist, dur, text, maneuver, lon[0], lat[0]))
        prev_heading = _heading(lon, lat, at_end=True) or prev_heading
    if dest.offroad_m >= 1.0:
        steps.append(
            Step(
                "",
                dest.offroad_m,
                dest.offroad_s,
                f"Off-road {dest.offroad_m:.0f} m on foot with the stretcher",
                "offroad",
                dest.lon,
                dest.lat,
            )
        )
    steps.append(
        Step("", 0.0, 0.0, "Arrive at the destination", "arrive", dest.query_lon, dest.query_lat)
    )
    return steps
