"""The websocket benchmark's quick mode runs end to end and reports sane figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.server
@pytest.mark.slow
def test_ws_bench_quick(hoankiem_graph_dir: Path) -> None:
    cmd = [sys.executable, "bench/ws_bench.py", "--quick", "--graph-dir", str(hoankiem_graph_dir)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["errors"] == []
    assert result["clients"] == 30 and result["units_reporting"] == 6
    assert result["calls_created"] >= 1
    # 24 dispatcher sockets each receive every event: positions and the calls' events.
    assert result["events_received"] >= 24 * 20
    commit = result["commit_to_client_ms"]
    assert 0 < commit["p50"] <= commit["p99"] < 5000
    rec = result["call_to_recommendation_ms"]
    assert rec["samples"] >= 24 and 0 < rec["p50"] <= rec["p99"] < 5000
    assert result["server"]["positions_written"] > 0
