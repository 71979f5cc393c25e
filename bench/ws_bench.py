"""Websocket hub benchmark: many clients, units reporting positions, a stream of calls (JSON).

Starts `hanoi115 serve` in its own process (a real uvicorn server on loopback, SQLite, the
Hoàn Kiếm graph by default), connects `--clients` websocket clients (one crew socket per unit,
the rest dispatchers), has every unit report a position every second over its socket and
creates `--calls-per-min` calls over REST. Reports, as JSON:

* commit -> arrival: for every event received by every client, arrival time minus the
  event's server time `at_s` (stamped just before its commit, so this slightly overstates);
  each socket checks that its events' `seq` follow one another (no gap, no duplicate);
* call -> recommendation: from sending POST /calls to the `recommendation` message arriving
  on each dispatcher socket.

Targets (issue 4): p99 under 100 ms and under 150 ms on a 2-core machine.
`--quick` runs a small, short configuration (used by the test suite).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ws_load import (
    Stats,
    bare_broadcaster,
    collect_listeners,
    percentile,
    start_listeners,
)

REPO = Path(__file__).resolve().parents[1]
HK_OSM = "hanoi_hoankiem_drive_small.osm.bz2"
# Stations inside the Hoàn Kiếm extract (HQ from ../shared/reference/hanoi115.md; the others
# are benchmark fixtures, not real stations).
BENCH_STATIONS = [("hq", 105.8565, 21.0245), ("b1", 105.8480, 21.0330), ("b2", 105.8530, 21.0180)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_fixture_data(folder: Path, units: int) -> tuple[Path, Path]:
    """A stations file (inside the Hoàn Kiếm extract) and a fleet with `units` ambulances."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": sid, "name": sid, "source": "benchmark", "confidence": "bench"},
        }
        for sid, lon, lat in BENCH_STATIONS
    ]
    stations = folder / "stations.geojson"
    stations.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    per = [units // len(BENCH_STATIONS) + (i < units % len(BENCH_STATIONS)) for i in range(3)]
    fleet = {
        "turnout_s": {"ambulance": 60, "motorbike": 30},
        "stations": {
            sid: [{"type": "ambulance", "count": n, "crew_size": 3, "shift": "bench"}]
            for (sid, _, _), n in zip(BENCH_STATIONS, per, strict=True)
        },
        "default_station": [{"type": "ambulance", "count": 1, "crew_size": 3, "shift": "b"}],
    }
    fleet_file = folder / "fleet.json"
    fleet_file.write_text(json.dumps(fleet))
    return stations, fleet_file


SECRET_KEY = secrets.token_urlsafe(32)
_USERS: dict[str, Any] = {}  # "store": the benchmark database's users (set by start_server)


def token(role: str, unit_id: str | None = None) -> str:
    """A bearer token signed with the benchmark server's key, for a user made on first use
    (web.security checks the signature and that the user exists and is active)."""
    from web.security.accounts import Principal, Role, issue_token

    principal = Principal(username=f"bench-{unit_id or role}", role=Role(role), unit_id=unit_id)
    if principal.username not in _USERS:
        password = secrets.token_urlsafe(12)
        _USERS["store"].create(principal.username, password, role=role, unit_id=unit_id)
        _USERS[principal.username] = True
    return issue_token(principal, secret_key=SECRET_KEY, ttl_s=3600)  # new user: generation 0


def start_server(work: Path, graph_dir: Path, units: int, port: int) -> subprocess.Popen[bytes]:
    from dispatch.db.engine import make_engine
    from dispatch.db.migrate import upgrade
    from web.security.accounts import UserStore

    stations, fleet = write_fixture_data(work, units)
    database_url = f"sqlite:///{work / 'bench.db'}"
    upgrade(database_url)  # the users table, for the benchmark's users
    _USERS["store"] = UserStore(make_engine(database_url))
    env = {
        **os.environ,
        "H115_ENV": "test",
        "H115_SECRET_KEY": SECRET_KEY,
        "H115_GRAPH_DIR": str(graph_dir),
        "H115_OSM_FILE": str(_osm_dir() / HK_OSM),
        "H115_DATABASE_URL": database_url,
        "H115_STATIONS_FILE": str(stations),
        "H115_FLEET_FILE": str(fleet),
    }
    cmd = [sys.executable, "-m", "web.cli", "serve", "--port", str(port)]
    log = open(work / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def _osm_dir() -> Path:
    return Path(os.environ.get("H115_SHARED_OSM", REPO.parent / "shared" / "osm")).resolve()


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {token('dispatcher')}"}
    async with httpx.AsyncClient(headers=headers) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                if (await client.get(f"{base}/api/v1/config")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("server did not start")


async def crew(url: str, unit: dict[str, Any], stop: asyncio.Event, rng: random.Random) -> None:
    """A crew device: heartbeat and a position every second, wandering near its start."""
    lon, lat = unit["geometry"]["coordinates"]
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        drain = asyncio.create_task(_drain(ws))
        await asyncio.sleep(rng.random())
        while not stop.is_set():
            lon += rng.uniform(-2e-4, 2e-4)
            lat += rng.uniform(-2e-4, 2e-4)
            await ws.send(json.dumps({"type": "heartbeat", "device_time_s": time.time()}))
            await ws.send(json.dumps({"type": "position", "lon": lon, "lat": lat}))
            await asyncio.sleep(1.0)
        drain.cancel()


async def _drain(ws: Any) -> None:
    async for _ in ws:
        pass


async def make_calls(base: str, rate_per_min: float, pending: dict[str, float],
                     stop: asyncio.Event, stats: Stats) -> None:  # fmt: skip
    rng = random.Random(115)
    west, south, east, north = 105.845, 21.020, 105.858, 21.034
    headers = {"Authorization": f"Bearer {token('dispatcher')}"}
    async with httpx.AsyncClient(base_url=base, timeout=10, headers=headers) as client:
        await asyncio.sleep(2.0)
        while not stop.is_set():
            body = {
                "caller_phone": "0912345678",
                "address_text": "bench",
                "pin": {
                    "type": "Point",
                    "coordinates": [rng.uniform(west, east), rng.uniform(south, north)],
                },
                "priority": rng.choice(["P1", "P2", "P3"]),
                "complaint": "benchmark",
            }
            sent = time.time()
            res = await client.post("/api/v1/calls", json=body)
            stats.create_http_ms.append((time.time() - sent) * 1000)
            if res.status_code == 201:
                pending[res.json()["call"]["call_id"]] = sent
            else:
                stats.errors.append(f"POST /calls {res.status_code}: {res.text[:200]}")
            await asyncio.sleep(60.0 / rate_per_min)


async def run_baseline(clients: int, rate_per_s: float, seconds: float, processes: int) -> Stats:
    port = free_port()
    stop_at = time.time() + 1.5 + seconds
    cmd = [sys.executable, __file__, "--bare-broadcaster", str(port), str(rate_per_s),
           str(stop_at)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO)
    await asyncio.sleep(1.0)
    workers = start_listeners(f"ws://127.0.0.1:{port}/", clients, processes, stop_at - 0.2)
    stats = Stats()
    for worker_stats in await asyncio.to_thread(collect_listeners, workers):
        stats.merge(worker_stats)
    proc.wait(timeout=30)
    return stats


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="h115_wsbench_"))
    graph_dir = Path(args.graph_dir) if args.graph_dir else work / "graph"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(work, graph_dir, args.units, port)
    stats = Stats()
    try:
        await wait_ready(base, proc)
        headers = {"Authorization": f"Bearer {token('dispatcher')}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            units = (await client.get("/api/v1/units")).json()["features"][: args.units]
        stop = asyncio.Event()
        pending: dict[str, float] = {}
        ws = f"ws://127.0.0.1:{port}/ws"
        n_dispatch = max(1, args.clients - len(units))
        stop_at = time.time() + 1.0 + args.seconds
        url = f"{ws}?role=dispatcher&token={token('dispatcher')}"
        workers = start_listeners(url, n_dispatch, args.processes, stop_at)
        await asyncio.sleep(1.0)
        rng = random.Random(7)
        tasks = [
            asyncio.create_task(
                crew(
                    f"{ws}?role=crew&token={token('crew', u['properties']['unit_id'])}",
                    u,
                    stop,
                    rng,
                )
            )
            for u in units
        ]
        tasks.append(
            asyncio.create_task(make_calls(base, args.calls_per_min, pending, stop, stats))
        )
        await asyncio.sleep(args.seconds * 0.8)
        async with httpx.AsyncClient(base_url=base, headers=headers) as client:
            server_stats = (await client.get("/api/v1/live")).json()
        for worker_stats in await asyncio.to_thread(collect_listeners, workers):
            stats.merge(worker_stats)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
        for task in tasks:
            if task.done() and task.exception() is not None:
                stats.errors.append(repr(task.exception()))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    stats.recommend_ms = [
        (arrived - pending[call_id]) * 1000
        for call_id, arrived in stats.recommend_arrivals
        if call_id in pending
    ]
    server_ms = [  # from sending POST /calls to the server handing the advice to the hub
        (published - pending[call_id]) * 1000
        for call_id, published in stats.recommend_published.items()
        if call_id in pending
    ]
    result = report(args, stats, n_dispatch, len(units), len(pending))
    result["call_to_recommendation_ms"]["post_to_published_ms"] = sorted(
        round(v, 1) for v in server_ms
    )
    result["server"] = server_stats
    if args.baseline:
        rate = max(1.0, stats.events / max(1, n_dispatch) / args.seconds)
        seconds = min(args.seconds, 20.0)
        base_stats = await run_baseline(n_dispatch, rate, seconds, args.processes)
        p99 = percentile(base_stats.commit_ms, 99)
        result["baseline_bare_websockets"] = {
            "what": "bare websockets.broadcast server, same clients, same event rate, no app/db",
            "events_per_s": round(rate, 1),
            "events_received": base_stats.events,
            "p50_ms": percentile(base_stats.commit_ms, 50),
            "p99_ms": p99,
            "errors": base_stats.errors[:5],
        }
        app_p99 = result["commit_to_client_ms"]["p99"]
        if p99 and app_p99:
            result["commit_to_client_ms"]["p99_vs_baseline"] = round(app_p99 / p99, 2)
    return result


def report(args: argparse.Namespace, stats: Stats, dispatchers: int, units: int,
           calls: int) -> dict[str, Any]:  # fmt: skip
    return {
        "benchmark": "ws_hub",
        "clients": dispatchers + units,
        "dispatcher_clients": dispatchers,
        "units_reporting": units,
        "seconds": args.seconds,
        "calls_created": calls,
        "events_received": stats.events,
        "frames_received": stats.frames,
        "commit_to_client_ms": {
            "p50": percentile(stats.commit_ms, 50),
            "p99": percentile(stats.commit_ms, 99),
            "max": percentile(stats.commit_ms, 100),
            "target_p99": 100,
        },
        "call_to_recommendation_ms": {
            "p50": percentile(stats.recommend_ms, 50),
            "p99": percentile(stats.recommend_ms, 99),
            "samples": len(stats.recommend_ms),
            "target_p99": 150,
            "post_calls_round_trip_ms_p50": percentile(stats.create_http_ms, 50),
            "publish_to_client_ms_p50": percentile(stats.recommend_transit_ms, 50),
            "publish_to_client_ms_p99": percentile(stats.recommend_transit_ms, 99),
        },
        "errors": stats.errors[:20],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--units", type=int, default=60)
    parser.add_argument("--calls-per-min", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--graph-dir", default=None, help="compiled graph (default: build HK)")
    parser.add_argument("--processes", type=int, default=2, help="client worker processes")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the bare-websockets baseline run")  # fmt: skip
    parser.add_argument("--bare-broadcaster", nargs=3, metavar=("PORT", "RATE", "STOP_AT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="30 clients, 6 units, 8 s")
    args = parser.parse_args(argv)
    if args.bare_broadcaster:
        port, rate, stop_at = args.bare_broadcaster
        asyncio.run(bare_broadcaster(int(port), float(rate), float(stop_at)))
        return 0
    if args.quick:
        args.clients, args.units, args.seconds, args.calls_per_min = 30, 6, 8.0, 20.0
        args.processes, args.baseline = 1, False
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    return 0 if not result["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
