"""Isochrone polygons: road points reached within a time, gridded, merged and smoothed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from routing.artifact import Array
from routing.geometry import ArcGeometry, LocalProjection


class AreaBuilder:
    """Turns node travel times into polygons.

    Every arc is sampled every `spacing_m`; a sample is reached when the time at its arc's tail
    plus the share of the arc driven is within the limit. Reached samples mark `cell_m` grid
    cells; the cells are merged and closed by half a cell, so an isochrone is the area within
    about `cell_m / 2` of a reached road (blocks between reached streets included).
    """

    def __init__(
        self,
        arrays: dict[str, Array],
        geom: ArcGeometry,
        proj: LocalProjection,
        *,
        spacing_m: float = 40.0,
        cell_m: float = 100.0,
    ) -> None:
        self.proj, self.cell_m = proj, cell_m
        self.tail = arrays["arc_tail"]
        length = geom.length
        count = np.ceil(length / spacing_m).astype(np.int64) + 1
        self.arc = np.repeat(np.arange(length.size), count)
        first = np.concatenate([[0], np.cumsum(count)[:-1]])
        k = np.arange(self.arc.size) - first[self.arc]
        self.frac = k / np.maximum(count[self.arc] - 1, 1)
        gap = np.concatenate([[0.0], np.cumsum(length + 1.0)[:-1]])
        gcum = geom.cum + gap[geom.arc_of_point]
        where = gap[self.arc] + self.frac * length[self.arc]
        self.x = np.interp(where, gcum, geom.x)
        self.y = np.interp(where, gcum, geom.y)

    def polygon(self, node_s: Array, arc_s: Array, limit_s: float) -> shapely.Geometry:
        """The reached area (local metres) within `limit_s` seconds."""
        t = node_s[self.tail[self.arc]] + self.frac * arc_s[self.arc]
        hit = t <= limit_s
        if not np.any(hit):
            return shapely.Polygon()
        cells = np.unique(
            np.stack([np.floor(self.x[hit] / self.cell_m), np.floor(self.y[hit] / self.cell_m)], 1),
            axis=0,
        )
        x0, y0 = cells[:, 0] * self.cell_m, cells[:, 1] * self.cell_m
        boxes = shapely.box(x0, y0, x0 + self.cell_m, y0 + self.cell_m)
        merged = shapely.coverage_union_all(boxes)
        half = self.cell_m / 2
        smooth = merged.buffer(half, quad_segs=2).buffer(-half, quad_segs=2)
        return shapely.simplify(smooth, self.cell_m / 4)

    def features(self, node_s: Array, arc_s: Array, minutes: Sequence[float]) -> dict[str, Any]:
        """GeoJSON FeatureCollection, one (Multi)Polygon per limit, in the order given."""
        feats = []
        for m in minutes:
            poly = self.polygon(node_s, arc_s, float(m) * 60.0)
            area_km2 = float(poly.area) / 1e6
            lonlat = shapely.transform(
                poly, lambda xy: np.column_stack(self.proj.to_lonlat(xy[:, 0], xy[:, 1]))
            )
            feats.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(shapely.to_geojson(lonlat, indent=None)),
                    "properties": {"minutes": float(m), "area_km2": round(area_km2, 3)},
                }
            )
        return {"type": "FeatureCollection", "features": feats}
