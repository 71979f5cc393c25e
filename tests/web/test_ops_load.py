"""The load script in its short mode, against a real server it starts: no errors, figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.server, pytest.mark.slow]


def test_load_script_short_mode(
    tmp_path: Path, web_data_dir: Path, hoankiem_graph_dir: Path
) -> None:
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(REPO / "bench" / "load_test.py"), "--minutes", "0.1"]
    cmd += ["--calls-per-minute", "60", "--clients", "20", "--hold-s", "1", "--out", str(out)]
    cmd += [
        "--graph-dir",
        str(hoankiem_graph_dir),
        "--stations-file",
        str(web_data_dir / "stations.geojson"),
    ]
    cmd += ["--fleet-file", str(web_data_dir / "fleet.json")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["errors"] == 0 and report["connected"] == 20 == report["server_websocket_clients"]
    assert report["http_ms"]["create_call"]["n"] == report["calls"] == 6
    # Every socket saw every call's recommendation, and events arrived in order.
    assert report["create_to_recommendation_ms"]["n"] == 6 * 20
    assert report["event_delivery_ms"]["n"] >= 6 * 3 * 20
    assert 0 < report["event_delivery_ms"]["p99"] < 5000
