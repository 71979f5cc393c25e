"""Hospitals and district polygons travel inside the graph folder (routing.places): the build
copies them, and the service, planner and simulator read them there, never the shared folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from routing.artifact import file_sha256, read_meta
from routing.build import build_graph
from routing.errors import ArtifactError, GraphBuildError
from routing.places import PlaceKind, place_file
from stations.loaders import load_hospitals
from stations.population import node_population
from tests.conftest import shared_place_files
from web.cli import main

REPO = Path(__file__).resolve().parents[2]
SMALL = "hanoi_hoankiem_drive_small.osm.bz2"
GOLDEN = REPO / "tests" / "dispatch" / "simulation_data" / "golden_hoankiem.toml"

# Runs the real service start-up, the planner's population and a simulation from one graph
# folder, recording every file opened under the shared OSM folder (there must be none).
PROBE = """
import json, sys
from pathlib import Path
shared, opened = sys.argv[1], []
sys.addaudithook(lambda ev, a: opened.append(str(a[0])) if ev == "open"
                 and str(a[0]).startswith(shared) else None)
from fastapi.testclient import TestClient
from dispatch.simulation.runner import run_scenario
from dispatch.simulation.scenario import load_scenario
from web.app import create_app
from web.routes_planner import _population
from web.settings import Settings
settings = Settings()
with TestClient(create_app(settings)) as client:
    ready = client.get("/readyz").status_code
    ctx = client.app.state.ctx
    people = _population(ctx).total
    hospitals = [h.hospital_id for h in ctx.hospitals]
sim = run_scenario(load_scenario(Path(sys.argv[2])), graph_dir=settings.graph_dir)
print(json.dumps({"ready": ready, "hospitals": hospitals, "people": people,
                  "sim": [sim.kpis["calls"], sim.kpis["calls_by_outcome"]], "opened": opened}))
"""


@pytest.fixture(scope="module")
def built(osm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A graph folder built by the CLI with explicit --hospitals and --districts."""
    out = tmp_path_factory.mktemp("places") / "graph"
    files = shared_place_files(osm_dir)
    argv = ["graph", "build", "--osm", str(osm_dir / SMALL), "--out", str(out)]
    argv += ["--hospitals", str(files["hospitals_file"])]
    argv += ["--districts", str(files["districts_file"])]
    assert main(argv) == 0
    return out


def test_build_copies_the_place_files_and_records_them(built: Path, osm_dir: Path) -> None:
    meta = read_meta(built)
    sources: dict[PlaceKind, Path] = {
        "hospitals": osm_dir / "hanoi_hospitals_osm.geojson",
        "districts": osm_dir / "hanoi_admin_boundaries_nominatim.geojson",
    }
    for kind, source in sources.items():
        copy = place_file(built, kind)
        assert copy == built / f"{kind}.geojson"
        assert copy.read_bytes() == source.read_bytes()
        assert meta["places"][kind] == {
            "file": f"{kind}.geojson",
            "source": str(source.resolve()),
            "bytes": source.stat().st_size,
            "sha256": file_sha256(source),
        }


def test_a_loaded_router_finds_its_place_files(hoankiem_router: Any) -> None:
    graph_dir = Path(hoankiem_router.meta["graph_dir"])
    assert place_file(hoankiem_router, "hospitals") == graph_dir / "hospitals.geojson"
    assert place_file(hoankiem_router, "districts") == graph_dir / "districts.geojson"


def test_place_files_default_to_the_standard_names_beside_the_osm_file(
    osm_dir: Path, tmp_path: Path
) -> None:
    lone = tmp_path / "extract"
    lone.mkdir()
    shutil.copyfile(osm_dir / SMALL, lone / SMALL)
    with pytest.raises(GraphBuildError, match="--hospitals FILE"):
        build_graph(lone / SMALL, tmp_path / "g1")
    shutil.copyfile(osm_dir / "hanoi_hospitals_osm.geojson", lone / "hanoi_hospitals_osm.geojson")
    with pytest.raises(GraphBuildError, match="--districts FILE"):
        build_graph(lone / SMALL, tmp_path / "g1")
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(GraphBuildError, match="no features"):
        build_graph(lone / SMALL, tmp_path / "g1", districts_file=bad)
    assert not (tmp_path / "g1").exists()  # rejected before the slow OSM read


def test_a_graph_folder_without_place_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="--hospitals FILE"):
        place_file(tmp_path, "hospitals")
    with pytest.raises(ArtifactError, match="--districts FILE"):
        place_file(tmp_path, "districts")


def test_service_planner_and_simulator_need_no_shared_folder(
    built: Path, osm_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no-shared-osm"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("H115_")}
    env |= {
        "H115_SHARED_OSM": str(empty),
        "H115_GRAPH_DIR": str(built),
        "H115_DATABASE_URL": f"sqlite:///{tmp_path / 'h115.db'}",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(osm_dir), str(GOLDEN)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["opened"] == []
    assert got["ready"] == 200
    from routing.engine import Router

    router = Router.load(built)
    west, south = router.node_lonlat.min(axis=0) - 0.01
    east, north = router.node_lonlat.max(axis=0) + 0.01
    shared = load_hospitals(
        osm_dir / "hanoi_hospitals_osm.geojson", bbox=(west, south, east, north)
    )
    assert got["hospitals"] == [h.hospital_id for h in shared] and len(shared) >= 3
    expected = node_population(
        router.node_lonlat, boundaries_file=osm_dir / "hanoi_admin_boundaries_nominatim.geojson"
    )
    assert got["people"] == pytest.approx(expected.total) and expected.total > 100_000
    golden = json.loads(GOLDEN.with_suffix(".json").read_text(encoding="utf-8"))
    assert got["sim"] == [golden["calls"], golden["calls_by_outcome"]]  # same run as the golden
