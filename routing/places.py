"""Hospitals and district polygons shipped inside the compiled graph folder, beside the roads.

The service, the simulator and the planners read OSM-derived places only from the graph folder
(never from a shared data folder), so one `hanoi115 graph build` fixes every OSM input:

``hospitals.geojson``
    OSM ``amenity=hospital`` features as GeoJSON points, every OSM tag kept as a property plus
    ``osm_type`` and ``osm_id`` (read by `stations.loaders.load_hospitals`).
``districts.geojson``
    Nominatim polygons of the former urban districts; each feature has a ``display_name``
    ("<name> District, ...") or a ``district`` property (read by `stations.population`).

Where the build takes them from, in order: the ``--hospitals`` / ``--districts`` flags (settings
``H115_HOSPITALS_FILE`` / ``H115_DISTRICTS_FILE``); else, when building from an OSM file, the
files with the standard names `BESIDE_OSM` in the OSM file's folder (the shared extract folder
ships them so); else, with no OSM file (internet mode), downloaded by `routing.download`.
Each copy is recorded in ``meta.json`` under ``places`` with its source, bytes and sha256.
At run time callers read `place_file(graph_dir_or_router, kind)`; the two settings, when set,
override the graph folder's copies. There is no fallback to a shared data folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

from routing.artifact import file_sha256
from routing.errors import ArtifactError, GraphBuildError

PlaceKind = Literal["hospitals", "districts"]
KINDS: tuple[PlaceKind, ...] = ("hospitals", "districts")
GRAPH_FILES: dict[PlaceKind, str] = {
    "hospitals": "hospitals.geojson",
    "districts": "districts.geojson",
}
BESIDE_OSM: dict[PlaceKind, str] = {
    "hospitals": "hanoi_hospitals_osm.geojson",
    "districts": "hanoi_admin_boundaries_nominatim.geojson",
}
_FLAGS: dict[PlaceKind, str] = {
    "hospitals": "--hospitals FILE (H115_HOSPITALS_FILE)",
    "districts": "--districts FILE (H115_DISTRICTS_FILE)",
}


def resolve_sources(
    osm_file: Path | None, *, hospitals_file: Path | None, districts_file: Path | None
) -> dict[PlaceKind, Path | None]:
    """The file each place kind is copied from; None means download it (no OSM file given).

    Raises `GraphBuildError` naming the flag when an OSM file is given but a kind has neither
    an explicit file nor a standard-named file beside the OSM file, or when a file is not a
    non-empty GeoJSON FeatureCollection.
    """
    given: dict[PlaceKind, Path | None] = {
        "hospitals": hospitals_file,
        "districts": districts_file,
    }
    if osm_file is not None and not Path(osm_file).exists():
        raise GraphBuildError(f"OSM file not found: {osm_file}")
    out: dict[PlaceKind, Path | None] = {}
    for kind in KINDS:
        path = given[kind]
        if path is None and osm_file is not None:
            beside = Path(osm_file).parent / BESIDE_OSM[kind]
            if not beside.is_file():
                raise GraphBuildError(
                    f"no {kind} file for the graph: pass {_FLAGS[kind]}, or put "
                    f"{BESIDE_OSM[kind]} beside {osm_file}"
                )
            path = beside
        if path is not None and not Path(path).is_file():
            raise GraphBuildError(f"{kind} file not found: {path} (given by {_FLAGS[kind]})")
        if path is not None:
            _check_feature_collection(path, kind)  # fail before the slow OSM read
        out[kind] = None if path is None else Path(path)
    return out


def install_places(out_dir: Path, sources: dict[PlaceKind, Path]) -> dict[str, Any]:
    """Check each source is a non-empty GeoJSON FeatureCollection and copy it into `out_dir`
    under its `GRAPH_FILES` name; returns the ``places`` metadata (file, source, bytes, sha256).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {}
    for kind, source in sources.items():
        _check_feature_collection(source, kind)
        target = out_dir / GRAPH_FILES[kind]
        shutil.copyfile(source, target)
        meta[kind] = {
            "file": GRAPH_FILES[kind],
            "source": str(Path(source).resolve()),
            "bytes": target.stat().st_size,
            "sha256": file_sha256(target),
        }
    return meta


def place_file(graph: Path | str | Any, kind: PlaceKind) -> Path:
    """The `kind` file of a graph folder, or of a loaded `Router` (its metadata records the
    folder it was read from). Raises `ArtifactError` naming the build flag if it is missing."""
    if isinstance(graph, (str, Path)):
        graph_dir = Path(graph)
    else:
        folder = getattr(graph, "meta", {}).get("graph_dir")
        if folder is None:
            raise ArtifactError(f"this router was not loaded from a graph folder: no {kind} file")
        graph_dir = Path(folder)
    path = graph_dir / GRAPH_FILES[kind]
    if not path.is_file():
        raise ArtifactError(
            f"no {GRAPH_FILES[kind]} in the graph folder {graph_dir}: rebuild it with "
            f"`hanoi115 graph build --osm FILE {_FLAGS[kind]}`"
        )
    return path


def _check_feature_collection(path: Path, kind: str) -> None:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GraphBuildError(f"cannot read the {kind} file {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise GraphBuildError(f"the {kind} file {path} is not a GeoJSON FeatureCollection")
    if not doc.get("features"):
        raise GraphBuildError(f"the {kind} file {path} has no features")
