"""Restart benchmark (prints JSON): how long a restarting server takes to rebuild its live
state from a log holding many AVL fixes, from the read models (what it does) against a replay
of the whole event log (the baseline, in the same run).

    .venv/bin/python bench/restart_bench.py                     # 200,000 fixes, SQLite file
    .venv/bin/python bench/restart_bench.py --fixes 50000 --db postgresql://...

Every AVL fix is a committed `PositionReported` event: 60 units at 1 Hz write about 5.2
million a day, so a replay grows with the log while the read models do not.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dispatch import commands as cmd  # noqa: E402
from dispatch import events as ev  # noqa: E402
from dispatch.livelog import LiveLog  # noqa: E402
from dispatch.model import DispatchState, EventSource, Point  # noqa: E402
from dispatch.repository import SqlRepository  # noqa: E402
from dispatch.transitions import Batch  # noqa: E402
from stations.loaders import load_fleet, load_stations  # noqa: E402

T0 = 1_790_000_000.0
BATCH = 1000  # fixes per commit (the live AVL writer groups fixes the same way)


def fill(repo: SqlRepository, fixes: int, seed: int = 0) -> int:
    """Register the default fleet, then append `fixes` position reports; returns units."""
    stations = {s.station_id: s for s in load_stations()}
    fleet = load_fleet(list(stations.values()))
    state, batch = DispatchState(), Batch()
    meta = cmd.Meta(at_s=T0, actor="bench", source=EventSource.SYSTEM)
    cmd.register_units(state, batch, meta, fleet=fleet, stations=stations)
    repo.append(batch.events, expected_versions=batch.expected_versions)
    units = sorted(state.units.values(), key=lambda u: u.unit_id)
    rng = random.Random(seed)
    for start in range(0, fixes, BATCH):
        events = []
        for i in range(start, min(fixes, start + BATCH)):
            unit = units[i % len(units)]
            here = Point(
                unit.home.lon + rng.uniform(-0.01, 0.01), unit.home.lat + rng.uniform(-0.01, 0.01)
            )
            events.append(
                ev.PositionReported(
                    at_s=T0 + i / len(units), actor=f"crew:{unit.unit_id}", source=EventSource.AVL,
                    unit_id=unit.unit_id, position=here,
                )
            )  # fmt: skip
        repo.append(events, expected_versions={})
    return len(units)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=200_000)
    parser.add_argument(
        "--db", default=None, help="database URL (default: a temporary SQLite file)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'restart.db'}"
        repo = SqlRepository.open(url, migrate=True)
        try:
            started = time.perf_counter()
            units = fill(repo, args.fixes)
            fill_s = time.perf_counter() - started
            started = time.perf_counter()
            live = LiveLog(repo)  # what DispatchService does when the server starts
            restart_s = time.perf_counter() - started
            started = time.perf_counter()
            replayed = repo.replay_state()
            replay_s = time.perf_counter() - started
            result = {
                "benchmark": "restart",
                "database": "postgresql" if repo.is_postgis else "sqlite",
                "units": units,
                "events": repo.last_seq(),
                "fill_s": round(fill_s, 2),
                "restart_from_read_models_ms": round(restart_s * 1000, 1),
                "baseline_full_replay_s": round(replay_s, 2),
                "speedup": round(replay_s / restart_s),
                "replay_s_per_million_events": round(replay_s / repo.last_seq() * 1e6, 1),
                "same_state": live.state == replayed,
            }
        finally:
            repo.close()
    print(json.dumps(result, indent=2))
    return 0 if result["same_state"] else 1


if __name__ == "__main__":
    sys.exit(main())
