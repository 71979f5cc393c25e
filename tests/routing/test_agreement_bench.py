"""The routing benchmark's quick mode runs end to end, so the script cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, graph_cache_root, shared_osm_dir


@pytest.mark.postgis
@pytest.mark.slow
def test_quick_benchmark_reports_every_figure(postgis_url: str, hoankiem_graph_dir: Path) -> None:
    env = {
        **os.environ,
        "H115_TEST_GRAPH_CACHE": str(graph_cache_root()),
        "H115_SHARED_OSM": str(shared_osm_dir()),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "routing_bench.py"), "--quick", "--pg", postgis_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    out = json.loads(done.stdout)
    build, load, engine = out["build"], out["load"], out["engine"]
    assert build["build_s"] > 0 and build["same_as_cache"] is True  # deterministic build
    assert build["counts"]["nodes"] == out["graph"]["nodes"] > 500
    assert 0 < load["load_s"] < 2.0 and 0 <= load["graph_memory_mb"] < 500
    assert engine["band"] == "day" and engine["stations_in_area"] >= 1
    for key in ("snap", "eta_50_to_1", "eta_50_to_1_station_fleet", "route"):
        assert 0 < engine[key]["p50_ms"] <= engine[key]["p99_ms"] < 1000, key
    assert engine["coverage_stations_to_all_nodes"]["n"] == 5
    eta, route = out["peers_eta_50_to_1"], out["peers_route"]
    assert set(eta["timings"]) == {"engine", "networkx", "pgrouting", "pgrouting_many_to_one"}
    assert set(route["timings"]) == {"engine", "networkx", "pgrouting"}
    assert eta["engine_speedup_p50"]["vs_pgrouting"] > 1.0  # even on 775 nodes
    agreements = [*eta["agreement"].values(), *route["agreement"].values()]
    agreements.append(out["peers_coverage"]["agreement"]["networkx"])
    assert len(agreements) == 6
    for agreement in agreements:
        assert agreement["agree"] and agreement["compared"] > 0 and agreement["missing"] == 0
        assert agreement["max_rel_diff"] <= 1e-3
    targets = out["targets"]
    assert targets["agreement_max_rel_diff"]["met"] and targets["all_agree"]["met"]
    assert targets["load_s"]["met"]
    assert set(targets) >= {"eta_50_to_1_p99_ms", "route_p99_ms", "coverage_p99_ms",
                            "graph_memory_mb", "eta_speedup_vs_networkx",
                            "eta_speedup_vs_pgrouting"}  # fmt: skip
