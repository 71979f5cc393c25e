"""Sample typical inner-city trips (Hoàn Kiếm, Ba Đình, Đống Đa, Hai Bà Trưng) for calibration."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

INNER = ("Hoàn Kiếm", "Ba Đình", "Đống Đa", "Hai Bà Trưng")
# Tuesday 24 Nov 2026: 10:00 and 18:00 in Hanoi (UTC+7).
OFFPEAK_AT_S = datetime(2026, 11, 24, 3, 0, tzinfo=UTC).timestamp()
PEAK_AT_S = datetime(2026, 11, 24, 11, 0, tzinfo=UTC).timestamp()


def inner_area(osm_dir: Path) -> shapely.Geometry:
    """Union of the four inner districts' polygons."""
    data = json.loads((osm_dir / "hanoi_admin_boundaries_nominatim.geojson").read_text("utf-8"))
    polys = [
        shapely.geometry.shape(f["geometry"])
        for f in data["features"]
        if f["properties"]["display_name"].split(" District")[0] in INNER
    ]
    assert len(polys) == len(INNER)
    return shapely.union_all(polys)


def inner_trips(router: Any, osm_dir: Path, *, count: int = 120, seed: int = 7) -> list[Any]:
    """Routes (at 10:00 on a weekday) of 3.5-4.5 km between random nodes of the inner districts."""
    area = inner_area(osm_dir)
    lonlat = router.node_lonlat
    inside = np.nonzero(shapely.contains_xy(area, lonlat[:, 0], lonlat[:, 1]))[0]
    rng = np.random.default_rng(seed)
    routes: list[Any] = []
    for _ in range(count * 20):
        a, b = rng.choice(inside, 2, replace=False)
        dx = (lonlat[a, 0] - lonlat[b, 0]) * 104_000
        dy = (lonlat[a, 1] - lonlat[b, 1]) * 111_000
        if not 2_300 <= np.hypot(dx, dy) <= 4_000:
            continue
        o, d = router.snap(*lonlat[a]), router.snap(*lonlat[b])
        route = router.route(o, d, at_s=OFFPEAK_AT_S)
        if route is not None and 3_500 <= route.distance_m <= 4_500:
            routes.append((o, d, route))
        if len(routes) == count:
            break
    return routes
