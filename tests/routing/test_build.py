"""Graph build: determinism under hash seeds, PBF input, the CLI, profile rules and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from routing.artifact import read_artifact, read_meta
from routing.build import build_graph, excluded, pbf_to_xml
from routing.errors import ArtifactError, GraphBuildError, ProfileError
from routing.profile import load_profile, parse_profile
from tests.conftest import shared_place_files
from web.cli import main

REPO = Path(__file__).resolve().parents[2]
BUILD = (
    "import sys; from pathlib import Path; from routing.build import build_graph; "
    "build_graph(Path(sys.argv[1]), Path(sys.argv[2]))"
)


def _build_in_subprocess(osm: Path, out: Path, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    subprocess.run([sys.executable, "-c", BUILD, str(osm), str(out)], check=True, env=env, cwd=REPO)
    return str(read_meta(out)["arrays_sha256"])


@pytest.mark.slow
def test_build_is_deterministic_across_hash_seeds(
    osm_dir: Path, tmp_path: Path, hoankiem_graph_dir: Path
) -> None:
    osm = osm_dir / "hanoi_hoankiem_drive_small.osm.bz2"
    first = _build_in_subprocess(osm, tmp_path / "a", "1")
    second = _build_in_subprocess(osm, tmp_path / "b", "4242")
    assert first == second == read_meta(hoankiem_graph_dir)["arrays_sha256"]


@pytest.mark.slow
@pytest.mark.scale
def test_core_build_is_deterministic(osm_dir: Path, tmp_path: Path, core_graph_dir: Path) -> None:
    fresh = _build_in_subprocess(osm_dir / "hanoi_core_drive.osm.bz2", tmp_path / "core", "777")
    assert fresh == read_meta(core_graph_dir)["arrays_sha256"]


def test_pbf_input_gives_the_same_graph(
    osm_dir: Path, tmp_path: Path, hoankiem_graph_dir: Path
) -> None:
    import osmium

    pbf = tmp_path / "hoankiem.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(osm_dir / "hanoi_hoankiem_drive_small.osm.bz2")):
            writer.add(obj)
    assert pbf_to_xml(pbf, tmp_path / "back.osm").stat().st_size > 100_000
    out = build_graph(pbf, tmp_path / "graph", **shared_place_files(osm_dir))
    assert read_meta(out)["arrays_sha256"] == read_meta(hoankiem_graph_dir)["arrays_sha256"]


def test_cli_build_and_info(
    osm_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g"
    osm = osm_dir / "hanoi_hoankiem_drive_small.osm.bz2"
    assert main(["graph", "build", "--osm", str(osm), "--out", str(out)]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["graph_dir"] == str(out) and built["nodes"] > 700
    assert main(["graph", "info", "--graph-dir", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["nodes"] == built["nodes"] and "pm_peak" in info["bands"]
    artifact = read_artifact(out)
    assert artifact.profile_text == load_profile().text
    assert int(artifact["band_ms"].min()) >= 1


def test_build_errors(tmp_path: Path) -> None:
    with pytest.raises(GraphBuildError):
        build_graph(tmp_path / "missing.osm", tmp_path / "out")
    with pytest.raises(ArtifactError):
        read_meta(tmp_path)


def test_profile_rules() -> None:
    p = load_profile()
    assert p.pick_class(["residential", "primary", "tertiary"]) == "primary"
    assert p.pick_class(["tertiary", "primary", "residential"]) == "primary"
    assert p.free_flow_kph("residential", []) == p.speeds_kph["residential"]
    assert p.free_flow_kph("residential", ["30"]) == 30.0
    assert p.free_flow_kph("trunk", ["50", "80"]) == 50.0  # merged edge: the lowest tag
    assert p.free_flow_kph("motorway", ["120"]) == p.maxspeed_cap_kph
    assert p.free_flow_kph("primary", ["30 mph"]) == pytest.approx(48.28, abs=0.01)
    assert p.free_flow_kph("primary", ["signals"]) == p.speeds_kph["primary"]
    assert excluded({"highway": "footway"}, p) and excluded(
        {"highway": "residential", "access": "private"}, p
    )
    assert not excluded({"highway": ["residential", "tertiary"], "access": "yes"}, p)


@pytest.mark.parametrize(
    ("at_utc_hour", "day", "band"),
    [
        (3, 24, "day"),
        (11, 24, "pm_peak"),
        (0, 24, "am_peak"),
        (20, 24, "night"),
        (3, 28, "weekend_day"),
        (11, 29, "weekend_evening"),
    ],
)
def test_band_by_hanoi_local_time(at_utc_hour: int, day: int, band: str) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, day, at_utc_hour, 0, tzinfo=UTC).timestamp()
    assert load_profile().band_at(at) == band


def test_invalid_profile_is_rejected() -> None:
    text = load_profile().text
    with pytest.raises(ProfileError):
        parse_profile(
            text.replace('"night", "night", "night", "night", "night", "shoulder",', '"night",', 1)
        )
    with pytest.raises(ProfileError):
        parse_profile(text.replace("residential = 20.0", "residential = -1.0", 1))
    with pytest.raises(ProfileError):
        load_profile(Path("/nonexistent/profile.toml"))
