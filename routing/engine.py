"""The query engine: snap, ETAs, routes, coverage and isochrones on a compiled graph.

ETAs and routes run on RoutingKit's customizable contraction hierarchy (`routingkit_cch`): one
CCH from the node order stored in the artifact, one metric per time band of the profile.
Coverage (sources -> every node) is one multi-source scipy Dijkstra over the CSR arrays.
All times are seconds and include the off-road legs at both ends (see `Snap`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import routingkit_cch as rk

from routing import legs
from routing.areas import AreaBuilder
from routing.artifact import Array, Artifact, read_artifact
from routing.bands import BandQueries
from routing.coverage import CoverageGraph
from routing.errors import OutsideServiceArea, RoutingError
from routing.geometry import ArcGeometry, LocalProjection
from routing.legs import Option
from routing.pinned import PinCache, PinnedSet
from routing.profile import Profile, parse_profile
from routing.routes import Route, assemble_route
from routing.snapping import PointLike, Snap, SnapIndex
from routing.streets import StreetIndex
from routing.trees import SourceTrees, TargetTables


class Router:
    """Travel times on one compiled graph.

    Thread-safe: each thread gets its own RoutingKit query objects and CCH queries are
    serialised by a lock (they take well under a millisecond).
    """

    def __init__(self, artifact: Artifact, *, snap_max_m: float | None = None) -> None:
        self.meta = artifact.meta
        self.arrays = artifact.arrays
        self.profile: Profile = parse_profile(artifact.profile_text)
        self.snap_max_m = self.profile.snap_max_m if snap_max_m is None else float(snap_max_m)
        a = self.arrays
        self.band_names: tuple[str, ...] = tuple(str(b) for b in a["band_names"])
        self._band_ix = {b: i for i, b in enumerate(self.band_names)}
        self.proj = LocalProjection(float(a["node_lon"].mean()), float(a["node_lat"].mean()))
        self.geom = ArcGeometry(a["geom_offsets"], a["geom_lon"], a["geom_lat"], self.proj)
        self._snapper = SnapIndex(self.geom, a["arc_rev"], self.proj)
        self._streets = StreetIndex(a, self.geom)
        self._coverage = CoverageGraph(a["arc_tail"], a["arc_head"], a["node_lon"].size)
        self._cch = rk.CCH(
            a["cch_order"].tolist(), a["arc_tail"].tolist(), a["arc_head"].tolist(), False
        )
        self._bands: dict[int, BandQueries] = {}
        self._pinned = {b: (PinCache(), PinCache()) for b in range(len(self.band_names))}
        self._tables = TargetTables(a["arc_tail"], a["arc_head"], a["node_lon"].size)
        self._trees = SourceTrees(a["arc_tail"], a["arc_head"], a["node_lon"].size)
        self._rtrees = SourceTrees(a["arc_tail"], a["arc_head"], a["node_lon"].size, reverse=True)
        self._areas: AreaBuilder | None = None
        self._names = [str(n) for n in a["street_names"]]
        self._lock = threading.Lock()

    @classmethod
    def load(cls, graph_dir: Path, *, snap_max_m: float | None = None) -> Router:
        """Load a compiled graph folder; `snap_max_m` None uses the profile's limit (500 m)."""
        started = time.perf_counter()
        router = cls(read_artifact(Path(graph_dir)), snap_max_m=snap_max_m)
        for b in range(len(router.band_names)):
            router._band(b)
        router.load_s = time.perf_counter() - started
        return router

    load_s: float = 0.0

    # ----- graph data -------------------------------------------------------------------
    @property
    def node_lonlat(self) -> Array:
        """(N, 2) float array of node lon, lat."""
        return np.column_stack([self.arrays["node_lon"], self.arrays["node_lat"]])

    @property
    def node_count(self) -> int:
        return int(self.arrays["node_lon"].size)

    def band_at(self, at_s: float) -> str:
        """Name of the profile time band in force at `at_s` (epoch seconds UTC)."""
        return self.profile.band_at(at_s)

    def band_weights(self) -> dict[str, Array]:
        """Integer milliseconds per arc for every band: the exact weights every query uses."""
        return {b: self.arrays["band_ms"][i] for i, b in enumerate(self.band_names)}

    def arc_times_s(self, at_s: float) -> Array:
        """Travel time (s) of every arc for a departure at `at_s` (band weights / 1000)."""
        return self._weights(self.band_at(at_s)).astype(np.float64) / 1000.0

    def _weights(self, band: str) -> Array:
        return self.arrays["band_ms"][self._band_ix[band]]  # type: ignore[no-any-return]

    def _band(self, b: int) -> BandQueries:
        if b not in self._bands:
            self._bands[b] = BandQueries(self._cch, self.arrays["band_ms"][b])
        return self._bands[b]

    # ----- snapping ---------------------------------------------------------------------
    def snap(self, lon: float, lat: float) -> Snap:
        """Nearest point on a road edge; raises `OutsideServiceArea` beyond the snap limit."""
        return self.snap_many([lon], [lat])[0]

    def snap_many(self, lons: Sequence[float], lats: Sequence[float]) -> list[Snap]:
        """Vectorised `snap` for many points (raises on the first point out of the area)."""
        qlon, qlat = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
        if not (np.all(np.isfinite(qlon)) and np.all(np.isfinite(qlat))):
            raise RoutingError("coordinates must be finite numbers")
        near = self._snapper.nearest(qlon, qlat)
        far = np.nonzero(near.distance_m > self.snap_max_m)[0]
        if far.size:
            i = int(far[0])
            raise OutsideServiceArea(qlon[i], qlat[i], float(near.distance_m[i]), self.snap_max_m)
        names = self.arrays["arc_name"][near.arc]
        return [
            Snap(
                lon=float(near.lon[i]),
                lat=float(near.lat[i]),
                query_lon=float(qlon[i]),
                query_lat=float(qlat[i]),
                edge=int(near.arc[i]),
                fraction=float(near.fraction[i]),
                offroad_m=float(near.distance_m[i]),
                offroad_s=self.profile.offroad_s(float(near.distance_m[i])),
                street=str(self.arrays["street_names"][names[i]]) if names[i] >= 0 else None,
            )
            for i in range(qlon.size)
        ]

    # ----- snap -> graph entry and exit options (see routing.legs) ---------------------
    def _leave(self, s: Snap, w: Array) -> list[Option]:
        return legs.leave(self.arrays, s, w)

    def _enter(self, s: Snap, w: Array) -> list[Option]:
        return legs.enter(self.arrays, s, w)

    def _direct(self, o: Snap, d: Snap, w: Array) -> legs.Direct | None:
        return legs.direct(self.arrays, o, d, w)

    # ----- ETAs -------------------------------------------------------------------------
    def _own(self, p: PointLike) -> Snap:
        """A `Snap` of this graph for any point-like (other objects are snapped again)."""
        return p if isinstance(p, Snap) else self.snap(p.lon, p.lat)

    def eta_many_to_one(
        self, origins: Sequence[PointLike], dest: PointLike, *, at_s: float
    ) -> list[float | None]:
        """Seconds from each origin to `dest` departing at `at_s`; None where unreachable."""
        if not origins:
            return []
        b = self._band_ix[self.band_at(at_s)]
        w = self.arrays["band_ms"][b]
        one = self._own(dest)
        into = self._rtrees.tree(b, one, self._enter, w) if type(dest) is Snap else None
        if into is not None:  # a tree into the destination answers every origin
            many = [self._own(o) for o in origins]
            return [self._from_tree(into, self._leave(o, w), o, one, w) for o in many]
        enter = self._enter(one, w)
        out: list[float | None] = [None] * len(origins)
        rest: list[int] = []
        for i, origin in enumerate(origins):
            tree = self._trees.tree(b, origin, self._leave, w) if type(origin) is Snap else None
            if tree is None:
                rest.append(i)
            else:
                out[i] = self._from_tree(tree, enter, origin, one, w)  # type: ignore[arg-type]
        if rest:
            asked = [origins[i] for i in rest] if len(rest) < len(origins) else origins
            for i, value in zip(rest, self._many_to_one(asked, one, enter, b, w), strict=True):
                out[i] = value
        return out

    def _many_to_one(
        self, origins: Sequence[PointLike], one: Snap, enter: list[Option], b: int, w: Array
    ) -> list[float | None]:
        """`eta_many_to_one` by one CCH query (origins pinned as sources)."""
        sources = self._pinned[b][0].get(origins, lambda s: self._leave(s, w))
        if sources is None:  # not all `Snap`s: snap them, pin them for this query only
            sources = PinnedSet.build([self._own(o) for o in origins], lambda s: self._leave(s, w))
        with self._lock:
            dist = self._band(b).to_one(sources, enter)
        if len(sources.snaps) == 1:
            return [self._single(dist, sources.extra, sources.snaps[0], one, w)]
        best = sources.best_ms(dist)
        for k in sources.by_edge.get(one.edge, ()):
            self._shortcut(best, k, sources.snaps[k], one, w)
        return _seconds(best / 1000.0 + sources.offroad_s + one.offroad_s)

    def _from_tree(
        self, tree: Array, options: list[Option], o: Snap, d: Snap, w: Array
    ) -> float | None:
        """Seconds from `o` to `d` with a `SourceTrees` tree of `o` (`options`: the entry
        options of `d`) or a reverse one of `d` (the exit options of `o`): the CCH path's sums."""
        ms: float | None = None
        for node, extra in options:
            t = tree.item(node)
            if t != math.inf and (ms is None or t + extra < ms):
                ms = t + extra
        direct = self._direct(o, d, w) if o.edge == d.edge else None
        if direct is not None and (ms is None or direct[0] < ms):
            ms = direct[0]
        return None if ms is None else ms / 1000.0 + o.offroad_s + d.offroad_s

    def eta_one_to_many(
        self, origin: PointLike, dests: Sequence[PointLike], *, at_s: float
    ) -> list[float | None]:
        """Seconds from `origin` to each destination departing at `at_s`; None where unreachable."""
        if not dests:
            return []
        b = self._band_ix[self.band_at(at_s)]
        w = self.arrays["band_ms"][b]
        one = self._own(origin)
        targets = self._pinned[b][1].get(dests, lambda s: self._enter(s, w))
        if targets is None:
            targets = PinnedSet.build([self._own(d) for d in dests], lambda s: self._enter(s, w))
        leave = self._leave(one, w)
        table = self._tables.table(targets, w) if len(targets.snaps) > 1 else None
        if table is not None:
            best = targets.best_from_table(table, leave)
        else:
            with self._lock:
                dist = self._band(b).from_one(targets, leave)
            if len(targets.snaps) == 1:
                return [self._single(dist, targets.extra, one, targets.snaps[0], w)]
            best = targets.best_ms(dist)
        for k in targets.by_edge.get(one.edge, ()):
            self._shortcut(best, k, one, targets.snaps[k], w)
        return _seconds(best / 1000.0 + one.offroad_s + targets.offroad_s)

    def _single(
        self, dist: list[int | None], extra: list[int], o: Snap, d: Snap, w: Array
    ) -> float | None:
        """One origin and one destination: the same sums as the array path, in plain Python."""
        ms = min((x + e for x, e in zip(dist, extra, strict=True) if x is not None), default=None)
        direct = self._direct(o, d, w) if o.edge == d.edge else None
        if direct is not None and (ms is None or direct[0] < ms):
            ms = direct[0]
        return None if ms is None else ms / 1000.0 + o.offroad_s + d.offroad_s

    def _shortcut(self, best: Array, k: int, o: Snap, d: Snap, w: Array) -> None:
        """Same-road trips: take the direct drive along the edge when it is shorter."""
        direct = self._direct(o, d, w)
        if direct is not None and not (best[k] <= direct[0]):  # NaN: unreachable otherwise
            best[k] = direct[0]

    # ----- routes -----------------------------------------------------------------------
    def route(self, origin: PointLike, dest: PointLike, *, at_s: float) -> Route | None:
        """Fastest route departing at `at_s`, or None when `dest` cannot be reached."""
        origin, dest = self._own(origin), self._own(dest)
        band = self.band_at(at_s)
        b = self._band_ix[band]
        w = self.arrays["band_ms"][b]
        leave, enter = self._leave(origin, w), self._enter(dest, w)
        with self._lock:
            res = self._band(b).query.run_multi(leave, enter)
            ms, nodes, arcs = res.distance, list(res.node_path), list(res.arc_path)
            del res
        pieces: list[tuple[int, float, float]] | None = None
        if ms is not None:
            pieces = self._pieces(origin, dest, nodes, arcs, leave, enter)
        direct = self._direct(origin, dest, w)
        if direct is not None and (ms is None or direct[0] <= ms):
            ms, pieces = direct[0], [direct[1]]
        if ms is None or pieces is None:
            return None
        return assemble_route(
            pieces,
            geom=self.geom,
            arrays=self.arrays,
            weights_ms=w,
            origin=origin,
            dest=dest,
            drive_ms=int(ms),
            band=band,
            names=self._names,
        )

    def _pieces(
        self,
        o: Snap,
        d: Snap,
        nodes: list[int],
        arcs: list[int],
        leave: list[Option],
        enter: list[Option],
    ) -> list[tuple[int, float, float]]:
        a_o, r_o = o.edge, int(self.arrays["arc_rev"][o.edge])
        a_d, r_d = d.edge, int(self.arrays["arc_rev"][d.edge])
        start = min((ms, i) for i, (n, ms) in enumerate(leave) if n == nodes[0])[1]
        end = min((ms, i) for i, (n, ms) in enumerate(enter) if n == nodes[-1])[1]
        # Option 0 uses the snapped arc, option 1 its reverse or (one-way) the node it stands on.
        first = (a_o, o.fraction, 1.0) if start == 0 else (r_o, 1.0 - o.fraction, 1.0)
        last = (a_d, 0.0, d.fraction) if end == 0 else (r_d, 0.0, 1.0 - d.fraction)
        if start == 1 and r_o < 0:
            first = (a_o, o.fraction, o.fraction)
        if end == 1 and r_d < 0:
            last = (a_d, d.fraction, d.fraction)
        return [first, *[(a, 0.0, 1.0) for a in arcs], last]

    def position_along(self, route: Route, elapsed_s: float) -> tuple[float, float]:
        """lon, lat of a vehicle `elapsed_s` seconds after starting `route` (clamped)."""
        return route.position_at(elapsed_s)

    # ----- coverage ---------------------------------------------------------------------
    def coverage(self, sources: Sequence[PointLike], *, at_s: float) -> Array:
        """Seconds from the nearest source to every node (float array, inf: unreachable).

        Includes each source's off-road leg; node times exclude any leg at the far end.
        """
        band = self.band_at(at_s)
        w = self._weights(band)
        snaps = [self._own(p) for p in sources]
        seeds = [(n, ms / 1000.0 + s.offroad_s) for s in snaps for n, ms in self._leave(s, w)]
        return self._coverage.times(band, w, seeds)

    def point_times(self, node_s: Array, points: Sequence[PointLike], *, at_s: float) -> Array:
        """Seconds to each point given `coverage` node times: best way onto its road + off-road.

        `node_s` must come from `coverage(..., at_s)` with the same band; inf if unreachable.
        """
        snaps = [self._own(p) for p in points]
        if not snaps:
            return np.zeros(0)
        a = self.arrays
        w = self._weights(self.band_at(at_s)).astype(np.float64) / 1000.0
        edge = np.array([s.edge for s in snaps])
        frac = np.array([s.fraction for s in snaps])
        rev = a["arc_rev"][edge]
        best = node_s[a["arc_tail"][edge]] + frac * w[edge]
        has = rev >= 0
        back = node_s[a["arc_head"][edge]] + (1.0 - frac) * np.where(has, w[np.maximum(rev, 0)], 0)
        best = np.where(has, np.minimum(best, back), best)
        at_head = (1.0 - frac) * a["arc_length_m"][edge] < 0.05  # on the head node of a one-way arc
        best = np.where(at_head & ~has, np.minimum(best, node_s[a["arc_head"][edge]]), best)
        return np.asarray(best + np.array([s.offroad_s for s in snaps]), dtype=np.float64)

    def isochrones(
        self, sources: Sequence[PointLike], *, at_s: float, minutes: Sequence[float] = (8, 15)
    ) -> dict[str, Any]:
        """GeoJSON FeatureCollection: the area reached within each number of minutes."""
        times = self.coverage(sources, at_s=at_s)
        w = self.arc_times_s(at_s)
        if self._areas is None:
            self._areas = AreaBuilder(self.arrays, self.geom, self.proj)
        return self._areas.features(times, w, minutes)

    # ----- streets and drawing -------------------------------------------------------------
    def street_names(self) -> list[str]:
        """Every single street name in the graph, sorted."""
        return self._streets.names()

    def search_streets(self, text: str, limit: int = 10) -> list[dict[str, Any]]:
        """Streets whose name contains `text`, ignoring case and Vietnamese diacritics."""
        return self._streets.search(text, limit)

    def network_geojson(
        self, *, classes: Sequence[str] | None = None, simplify_m: float = 0.0
    ) -> dict[str, Any]:
        """Roads as a GeoJSON FeatureCollection (one feature per road, both ways once), cached."""
        return self._streets.network(classes=classes, simplify_m=simplify_m, proj=self.proj)

    def info(self) -> dict[str, Any]:
        """Summary for `hanoi115 graph info` and the web's health page."""
        return {
            "nodes": self.node_count,
            "arcs": int(self.arrays["arc_tail"].size),
            "bands": list(self.band_names),
            "snap_max_m": self.snap_max_m,
            "load_s": round(self.load_s, 3),
            "meta": self.meta,
        }


def _seconds(times: Array) -> list[float | None]:
    """A float array with NaN for unreachable, as a list with None."""
    return [None if t != t else t for t in times.tolist()]
