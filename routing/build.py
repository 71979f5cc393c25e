"""Build the compiled road graph from OpenStreetMap: the only code that reads or downloads OSM.

Pipeline: read ways (osmnx, one-way rules applied, nothing simplified) -> drop ways the profile
excludes (footways, service roads, access=no/private, areas) -> osmnx simplification -> largest
strongly connected component -> `compile_graph` (profile weights, fixed merge rules) -> artifact.

Inputs: ``.osm`` / ``.osm.bz2`` are read by ``osmnx.graph_from_xml``; ``.osm.pbf`` is first
converted to OSM XML with pyosmium in a temporary folder. With no file (``osm_file=None``) the
Hanoi drive network is downloaded with ``osmnx.graph_from_place(DOWNLOAD_PLACE,
network_type="drive")`` (needs internet; tests never do this).

Besides the roads, the graph folder gets the hospitals and district polygons the service and
planners use (`routing.places`: from files, found beside the OSM file, or downloaded by
`routing.download` when there is no OSM file).
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import networkx as nx

from routing.artifact import file_sha256, write_artifact
from routing.compile import as_list, compile_graph
from routing.errors import GraphBuildError
from routing.places import PlaceKind, install_places, resolve_sources
from routing.profile import Profile, load_profile

log = logging.getLogger(__name__)

DOWNLOAD_PLACE = "Hà Nội, Vietnam"
_EXTRA_WAY_TAGS = ("motor_vehicle", "motorcar", "vehicle")
_LIBRARIES = ("osmnx", "networkx", "numpy", "scipy", "shapely", "routingkit_cch", "osmium")


def build_graph(
    osm_file: Path | None,
    out_dir: Path,
    *,
    profile_file: Path | None = None,
    hospitals_file: Path | None = None,
    districts_file: Path | None = None,
) -> Path:
    """Read OSM, compile the routable graph and write the artifact into `out_dir`; returns it.

    `osm_file`: .osm, .osm.bz2 or .osm.pbf; None downloads Hanoi (internet needed).
    `profile_file`: a profile TOML; None uses the packaged ambulance profile.
    `hospitals_file`, `districts_file`: GeoJSON copied into the folder; None takes the
    standard-named file beside `osm_file`, or downloads it when `osm_file` is None.
    """
    started = time.perf_counter()
    profile = load_profile(profile_file)
    sources = resolve_sources(
        osm_file, hospitals_file=hospitals_file, districts_file=districts_file
    )
    raw = read_osm(osm_file)
    graph = prepare_graph(raw, profile)
    arrays = compile_graph(graph, profile)
    places = _install_places(Path(out_dir), sources)
    meta: dict[str, Any] = {
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": _input_meta(osm_file),
        "profile": {"name": profile.name, "sha256": profile.sha256},
        "counts": {
            "nodes": int(arrays["node_lon"].size),
            "arcs": int(arrays["arc_tail"].size),
            "geometry_points": int(arrays["geom_lon"].size),
            "street_names": int(arrays["street_names"].size),
        },
        "places": places,
        "libraries": library_versions(),
        "build_s": round(time.perf_counter() - started, 2),
    }
    out = write_artifact(Path(out_dir), arrays, meta, profile.text)
    log.info("graph built: %s in %.1f s -> %s", meta["counts"], meta["build_s"], out)
    return out


def _install_places(out_dir: Path, sources: dict[PlaceKind, Path | None]) -> dict[str, Any]:
    """Copy the place files into `out_dir`, downloading those without a source first."""
    missing = [kind for kind, path in sources.items() if path is None]
    if not missing:
        return install_places(out_dir, {k: p for k, p in sources.items() if p is not None})
    from routing import download

    with tempfile.TemporaryDirectory() as tmp:
        fetched = dict(sources)
        for kind in missing:
            log.info("downloading the %s of %s from OpenStreetMap", kind, DOWNLOAD_PLACE)
            target = Path(tmp) / f"{kind}.geojson"
            if kind == "hospitals":
                fetched[kind] = download.download_hospitals(target, place=DOWNLOAD_PLACE)
            else:
                fetched[kind] = download.download_districts(target)
        places = install_places(out_dir, {k: p for k, p in fetched.items() if p is not None})
    for kind in missing:
        places[kind]["source"] = f"downloaded from OpenStreetMap ({DOWNLOAD_PLACE})"
    return places


def read_osm(osm_file: Path | None) -> nx.MultiDiGraph:
    """Read every way of an OSM file (or download Hanoi) as an unsimplified osmnx graph."""
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(saved) | set(_EXTRA_WAY_TAGS))
    try:
        if osm_file is None:
            log.info("downloading the drive network of %s from OpenStreetMap", DOWNLOAD_PLACE)
            graph: nx.MultiDiGraph = ox.graph_from_place(
                DOWNLOAD_PLACE, network_type="drive", simplify=False, retain_all=True
            )
            return graph
        path = Path(osm_file)
        if not path.exists():
            raise GraphBuildError(f"OSM file not found: {path}")
        if path.name.endswith(".pbf"):
            with tempfile.TemporaryDirectory() as tmp:
                xml = pbf_to_xml(path, Path(tmp) / "input.osm")
                graph = ox.graph_from_xml(xml, simplify=False, retain_all=True)
                return graph
        graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
        return graph
    finally:
        ox.settings.useful_tags_way = saved


def pbf_to_xml(pbf: Path, xml: Path) -> Path:
    """Convert an OSM PBF file to OSM XML with pyosmium (nodes, ways and relations)."""
    import osmium

    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    return xml


def prepare_graph(raw: nx.MultiDiGraph, profile: Profile) -> nx.MultiDiGraph:
    """Drop excluded ways, simplify, keep the largest strongly connected component."""
    import osmnx as ox

    graph = raw.copy()
    drop = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if excluded(d, profile)]
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    if graph.number_of_edges() == 0:
        raise GraphBuildError("no drivable way in the OSM input")
    graph = ox.simplify_graph(graph)
    graph = ox.truncate.largest_component(graph, strongly=True)
    log.info("prepared graph: dropped %d ways' edges, %d nodes kept", len(drop), len(graph))
    return graph


def excluded(data: dict[str, Any], profile: Profile) -> bool:
    """True if an (unsimplified) edge is closed to ambulances by the profile's access rules."""
    if set(as_list(data.get("highway"))) & profile.exclude_highway:
        return True
    if "yes" in as_list(data.get("area")):
        return True
    if set(as_list(data.get("access"))) & profile.exclude_access:
        return True
    motor = as_list(data.get("motor_vehicle")) + as_list(data.get("motorcar"))
    return bool(set(motor) & profile.exclude_motor_vehicle)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the artifact (recorded in its metadata)."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def _input_meta(osm_file: Path | None) -> dict[str, Any]:
    if osm_file is None:
        return {"path": None, "download": DOWNLOAD_PLACE, "sha256": None, "bytes": None}
    path = Path(osm_file).resolve()
    return {"path": str(path), "sha256": file_sha256(path), "bytes": path.stat().st_size}
