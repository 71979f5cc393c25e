"""The benchmark's peers: networkx and pgRouting answering the engine's queries node to node.

Every peer runs on the arcs and integer-millisecond weights of one time band taken from the
compiled artifact (`routing.export.to_networkx`, the exported PostGIS tables), and the engine
is queried with `routing.export.node_snap` snaps, so all three compute the same shortest-path
durations and must agree up to float rounding. Timings are wall-clock milliseconds per query;
pgRouting's include its round trip and the edges SQL it reads on every call (how it is used).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import psycopg

from routing.engine import Router
from routing.export import export_postgis, node_snap, pg_conninfo, pgr_edges_sql, to_networkx

ADMIN_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
TOLERANCE = 1e-3  # 0.1 %
WARMUP = 3  # untimed calls before each timed series (first-call costs are not steady state)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Milliseconds one call of `fn` takes, and its result."""
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000.0, result


def stats(ms: Sequence[float]) -> dict[str, float]:
    """p50, p99 and mean of a series of milliseconds."""
    arr = np.asarray(ms, dtype=float)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 4),
        "p99_ms": round(float(np.percentile(arr, 99)), 4),
        "mean_ms": round(float(arr.mean()), 4),
        "n": int(arr.size),
    }


@dataclass
class Agreement:
    """Largest relative difference between engine and peer durations over compared pairs."""

    compared: int = 0
    max_rel_diff: float = 0.0
    missing: int = 0  # reachable for one side only
    worst: list[Any] = field(default_factory=list)

    def add(self, engine_s: float | None, peer_s: float | None, what: Any) -> None:
        self.compared += 1
        if (engine_s is None) != (peer_s is None):
            self.missing += 1
            self.worst = [what, engine_s, peer_s]
            return
        if engine_s is None or peer_s is None:
            return
        rel = abs(engine_s - peer_s) / max(peer_s, 1e-3)
        if rel > self.max_rel_diff:
            self.max_rel_diff, self.worst = rel, [what, engine_s, peer_s]

    @property
    def agree(self) -> bool:
        return self.compared > 0 and self.missing == 0 and self.max_rel_diff <= TOLERANCE

    def report(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "max_rel_diff": self.max_rel_diff,
            "missing": self.missing,
            "agree": self.agree,
            "worst": self.worst,
        }


@contextlib.contextmanager
def bench_database(pg: str | None) -> Iterator[str]:
    """`pg` as given, or a temporary database on the local server, dropped afterwards."""
    if pg is not None:
        yield pg
        return
    name = f"h115_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_PG.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_PG, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PgRouting:
    """pgRouting queries on the exported tables for one band (costs in seconds)."""

    def __init__(self, conn: psycopg.Connection[Any], band: str) -> None:
        self.conn = conn
        self.fwd, self.rev = pgr_edges_sql(band), pgr_edges_sql(band, reverse=True)

    def _costs(self, sql: str, params: tuple[Any, ...]) -> dict[int, float]:
        return {int(v): float(c) for v, c in self.conn.execute(sql, params).fetchall()}

    def to_incident(self, origins: list[int], incident: int) -> dict[int, float]:
        """One search from the incident over reversed arcs: each origin's time to it."""
        sql = "SELECT end_vid, agg_cost FROM pgr_dijkstraCost(%s, %s, %s::bigint[])"
        return self._costs(sql, (self.rev, incident, origins))

    def many_to_one(self, origins: list[int], incident: int) -> dict[int, float]:
        """The many-to-one signature (pgRouting 3.4 runs one search per origin)."""
        sql = "SELECT start_vid, agg_cost FROM pgr_dijkstraCost(%s, %s::bigint[], %s)"
        return self._costs(sql, (self.fwd, origins, incident))

    def route(self, source: int, target: int) -> float | None:
        """Duration of `pgr_dijkstra`'s path (its last row's agg_cost)."""
        sql = "SELECT agg_cost FROM pgr_dijkstra(%s, %s, %s) ORDER BY seq"
        rows = self.conn.execute(sql, (self.fwd, source, target)).fetchall()
        return float(rows[-1][0]) if rows else (0.0 if source == target else None)


@dataclass(frozen=True)
class PeerRun:
    """One comparison run: the engine, its graph folder, band departure time and sizes."""

    router: Router
    graph_dir: Path
    at_s: float
    etas: int
    routes: int
    station_nodes: list[int]


def peer_section(run: PeerRun, rng: np.random.Generator, pg_url: str | None) -> dict[str, Any]:
    """Timings, speed ratios and agreement of networkx and (if `pg_url`) pgRouting."""
    band = run.router.band_at(run.at_s)
    started = time.perf_counter()
    fwd, rev = to_networkx(run.router, band), to_networkx(run.router, band, reverse=True)
    out: dict[str, Any] = {"networkx_graph_build_s": round(time.perf_counter() - started, 2)}
    pgr = None
    with contextlib.ExitStack() as stack:
        if pg_url is not None:
            export = export_postgis(run.graph_dir, pg_url)
            out["export_postgis_s"] = round(export.seconds, 2)
            out["pgrouting_installed"] = export.pgrouting
        if pg_url is not None and out["pgrouting_installed"]:
            conn = stack.enter_context(psycopg.connect(pg_conninfo(pg_url), autocommit=True))
            pgr = PgRouting(conn, band)
        out["peers_eta_50_to_1"] = _peer_etas(run, rng, rev, pgr)
        out["peers_route"] = _peer_routes(run, rng, fwd, pgr)
    out["peers_coverage"] = _peer_coverage(run, fwd)
    return out


def _warm(calls: Sequence[Callable[[], Any]]) -> None:
    for _ in range(WARMUP):
        for call in calls:
            call()


def _peer_etas(
    run: PeerRun, rng: np.random.Generator, rev: nx.DiGraph, pgr: PgRouting | None
) -> dict[str, Any]:
    router, n = run.router, run.router.node_count
    agree = {
        "networkx": Agreement(),
        "pgrouting": Agreement(),
        "pgrouting_many_to_one": Agreement(),
    }
    ms: dict[str, list[float]] = {k: [] for k in ("engine", *agree)}
    for i in range(run.etas):
        incident = int(rng.integers(n))
        origins = [int(o) for o in rng.choice(n, 50, replace=False)]
        o_snaps = [node_snap(router, o, origin=True) for o in origins]
        d_snap = node_snap(router, incident, origin=False)
        calls: dict[str, Callable[[], Any]] = {
            "engine": lambda: router.eta_many_to_one(o_snaps, d_snap, at_s=run.at_s),  # noqa: B023
            "networkx": lambda: nx.single_source_dijkstra_path_length(rev, incident),  # noqa: B023
        }
        if pgr is not None:
            calls["pgrouting"] = lambda: pgr.to_incident(origins, incident)  # noqa: B023
            calls["pgrouting_many_to_one"] = lambda: pgr.many_to_one(origins, incident)  # noqa: B023
        if i == 0:
            _warm(list(calls.values()))
        results = {}
        for name, call in calls.items():
            t, results[name] = timed(call)
            ms[name].append(t)
        for o, eta_s in zip(origins, results["engine"], strict=True):
            for name in calls.keys() - {"engine"}:
                ms_or_s = results[name].get(o, 0.0 if o == incident else None)
                peer_s = ms_or_s / 1000.0 if name == "networkx" and ms_or_s is not None else ms_or_s
                agree[name].add(eta_s, peer_s, [o, incident])
    return _peer_report(ms, agree)


def _peer_routes(
    run: PeerRun, rng: np.random.Generator, fwd: nx.DiGraph, pgr: PgRouting | None
) -> dict[str, Any]:
    router, n = run.router, run.router.node_count
    agree = {"networkx": Agreement(), "pgrouting": Agreement()}
    ms: dict[str, list[float]] = {"engine": [], "networkx": [], "pgrouting": []}
    for i in range(run.routes):
        s, t = (int(v) for v in rng.integers(n, size=2))
        o, d = node_snap(router, s, origin=True), node_snap(router, t, origin=False)
        calls: dict[str, Callable[[], Any]] = {
            "engine": lambda: router.route(o, d, at_s=run.at_s),  # noqa: B023
            "networkx": lambda: nx.bidirectional_dijkstra(fwd, s, t)[0] / 1000.0,  # noqa: B023
        }
        if pgr is not None:
            calls["pgrouting"] = lambda: pgr.route(s, t)  # noqa: B023
        if i == 0:
            _warm(list(calls.values()))
        results = {}
        for name, call in calls.items():
            elapsed, results[name] = timed(call)
            ms[name].append(elapsed)
        route = results["engine"]
        engine_s = None if route is None else float(route.duration_s)
        for name in calls.keys() - {"engine"}:
            agree[name].add(engine_s, results[name], [s, t])
    return _peer_report(ms, agree)


def _peer_report(ms: dict[str, list[float]], agree: dict[str, Agreement]) -> dict[str, Any]:
    timings = {k: stats(v) for k, v in ms.items() if v}
    engine = timings["engine"]["p50_ms"]
    return {
        "timings": timings,
        "engine_speedup_p50": {
            f"vs_{k}": round(v["p50_ms"] / engine, 1) for k, v in timings.items() if k != "engine"
        },
        "agreement": {k: a.report() for k, a in agree.items() if a.compared},
    }


def _peer_coverage(run: PeerRun, fwd: nx.DiGraph) -> dict[str, Any]:
    """Engine coverage from the stations' nodes against networkx's multi-source Dijkstra."""
    router = run.router
    if not run.station_nodes:
        return {}
    seeds = [node_snap(router, v, origin=True) for v in run.station_nodes]
    times = router.coverage(seeds, at_s=run.at_s)
    dist = nx.multi_source_dijkstra_path_length(fwd, run.station_nodes)
    agree = Agreement()
    for v in range(router.node_count):
        engine_s = None if np.isinf(times[v]) else float(times[v])
        agree.add(engine_s, dist[v] / 1000.0 if v in dist else None, v)
    return {"agreement": {"networkx": agree.report()}}
