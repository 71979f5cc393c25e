"""Subcommands of the `web` package (serve) for the `hanoi115` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routing.cli import add_place_arguments
from web.security.cli import register as register_user_commands

if TYPE_CHECKING:
    from routing.engine import Router
    from web.settings import Settings

log = logging.getLogger(__name__)


class GraphMissing(RuntimeError):
    """No compiled road graph where the settings say, and no OSM file to build one from."""


def register(sub: Any) -> None:
    """Add `serve` to the `hanoi115` parser."""
    parser = sub.add_parser(
        "serve",
        help="run the live service (REST, websockets, dispatcher map, crew tablet)",
        description="Load the road graph, migrate the database and serve the web app.",
    )
    parser.add_argument("--demo", action="store_true", help="simulated ambulances and calls")
    parser.add_argument("--host", default=None, help="listen address (default: H115_HOST)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: H115_PORT)")
    parser.add_argument(
        "--osm",
        type=Path,
        default=None,
        help="OSM file to build the road graph from when none is compiled (default: H115_OSM_FILE)",
    )
    add_place_arguments(parser)  # --hospitals, --districts: used when the graph is built here
    parser.set_defaults(handler=serve)
    register_user_commands(sub)  # `hanoi115 user create|passwd|list|disable|enable|role`


def load_router(settings: Settings) -> Router:
    """The compiled graph from settings.graph_dir, built first from settings.osm_file if absent
    (with settings.hospitals_file / districts_file, else the files beside the OSM file)."""
    from routing.artifact import META_FILE
    from routing.engine import Router
    from routing.errors import ArtifactError, GraphBuildError

    graph_dir = settings.graph_dir
    if not (graph_dir / META_FILE).exists():
        if settings.osm_file is None:
            raise GraphMissing(
                f"no road graph in {graph_dir}: run `hanoi115 graph build` first "
                "(or set H115_OSM_FILE to build it now)"
            )
        from routing.build import build_graph

        log.info("building the road graph from %s into %s", settings.osm_file, graph_dir)
        try:
            build_graph(
                settings.osm_file,
                graph_dir,
                profile_file=settings.profile_file,
                hospitals_file=settings.hospitals_file,
                districts_file=settings.districts_file,
            )
        except GraphBuildError as exc:
            raise GraphMissing(f"cannot build the road graph: {exc}") from exc
    try:
        return Router.load(graph_dir, snap_max_m=settings.snap_max_m)
    except ArtifactError as exc:
        raise GraphMissing(f"{exc}: run `hanoi115 graph build` to rebuild it") from exc


def uvicorn_options(*, host: str, port: int, log_level: str = "info") -> dict[str, Any]:
    """How the live service runs under uvicorn: the `websockets` library without per-message
    compression (deflating every small event for hundreds of clients costs more CPU than the
    bytes it saves on a LAN)."""
    return {
        "host": host,
        "port": port,
        "ws": "websockets",
        "ws_per_message_deflate": False,
        "ws_max_size": 1024 * 1024,  # a bigger frame closes the socket with 1009 (web.security)
        "log_level": log_level,
        "lifespan": "on",
    }


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """`hanoi115 serve [--demo] [--host H] [--port P]`: returns the exit code."""
    import uvicorn

    from web.app import create_app

    given = {
        "osm_file": args.osm,
        "hospitals_file": args.hospitals,
        "districts_file": args.districts,
    }
    settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    host = args.host or settings.host
    port = args.port or settings.port
    try:
        router = load_router(settings)
    except GraphMissing as exc:
        print(f"hanoi115 serve: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings, router=router, demo=args.demo)
    log.info("serving on http://%s:%d/ (dispatcher) and /crew (crew tablet)", host, port)
    uvicorn.run(app, **uvicorn_options(host=host, port=port))
    return 0
