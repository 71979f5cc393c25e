"""Planar geometry for the engine: a local metric projection, arc polylines, slices, bearings."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing.artifact import Array

_M_PER_DEG = 6_371_009.0 * math.pi / 180.0


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection around the graph's centre: metres east/north of it.

    Within a city (tens of km) its distance error stays under 0.1 %, which is plenty for
    snapping and drawing; travel distances use the arcs' great-circle lengths.
    """

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return _M_PER_DEG * math.cos(math.radians(self.lat0))

    @property
    def ky(self) -> float:
        return _M_PER_DEG

    def to_xy(self, lon: Array, lat: Array) -> tuple[Array, Array]:
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def to_lonlat(self, x: Array, y: Array) -> tuple[Array, Array]:
        return np.asarray(x) / self.kx + self.lon0, np.asarray(y) / self.ky + self.lat0


class ArcGeometry:
    """Arc polylines in lon/lat and local metres, with cumulative distance along each arc."""

    def __init__(self, offsets: Array, lon: Array, lat: Array, proj: LocalProjection) -> None:
        self.offsets = offsets
        self.lon, self.lat = lon, lat
        self.x, self.y = proj.to_xy(lon, lat)
        step = np.hypot(np.diff(self.x), np.diff(self.y))
        sizes = np.diff(offsets)
        self.arc_of_point = np.repeat(np.arange(sizes.size), sizes)
        same_arc = self.arc_of_point[1:] == self.arc_of_point[:-1]
        step = np.where(same_arc, step, 0.0)
        cum = np.concatenate([[0.0], np.cumsum(step)])
        self.cum = cum - cum[offsets[:-1]][self.arc_of_point]  # metres from the arc's tail
        self.length = self.cum[offsets[1:] - 1]  # planar length of each arc

    def slice(self, arc: int, f0: float, f1: float) -> tuple[Array, Array, Array]:
        """lon, lat and distance-from-f0 (metres) of arc `arc` between fractions f0 <= f1."""
        lo, hi = int(self.offsets[arc]), int(self.offsets[arc + 1])
        cum = self.cum[lo:hi]
        if f0 <= 0.0 and f1 >= 1.0:  # the whole arc: its own vertices
            return self.lon[lo:hi], self.lat[lo:hi], cum
        total = float(self.length[arc])
        d0, d1 = f0 * total, f1 * total
        inner = np.nonzero((cum > d0) & (cum < d1))[0]
        dist = np.concatenate([[d0], cum[inner], [d1]])
        lon = np.interp(dist, cum, self.lon[lo:hi]) if total > 0 else np.full(2, self.lon[lo])
        lat = np.interp(dist, cum, self.lat[lo:hi]) if total > 0 else np.full(2, self.lat[lo])
        return lon, lat, dist - d0

    def point_at(self, arc: int, fraction: float) -> tuple[float, float]:
        """lon, lat at a fraction of an arc's length."""
        lon, lat, _ = self.slice(arc, fraction, fraction)
        return float(lon[0]), float(lat[0])


def bearing_deg(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    """Compass bearing (degrees clockwise from north) from one point to another."""
    dx = (lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2))
    dy = lat1 - lat0
    return math.degrees(math.atan2(dx, dy)) % 360.0


def turn_name(delta_deg: float) -> str:
    """Turn kind for a change of heading in degrees (-180, 180], positive clockwise (right)."""
    size = abs(delta_deg)
    if size < 25:
        return "straight"
    side = "right" if delta_deg > 0 else "left"
    if size < 60:
        return f"slight {side}"
    if size < 150:
        return side
    return "u-turn"
