"""Client side of the websocket benchmark: latency samples, listener processes, a bare baseline.

Used by bench/ws_bench.py (kept apart so each file stays small).
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import websockets


@dataclass
class Stats:
    """Latency samples in milliseconds."""

    commit_ms: list[float] = field(default_factory=list)
    recommend_ms: list[float] = field(default_factory=list)
    recommend_arrivals: list[tuple[str, float]] = field(default_factory=list)
    create_http_ms: list[float] = field(default_factory=list)
    recommend_transit_ms: list[float] = field(default_factory=list)  # publish -> arrival
    recommend_published: dict[str, float] = field(default_factory=dict)  # call -> published_s
    events: int = 0
    frames: int = 0
    errors: list[str] = field(default_factory=list)

    def merge(self, other: Stats) -> None:
        self.commit_ms += other.commit_ms
        self.recommend_arrivals += other.recommend_arrivals
        self.recommend_transit_ms += other.recommend_transit_ms
        self.recommend_published.update(other.recommend_published)
        self.events += other.events
        self.frames += other.frames
        self.errors += other.errors


def start_listeners(url: str, clients: int, processes: int, stop_at: float) -> list[Any]:
    """Dispatcher sockets spread over `processes` worker processes."""
    ctx = multiprocessing.get_context("spawn")
    workers = []
    for i in range(processes):
        share = clients // processes + (i < clients % processes)
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=listener_process, args=(url, share, stop_at, sender))
        proc.start()
        workers.append((proc, receiver))
    return workers


def collect_listeners(workers: list[Any]) -> list[Stats]:
    out = []
    for proc, receiver in workers:
        out.append(receiver.recv())
        proc.join(timeout=30)
    return out


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return round(ordered[k], 2)


async def listen(url: str, stats: Stats, stop_at: float) -> None:
    """One client: record commit->arrival of events (checking their seq: no gap, no
    duplicate) and when recommendations arrive. Parses with orjson and waits on the socket
    without a timeout task per frame: the clients share the server's two cores."""
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        closer = asyncio.get_running_loop().call_at(
            asyncio.get_running_loop().time() + max(0.0, stop_at - time.time()),
            lambda: asyncio.ensure_future(ws.close()),
        )
        last_seq: int | None = None
        try:
            async for frame in ws:
                now = time.time()
                stats.frames += 1
                data = orjson.loads(frame)
                for msg in data if isinstance(data, list) else [data]:
                    kind = msg.get("type")
                    if kind == "event":
                        seq = msg["seq"]
                        if last_seq is not None and seq != last_seq + 1:
                            stats.errors.append(f"seq {seq} after {last_seq}")
                        last_seq = seq
                        stats.events += 1
                        stats.commit_ms.append((now - msg["at_s"]) * 1000)
                    elif kind == "snapshot":
                        last_seq = msg["seq"]
                    elif kind == "recommendation":
                        stats.recommend_arrivals.append((msg["call_id"], now))
                        stats.recommend_transit_ms.append((now - msg["published_s"]) * 1000)
                        stats.recommend_published[msg["call_id"]] = msg["published_s"]
        finally:
            closer.cancel()


def listener_process(url: str, clients: int, stop_at: float, out: Any) -> None:
    """A worker process holding `clients` dispatcher sockets (spreads the clients' CPU)."""

    async def main() -> Stats:
        stats = Stats()
        results = await asyncio.gather(
            *(listen(url, stats, stop_at) for _ in range(clients)), return_exceptions=True
        )
        stats.errors += [repr(r) for r in results if isinstance(r, BaseException)]
        return stats

    stats = asyncio.run(main())
    out.send(stats)
    out.close()


async def bare_broadcaster(port: int, rate_per_s: float, stop_at: float) -> None:
    """The baseline: a bare `websockets` server broadcasting position-sized events (no app,
    no database) at the rate the app delivered, to the same number of clients."""
    clients: set[Any] = set()

    async def handler(ws: Any) -> None:
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    data = {"type": "PositionReported", "unit_id": "hq-A1", "actor": "crew:hq-A1",
            "position": {"type": "Point", "coordinates": [105.8565, 21.0245]},
            "source": "avl", "device_at_s": None, "speed_kph": None,
            "heading_deg": None}  # fmt: skip
    async with websockets.serve(handler, "127.0.0.1", port, compression=None):
        seq = 0
        while time.time() < stop_at:
            await asyncio.sleep(1.0 / rate_per_s)
            seq += 1
            message = {"v": 1, "type": "event", "seq": seq, "kind": "unit_position",
                       "at_s": time.time(), "unit_id": "hq-A1", "data": data}  # fmt: skip
            websockets.broadcast(clients, json.dumps(message, separators=(",", ":")))
