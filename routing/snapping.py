"""Snap points to the nearest road edge (not node): an STRtree over the edges' segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import shapely

from routing.artifact import Array
from routing.geometry import ArcGeometry, LocalProjection


class PointLike(Protocol):
    """What callers hand back to the engine: a `Snap`, or any point with these attributes
    (`dispatch.ports.SnappedPoint`); a point that is not a `Snap` is snapped again."""

    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def offroad_m(self) -> float: ...
    @property
    def offroad_s(self) -> float: ...


@dataclass(frozen=True)
class Snap:
    """A point tied to the road graph.

    `edge` is an arc index and `fraction` the position along it (0 = tail, 1 = head) by length;
    on a two-way road the opposite arc (`arc_rev`) is usable too. `offroad_m` is the
    straight-line distance from the query point to the road, `offroad_s` the time to cover it
    on foot with a stretcher (profile [offroad]); it is added to every time the engine returns.
    """

    lon: float
    lat: float
    query_lon: float
    query_lat: float
    edge: int
    fraction: float
    offroad_m: float
    offroad_s: float
    street: str | None

    def __post_init__(self) -> None:
        # Snaps key memos (hashed on every lookup): hash once. Equal snaps have equal fields,
        # so a hash of a few numeric ones is consistent with ==, and the same in every process.
        object.__setattr__(
            self, "_hash", hash((self.edge, self.fraction, self.query_lon, self.query_lat))
        )

    def __hash__(self) -> int:
        return self._hash  # type: ignore[no-any-return,attr-defined]


@dataclass(frozen=True)
class Nearest:
    """Raw nearest-edge result in arrays (one row per query point)."""

    arc: Array
    fraction: Array
    lon: Array
    lat: Array
    distance_m: Array


class SnapIndex:
    """Nearest point on any road, over one arc per physical road (two-way roads once)."""

    def __init__(self, geom: ArcGeometry, arc_rev: Array, proj: LocalProjection) -> None:
        self.geom, self.proj = geom, proj
        arcs = np.arange(arc_rev.size)
        canonical = (arc_rev < 0) | (arcs < arc_rev)
        pts = geom.arc_of_point
        starts = np.nonzero((pts[1:] == pts[:-1]) & canonical[pts[:-1]])[0]
        self.seg_start = starts
        self.seg_arc = pts[starts]
        x, y = geom.x, geom.y
        coords = np.stack(
            [np.stack([x[starts], y[starts]], 1), np.stack([x[starts + 1], y[starts + 1]], 1)], 1
        )
        self.tree = shapely.STRtree(shapely.linestrings(coords))

    def nearest(self, lon: Array, lat: Array) -> Nearest:
        """Nearest road point for each query point (lon/lat arrays)."""
        qx, qy = self.proj.to_xy(np.atleast_1d(lon), np.atleast_1d(lat))
        (qi, si), _ = self.tree.query_nearest(
            shapely.points(qx, qy), return_distance=True, all_matches=True
        )
        # Ties (a point equidistant from two segments): keep the lowest segment, deterministic.
        order = np.lexsort((si, qi))
        qi, si = qi[order], si[order]
        first = np.concatenate([[True], qi[1:] != qi[:-1]])
        seg = np.empty(qx.size, dtype=np.int64)
        seg[qi[first]] = si[first]
        return self._project(qx, qy, seg)

    def _project(self, qx: Array, qy: Array, seg: Array) -> Nearest:
        g, start = self.geom, self.seg_start[seg]
        ax, ay, bx, by = g.x[start], g.y[start], g.x[start + 1], g.y[start + 1]
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        t = np.where(len2 > 0, ((qx - ax) * dx + (qy - ay) * dy) / np.where(len2 > 0, len2, 1), 0)
        t = np.clip(t, 0.0, 1.0)
        px, py = ax + t * dx, ay + t * dy
        arc = self.seg_arc[seg]
        along = g.cum[start] + t * np.sqrt(len2)
        total = g.length[arc]
        fraction = np.clip(np.where(total > 0, along / np.where(total > 0, total, 1), 0), 0, 1)
        lon, lat = self.proj.to_lonlat(px, py)
        return Nearest(arc, fraction, lon, lat, np.hypot(qx - px, qy - py))
