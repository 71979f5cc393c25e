"""The compiled road-graph artifact: its on-disk format, writer, reader and checksum.

A graph folder (``hanoi115 graph build --out DIR``) holds five files:

``graph.npz`` (numpy, uncompressed, no pickles; N nodes, M arcs, B time bands)
    node_osmid      int64[N]     OSM node id, sorted ascending (node index = position)
    node_lon        float64[N]   WGS84 longitude
    node_lat        float64[N]   WGS84 latitude
    arc_tail        int32[M]     node index the arc leaves; arcs sorted by (tail, head, length, ...)
    arc_head        int32[M]     node index the arc enters
    csr_indptr      int64[N+1]   arcs leaving node i are arc_tail[csr_indptr[i]:csr_indptr[i+1]]
    arc_length_m    float64[M]   length along the geometry (osmnx great-circle), metres
    arc_speed_kph   float32[M]   ambulance free-flow speed (profile class speed or capped maxspeed)
    arc_class       int16[M]     index into ``class_names`` (the chosen highway class)
    arc_name        int32[M]     index into ``street_names``; -1 for an unnamed arc
    arc_rev         int32[M]     the opposite arc of a two-way road (same geometry reversed), -1
    arc_osmid       int64[M]     smallest OSM way id merged into the arc
    band_ms         int32[B, M]  travel time per arc per band, integer milliseconds (>= 1);
                                 row b is band ``band_names[b]``. THE weights: every query,
                                 the PostGIS export and the benchmarks use exactly these.
    geom_offsets    int64[M+1]   arc a's polyline: geom_lon/lat[geom_offsets[a]:geom_offsets[a+1]]
    geom_lon        float64[G]   from tail to head (first point = tail node, last = head node)
    geom_lat        float64[G]
    cch_order       int32[N]     node order for routingkit_cch.CCH (inertial flow), stored so
                                 loading never recomputes it
    class_names     <U[C]        highway class names
    street_names    <U[S]        street names; a merged edge with several names joins them
                                 sorted with " / "
    band_names      <U[B]        time-band names (sorted), see profile.toml [bands]

``meta.json``
    format_version, built_at (UTC ISO), input {path, sha256, bytes}, profile {name, sha256},
    counts {nodes, arcs, geometry_points, street_names}, libraries {python, osmnx, networkx,
    numpy, scipy, shapely, routingkit_cch}, arrays_sha256 (see `arrays_checksum`: equal for
    equal inputs and profile, whatever PYTHONHASHSEED is), build_s, places {hospitals,
    districts: {file, source, bytes, sha256}} (see `routing.places`). `read_meta` adds
    graph_dir, the folder it was read from (not stored), so a loaded Router can find them.

``hospitals.geojson``, ``districts.geojson``
    the OSM hospitals and district polygons the service and planners use (`routing.places`).

``profile.toml``
    the exact profile text the weights were computed with (schedule, off-road speed, snap limit).

The spatial index for snapping (a GEOS STRtree over the geometry's segments, one direction per
two-way road) and the CCH itself are rebuilt from these arrays when `Router.load` runs (about
0.1 s and 0.02 s on the urban core): GEOS trees cannot be serialised, and the expensive part of
a CCH, the node order, is stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routing.errors import ArtifactError

FORMAT_VERSION = 1
GRAPH_FILE = "graph.npz"
META_FILE = "meta.json"
PROFILE_FILE = "profile.toml"

ARRAY_NAMES: tuple[str, ...] = (
    "node_osmid",
    "node_lon",
    "node_lat",
    "arc_tail",
    "arc_head",
    "csr_indptr",
    "arc_length_m",
    "arc_speed_kph",
    "arc_class",
    "arc_name",
    "arc_rev",
    "arc_osmid",
    "band_ms",
    "geom_offsets",
    "geom_lon",
    "geom_lat",
    "cch_order",
    "class_names",
    "street_names",
    "band_names",
)

Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Artifact:
    """The arrays of a compiled graph plus its metadata and profile text."""

    arrays: dict[str, Array]
    meta: dict[str, Any]
    profile_text: str

    def __getitem__(self, name: str) -> Array:
        return self.arrays[name]


def arrays_checksum(arrays: dict[str, Array]) -> str:
    """sha256 over every array's name, dtype, shape and bytes, in `ARRAY_NAMES` order."""
    digest = hashlib.sha256()
    for name in ARRAY_NAMES:
        arr = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{arr.dtype.str}:{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def write_artifact(
    out_dir: Path, arrays: dict[str, Array], meta: dict[str, Any], profile_text: str
) -> Path:
    """Write the three files atomically-enough (temp names, then rename); returns `out_dir`."""
    missing = [n for n in ARRAY_NAMES if n not in arrays]
    if missing:
        raise ArtifactError(f"arrays missing from the artifact: {missing}")
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "format_version": FORMAT_VERSION, "arrays_sha256": arrays_checksum(arrays)}
    with tempfile.NamedTemporaryFile(dir=out_dir, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, **{n: arrays[n] for n in ARRAY_NAMES})  # type: ignore[arg-type]
    os.replace(tmp.name, out_dir / GRAPH_FILE)
    (out_dir / PROFILE_FILE).write_text(profile_text, encoding="utf-8")
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return out_dir


def read_meta(graph_dir: Path) -> dict[str, Any]:
    """The metadata of a graph folder (raises `ArtifactError` if absent)."""
    path = Path(graph_dir) / META_FILE
    if not path.exists():
        raise ArtifactError(f"no compiled graph in {graph_dir} (run `hanoi115 graph build`)")
    meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{graph_dir}: format {meta.get('format_version')} != {FORMAT_VERSION}")
    meta["graph_dir"] = str(Path(graph_dir).resolve())  # not stored: where it was read from
    return meta


def read_artifact(graph_dir: Path) -> Artifact:
    """Load a graph folder written by `write_artifact`."""
    graph_dir = Path(graph_dir)
    meta = read_meta(graph_dir)
    try:
        with np.load(graph_dir / GRAPH_FILE, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in ARRAY_NAMES}
        profile_text = (graph_dir / PROFILE_FILE).read_text(encoding="utf-8")
    except (OSError, KeyError, ValueError) as exc:
        raise ArtifactError(f"{graph_dir}: unreadable graph artifact: {exc}") from exc
    return Artifact(arrays=arrays, meta=meta, profile_text=profile_text)


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
