"""bench/restart_bench.py runs, rebuilds the same state both ways, and the read models win."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_restart_bench_reports_read_models_faster_than_a_replay(
    backend: str, request: pytest.FixtureRequest
) -> None:
    cmd = [sys.executable, "bench/restart_bench.py", "--fixes", "20000"]
    if backend == "postgis":
        cmd += ["--db", request.getfixturevalue("postgis_url")]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(done.stdout)
    assert result["same_state"] is True
    assert result["events"] == 20000 + result["units"]
    assert result["restart_from_read_models_ms"] / 1000 < result["baseline_full_replay_s"]
