"""Subcommands of the `routing` package for the `hanoi115` command: `graph build`, `graph info`."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add `hanoi115 graph ...` to the `hanoi115` parser.

    `routing.export` (PostGIS export), when present, adds its own subcommands through its
    `register(graph_subparsers)` function.
    """
    graph = sub.add_parser("graph", help="build and inspect the compiled road graph")
    gsub = graph.add_subparsers(dest="graph_command", required=True)
    build = gsub.add_parser("build", help="compile the road graph from an OSM file")
    build.add_argument(
        "--osm",
        type=Path,
        default=None,
        help="OSM file (.osm, .osm.bz2, .osm.pbf); default H115_OSM_FILE, "
        "else download Hanoi from OpenStreetMap (needs internet)",
    )
    build.add_argument(
        "--out", type=Path, default=None, help="output folder; default H115_GRAPH_DIR"
    )
    build.add_argument(
        "--profile", type=Path, default=None, help="profile TOML; default H115_PROFILE_FILE"
    )
    add_place_arguments(build)
    build.set_defaults(handler=run_build)
    info = gsub.add_parser("info", help="print the compiled graph's metadata and load time")
    info.add_argument("--graph-dir", type=Path, default=None, help="default H115_GRAPH_DIR")
    info.set_defaults(handler=run_info)
    if importlib.util.find_spec("routing.export") is not None:
        export = importlib.import_module("routing.export")
        if hasattr(export, "register"):
            export.register(gsub)


def add_place_arguments(parser: argparse.ArgumentParser) -> None:
    """`--hospitals` and `--districts`: the place files copied into the graph folder."""
    parser.add_argument(
        "--hospitals",
        type=Path,
        default=None,
        help="OSM hospitals GeoJSON copied into the graph folder; default H115_HOSPITALS_FILE, "
        "else hanoi_hospitals_osm.geojson beside the OSM file, else (no OSM file) downloaded",
    )
    parser.add_argument(
        "--districts",
        type=Path,
        default=None,
        help="district polygons GeoJSON copied into the graph folder; default "
        "H115_DISTRICTS_FILE, else hanoi_admin_boundaries_nominatim.geojson beside the OSM "
        "file, else (no OSM file) downloaded",
    )


def run_build(args: argparse.Namespace, settings: Any) -> int:
    """`hanoi115 graph build`: returns 0 on success."""
    from routing.build import build_graph

    osm = args.osm if args.osm is not None else settings.osm_file
    out = args.out if args.out is not None else settings.graph_dir
    profile = args.profile if args.profile is not None else settings.profile_file
    if osm is None:
        log.warning("no OSM file given: downloading Hanoi from OpenStreetMap")
    path = build_graph(
        osm,
        Path(out),
        profile_file=profile,
        hospitals_file=args.hospitals or settings.hospitals_file,
        districts_file=args.districts or settings.districts_file,
    )
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    print(json.dumps({"graph_dir": str(path), **meta["counts"], "build_s": meta["build_s"]}))
    return 0


def run_info(args: argparse.Namespace, settings: Any) -> int:
    """`hanoi115 graph info`: load the graph and print its summary as JSON; returns 0."""
    from routing.engine import Router

    graph_dir = args.graph_dir if args.graph_dir is not None else settings.graph_dir
    router = Router.load(Path(graph_dir))
    print(json.dumps(router.info(), indent=2, sort_keys=True))
    return 0
