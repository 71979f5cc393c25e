"""Load test (issue 6): N calls a minute for M minutes with K websocket clients; prints JSON.

Default: 50 calls a minute for 10 minutes with 300 dispatcher sockets, against a fresh
`hanoi115 serve` started here (its own SQLite file, a bench user made with `hanoi115 user
create`, real sign-in) or against `--url` with `--username/--password`. Each call is created
(with an Idempotency-Key), its first recommended unit assigned, and the call cancelled a few
seconds later (freeing the unit), so the fleet never runs dry.

Reported: HTTP errors and p50/p99 latency per action; on the sockets, event delivery latency
(commit to arrival), call creation to recommendation, and every gap, duplicate or drop.
Target: no errors.

Run: .venv/bin/python bench/load_test.py [--minutes 10] [--calls-per-minute 50] [--clients 300]
     [--graph-dir DIR --stations-file F --fleet-file F]  (the server's data; default: settings)
Short mode (what the test runs): --minutes 0.2 --clients 20.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

PINS = [(105.8522, 21.0285), (105.8500, 21.0180), (105.8480, 21.0330), (105.8440, 21.0250)]


@dataclass
class Results:
    """Everything measured, in milliseconds."""

    http_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    http_errors: list[str] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    recommendation_ms: list[float] = field(default_factory=list)
    socket_errors: list[str] = field(default_factory=list)
    created_at: dict[str, float] = field(default_factory=dict)  # call id -> POST sent (s)
    early: dict[str, list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )  # before the answer
    frames: int = 0
    events: int = 0


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no samples)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)], 2)


async def client_socket(url: str, results: Results, stop_at: float, ready: asyncio.Event) -> None:
    """One dispatcher socket: check seq order, time events and recommendations."""
    last_seq: int | None = None
    try:
        async with websockets.connect(url, max_size=None, open_timeout=30) as ws:
            while time.time() < stop_at:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, stop_at - time.time()))
                except TimeoutError:
                    break
                now = time.time()
                results.frames += 1
                data = json.loads(raw)
                for msg in data if isinstance(data, list) else [data]:
                    kind = msg.get("type")
                    if kind == "snapshot":
                        last_seq = msg["seq"]
                        ready.set()
                    elif kind == "event":
                        results.events += 1
                        if last_seq is not None and msg["seq"] != last_seq + 1:
                            results.socket_errors.append(f"seq {msg['seq']} after {last_seq}")
                        last_seq = msg["seq"]
                        results.event_ms.append(1000 * (now - msg["at_s"]))
                    elif kind == "recommendation":
                        sent = results.created_at.get(msg["call_id"])
                        if sent is not None:
                            results.recommendation_ms.append(1000 * (now - sent))
                        else:  # it beat the HTTP answer that names the call
                            results.early[msg["call_id"]].append(now)
                    elif kind == "error":
                        results.socket_errors.append(f"error frame: {msg.get('message')}")
    except (OSError, websockets.WebSocketException) as exc:
        results.socket_errors.append(f"socket: {type(exc).__name__}: {exc}")


async def timed(results: Results, name: str, request: Any, ok: tuple[int, ...] = (200, 201)) -> Any:
    started = time.perf_counter()
    try:
        res = await request
    except httpx.HTTPError as exc:
        results.http_errors.append(f"{name}: {type(exc).__name__}")
        return None
    results.http_ms[name].append(1000 * (time.perf_counter() - started))
    if res.status_code not in ok:
        results.http_errors.append(f"{name}: {res.status_code} {res.text[:120]}")
        return None
    return res.json()


async def one_call(client: httpx.AsyncClient, i: int, results: Results, hold_s: float) -> None:
    """Create, assign the first recommendation, cancel after `hold_s` (frees the unit)."""
    lon, lat = PINS[i % len(PINS)]
    body = {"pin": {"type": "Point", "coordinates": [lon, lat]}, "priority": "P2"}
    body |= {"caller_phone": f"09{i:08d}", "complaint": f"load test call {i}"}
    sent = time.time()
    key = {"Idempotency-Key": f"load-{i}-{secrets.token_hex(4)}"}
    created = await timed(
        results, "create_call", client.post("/api/v1/calls", json=body, headers=key)
    )
    if created is None:
        return
    call_id = created["call"]["call_id"]
    results.created_at[call_id] = sent
    for arrived in results.early.pop(call_id, []):
        results.recommendation_ms.append(1000 * (arrived - sent))
    free = [r for r in created["recommendations"] if r["reachable"] and not r["diverts_call_id"]]
    if free:
        # A concurrent call may take the same unit first: that 409 is the system working.
        await timed(
            results,
            "assign",
            client.post(f"/api/v1/calls/{call_id}/assign", json={"unit_id": free[0]["unit_id"]}),
            ok=(200, 409),
        )
    await asyncio.sleep(hold_s)
    await timed(
        results,
        "cancel",
        client.post(f"/api/v1/calls/{call_id}/cancel", json={"reason": "duplicate"}),
    )


async def run(args: argparse.Namespace, base: str, token: str) -> dict[str, Any]:
    results = Results()
    duration_s = 60.0 * args.minutes
    ws_url = base.replace("http", "ws", 1) + f"/ws?token={token}"
    stop_at = time.time() + duration_s + 15 + args.hold_s  # connect, run, drain
    readies = [asyncio.Event() for _ in range(args.clients)]
    sockets = [asyncio.create_task(client_socket(ws_url, results, stop_at, r)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=60)
    connected = sum(r.is_set() for r in readies)
    headers = {"Authorization": f"Bearer {token}"}
    interval_s = 60.0 / args.calls_per_minute
    calls = max(1, int(duration_s / interval_s))
    started = time.time()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        jobs = []
        for i in range(calls):
            await asyncio.sleep(max(0.0, started + i * interval_s - time.time()))
            jobs.append(asyncio.create_task(one_call(client, i, results, args.hold_s)))
        await asyncio.gather(*jobs)
        metrics = (await client.get("/metrics")).text
    await asyncio.sleep(1.0)  # let the last events arrive
    for task in sockets:
        task.cancel()
    await asyncio.gather(*sockets, return_exceptions=True)
    return report(
        args,
        results,
        calls=calls,
        connected=connected,
        wall_s=time.time() - started,
        metrics=metrics,
    )


def report(args: argparse.Namespace, results: Results, **figures: Any) -> dict[str, Any]:
    metrics: str = figures.pop("metrics")
    clients_line = [ln for ln in metrics.splitlines() if ln.startswith("h115_websocket_clients ")]
    return {
        "benchmark": "load_test",
        "config": {
            "minutes": args.minutes,
            "calls_per_minute": args.calls_per_minute,
            "clients": args.clients,
            "hold_s": args.hold_s,
        },
        **figures,
        "errors": len(results.http_errors) + len(results.socket_errors),
        "http_errors": results.http_errors[:20],
        "socket_errors": results.socket_errors[:20],
        "http_ms": {
            name: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)}
            for name, v in sorted(results.http_ms.items())
        },
        "event_delivery_ms": {
            "n": len(results.event_ms),
            "p50": percentile(results.event_ms, 50),
            "p99": percentile(results.event_ms, 99),
        },
        "create_to_recommendation_ms": {
            "n": len(results.recommendation_ms),
            "p50": percentile(results.recommendation_ms, 50),
            "p99": percentile(results.recommendation_ms, 99),
        },
        "frames": results.frames,
        "events": results.events,
        "server_websocket_clients": float(clients_line[0].split()[1]) if clients_line else None,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    args: argparse.Namespace, folder: Path
) -> tuple[subprocess.Popen[bytes], str, str, str]:
    """A fresh `hanoi115 serve` with a bench user; returns (process, base URL, user, password)."""
    env = dict(os.environ)
    env |= {
        "H115_ENV": "test",
        "H115_SECRET_KEY": secrets.token_urlsafe(32),
        "H115_DATABASE_URL": f"sqlite:///{folder / 'load.db'}",
    }
    for flag, name in (
        ("graph_dir", "GRAPH_DIR"),
        ("stations_file", "STATIONS_FILE"),
        ("fleet_file", "FLEET_FILE"),
    ):
        if getattr(args, flag):
            env[f"H115_{name}"] = str(getattr(args, flag))
    user, password = "load-dispatcher", secrets.token_urlsafe(12)
    cli = [sys.executable, "-m", "web.cli"]
    made = subprocess.run(
        [*cli, "user", "create", user, "--role", "dispatcher", "--password-stdin"],
        input=password + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if made.returncode != 0:
        raise SystemExit(f"load_test: could not create the bench user: {made.stderr}")
    port = free_port()
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - the server process writes it
    proc = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"load_test: server exited: {(folder / 'server.log').read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base, user, password
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("load_test: server not ready in 120 s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--calls-per-minute", type=float, default=50.0)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--hold-s", type=float, default=5.0, help="assign to cancel delay")
    parser.add_argument("--url", default=None, help="an already running server")
    parser.add_argument("--username", default=None)
    parser.add_argument("--password", default=None)
    parser.add_argument("--graph-dir", type=Path, default=None)
    parser.add_argument("--stations-file", type=Path, default=None)
    parser.add_argument("--fleet-file", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    proc = None
    with tempfile.TemporaryDirectory(prefix="h115-load-") as tmp:
        if args.url:
            base, user, password = args.url.rstrip("/"), args.username, args.password
        else:
            proc, base, user, password = start_server(args, Path(tmp))
        try:
            res = httpx.post(
                f"{base}/api/v1/auth/login", json={"username": user, "password": password}
            )
            res.raise_for_status()
            out = asyncio.run(run(args, base, res.json()["access_token"]))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
