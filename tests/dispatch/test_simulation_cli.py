"""`hanoi115 simulate`: scenarios side by side, with JSON, CSV, plots and one HTML report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from web.cli import main

GOLDEN_SCENARIO = Path(__file__).parent / "simulation_data" / "golden_hoankiem.toml"


def test_simulate_writes_the_comparison_report(tmp_path: Path, hoankiem_graph_dir: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "simulate", str(GOLDEN_SCENARIO), "erlang_check", "--days", "1",
            "--replications", "2", "--out", str(out), "--graph-dir", str(hoankiem_graph_dir),
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    comparison = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert set(comparison) == {"golden_hoankiem", "erlang_check"}
    for name, kpis in comparison.items():
        assert kpis["replications"] == 2 and kpis["simulated_days"] == 2.0, name
        assert kpis["calls"] > 0
        rows = list(csv.DictReader((out / name / "calls.csv").open(encoding="utf-8")))
        assert len(rows) == kpis["calls"]
        assert {r["replication"] for r in rows} == {"0", "1"}
        assert all(20.9 < float(r["lat"]) < 21.2 and 105.7 < float(r["lon"]) < 106.0 for r in rows)
        assert (out / name / "kpis.csv").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "golden_hoankiem" in page and "erlang_check" in page
    assert "Coverage of the station sets" in page  # the road-graph scenario gets maps
    for image in ("response_cdf.png", "utilisation_by_hour.png"):
        assert (out / image).read_bytes()[:4] == b"\x89PNG"
        assert image in page
    assert list(out.glob("coverage_golden_hoankiem_*.png"))
