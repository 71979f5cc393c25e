"""Export the compiled road graph to other tools: PostGIS tables (QGIS, pgRouting) and networkx.

`export_postgis` writes three tables from a graph folder (the artifact, never OSM):

``road_nodes``  id (node index), osm_id, geom Point 4326
``road_edges``  id (arc index), source, target (node ids), osm_way_id, name, highway,
                length_m, speed_kph, reverse_id (the opposite arc of a two-way road, or NULL),
                one ``<band>_s`` column per time band (seconds, = the engine's integer
                milliseconds / 1000), geom LineString 4326 following the road from source to target
``road_bands``  band, column_name, weekday_hours, weekend_hours (local hours the band applies)

Every row of ``road_edges`` is one directed arc (a two-way road is two rows), so pgRouting runs
on it with no ``reverse_cost``:
``pgr_dijkstra('SELECT id, source, target, day_s AS cost FROM road_edges', a, b)``.
GIST indexes cover both geometries, b-tree indexes ``source`` and ``target``. A few arcs join
two OSM nodes at one position: their line is zero-length, which PostGIS calls invalid
(``ST_IsValid`` false); they stay, as pgRouting needs them to connect the network.

`to_networkx` gives the same arcs and weights as a `networkx.DiGraph`, and `node_snap` ties a
graph node to the engine's `Snap`, so the benchmark and the agreement tests compare the engine
with networkx and pgRouting node to node on identical weights.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from routing.artifact import Array, Artifact, read_artifact
from routing.errors import RoutingError
from routing.profile import parse_profile
from routing.snapping import Snap

if TYPE_CHECKING:
    import networkx as nx
    import psycopg

    from routing.engine import Router

log = logging.getLogger(__name__)

NODES_TABLE = "road_nodes"
EDGES_TABLE = "road_edges"
BANDS_TABLE = "road_bands"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class ExportError(RoutingError):
    """The export target is unusable (bad URL or schema, PostGIS missing)."""


@dataclass(frozen=True)
class ExportSummary:
    """What `export_postgis` wrote, and how long it took (seconds)."""

    nodes: int
    edges: int
    band_columns: dict[str, str]
    pgrouting: bool
    seconds: float


def pg_conninfo(url: str) -> str:
    """A libpq URL from `url`, accepting SQLAlchemy's ``postgresql+psycopg://`` form too."""
    conninfo = re.sub(r"^postgresql\+\w+://", "postgresql://", url.strip())
    if not conninfo.startswith(("postgresql://", "postgres://")):
        raise ExportError(f"not a PostgreSQL URL: {url!r}")
    return conninfo


def band_column(band: str) -> str:
    """Column of ``road_edges`` holding the seconds of one time band (e.g. ``day`` -> ``day_s``)."""
    column = re.sub(r"[^a-z0-9_]+", "_", band.lower()).strip("_") + "_s"
    if not _IDENT.match(column):
        column = "band_" + column
    return column


def pgr_edges_sql(band: str, *, reverse: bool = False, schema: str = "public") -> str:
    """pgRouting edges SQL over the exported arcs for one band; `reverse` swaps the direction.

    The reversed form turns "every origin -> one incident" into one search from the incident.
    """
    src, dst = ("target", "source") if reverse else ("source", "target")
    table = f"{_ident(schema)}.{EDGES_TABLE}"
    return f"SELECT id, {src} AS source, {dst} AS target, {band_column(band)} AS cost FROM {table}"


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ExportError(f"not a plain SQL identifier: {name!r}")
    return name


# ----- PostGIS ---------------------------------------------------------------------------------
def export_postgis(graph_dir: Path, db_url: str, *, schema: str = "public") -> ExportSummary:
    """Write the compiled graph in `graph_dir` into PostGIS at `db_url`, replacing older tables.

    Creates the postgis extension if missing, and pgrouting when the server has it. One
    transaction: readers see the old tables or the new ones, never a half-written network.
    """
    import psycopg

    started = time.perf_counter()
    artifact = read_artifact(Path(graph_dir))
    bands = [str(b) for b in artifact["band_names"]]
    columns = {b: band_column(b) for b in bands}
    if len(set(columns.values())) != len(columns):
        raise ExportError(f"time bands collide as SQL columns: {columns}")
    schema = _ident(schema)
    try:
        conn = psycopg.connect(pg_conninfo(db_url))
    except psycopg.OperationalError as exc:
        raise ExportError(f"cannot connect to the export database: {exc}") from exc
    with conn:
        pgrouting = _ensure_extensions(conn)
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            _create_tables(cur, schema, list(columns.values()))
            _copy_nodes(cur, schema, artifact)
            _copy_edges(cur, schema, artifact, list(columns.values()))
            _copy_bands(cur, schema, artifact, columns)
            _index_and_describe(cur, schema, artifact)
        conn.commit()
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE {schema}.{NODES_TABLE}")
            cur.execute(f"ANALYZE {schema}.{EDGES_TABLE}")
        conn.commit()
    summary = ExportSummary(
        nodes=int(artifact["node_lon"].size),
        edges=int(artifact["arc_tail"].size),
        band_columns=columns,
        pgrouting=pgrouting,
        seconds=time.perf_counter() - started,
    )
    log.info("exported %d nodes, %d edges in %.2f s", summary.nodes, summary.edges, summary.seconds)
    return summary


def _ensure_extensions(conn: psycopg.Connection[Any]) -> bool:
    """Create postgis (required) and pgrouting (if available); True when pgrouting is there."""
    import psycopg

    with conn.cursor() as cur:
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.Error as exc:
            raise ExportError(f"PostGIS is not available on this server: {exc}") from exc
        cur.execute("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgrouting'")
        row = cur.fetchone()
        if row is None or row[0] == 0:
            return False
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    return True


def _create_tables(cur: psycopg.Cursor[Any], schema: str, band_columns: list[str]) -> None:
    for table in (BANDS_TABLE, EDGES_TABLE, NODES_TABLE):
        cur.execute(f"DROP TABLE IF EXISTS {schema}.{table}")
    cur.execute(
        f"CREATE TABLE {schema}.{NODES_TABLE} (id integer PRIMARY KEY, osm_id bigint NOT NULL,"
        " geom geometry(Point, 4326) NOT NULL)"
    )
    times = "".join(f", {c} double precision NOT NULL" for c in band_columns)
    cur.execute(
        f"CREATE TABLE {schema}.{EDGES_TABLE} (id integer PRIMARY KEY,"
        f" source integer NOT NULL, target integer NOT NULL, osm_way_id bigint NOT NULL,"
        f" name text, highway text NOT NULL, length_m double precision NOT NULL,"
        f" speed_kph real NOT NULL, reverse_id integer{times},"
        f" geom geometry(LineString, 4326) NOT NULL)"
    )
    cur.execute(
        f"CREATE TABLE {schema}.{BANDS_TABLE} (band text PRIMARY KEY, column_name text NOT NULL,"
        " weekday_hours integer[] NOT NULL, weekend_hours integer[] NOT NULL)"
    )


def _hex_ewkb(geoms: Array) -> list[str]:
    return list(shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True))


def edge_lines(artifact: Artifact) -> Array:
    """Every arc's polyline as a shapely LineString (lon, lat), from tail to head."""
    offsets = artifact["geom_offsets"]
    coords = np.column_stack([artifact["geom_lon"], artifact["geom_lat"]])
    owner = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
    return np.asarray(shapely.linestrings(coords, indices=owner))


def _copy_nodes(cur: psycopg.Cursor[Any], schema: str, artifact: Artifact) -> None:
    points = shapely.points(artifact["node_lon"], artifact["node_lat"])
    osm = artifact["node_osmid"].tolist()
    with cur.copy(f"COPY {schema}.{NODES_TABLE} (id, osm_id, geom) FROM STDIN") as copy:
        for i, (osm_id, wkb) in enumerate(zip(osm, _hex_ewkb(points), strict=True)):
            copy.write_row((i, osm_id, wkb))


def _copy_edges(
    cur: psycopg.Cursor[Any], schema: str, artifact: Artifact, band_columns: list[str]
) -> None:
    a = artifact
    streets, classes = a["street_names"].tolist(), a["class_names"].tolist()
    name_ix = a["arc_name"].tolist()
    names = [streets[i] if i >= 0 else None for i in name_ix]
    highways = [classes[i] for i in a["arc_class"].tolist()]
    rev = [r if r >= 0 else None for r in a["arc_rev"].tolist()]
    seconds = (a["band_ms"].astype(np.float64) / 1000.0).T.tolist()
    cols = ", ".join(
        [
            "id",
            "source",
            "target",
            "osm_way_id",
            "name",
            "highway",
            "length_m",
            "speed_kph",
            "reverse_id",
            *band_columns,
            "geom",
        ]
    )
    rows = zip(
        a["arc_tail"].tolist(),
        a["arc_head"].tolist(),
        a["arc_osmid"].tolist(),
        names,
        highways,
        a["arc_length_m"].tolist(),
        a["arc_speed_kph"].tolist(),
        rev,
        seconds,
        _hex_ewkb(edge_lines(artifact)),
        strict=True,
    )
    with cur.copy(f"COPY {schema}.{EDGES_TABLE} ({cols}) FROM STDIN") as copy:
        for i, (src, dst, osm, name, hw, length, speed, r, secs, wkb) in enumerate(rows):
            copy.write_row((i, src, dst, osm, name, hw, length, speed, r, *secs, wkb))


def _copy_bands(
    cur: psycopg.Cursor[Any], schema: str, artifact: Artifact, columns: dict[str, str]
) -> None:
    profile = parse_profile(artifact.profile_text)
    for band, column in columns.items():
        weekday = [h for h, b in enumerate(profile.weekday) if b == band]
        weekend = [h for h, b in enumerate(profile.weekend) if b == band]
        cur.execute(
            f"INSERT INTO {schema}.{BANDS_TABLE} VALUES (%s, %s, %s, %s)",
            (band, column, weekday, weekend),
        )


def _index_and_describe(cur: psycopg.Cursor[Any], schema: str, artifact: Artifact) -> None:
    for table in (NODES_TABLE, EDGES_TABLE):
        cur.execute(f"CREATE INDEX {table}_geom_gist ON {schema}.{table} USING gist (geom)")
    for column in ("source", "target"):
        cur.execute(f"CREATE INDEX {EDGES_TABLE}_{column} ON {schema}.{EDGES_TABLE} ({column})")
    meta = artifact.meta
    note = (
        f"hanoi115 road graph (input sha256 {meta.get('input', {}).get('sha256', '?')}, "
        f"profile {meta.get('profile', {}).get('name', '?')}, built {meta.get('built_at', '?')}). "
        f"Map data {ATTRIBUTION}."
    )
    for table in (NODES_TABLE, EDGES_TABLE, BANDS_TABLE):
        cur.execute(f"COMMENT ON TABLE {schema}.{table} IS {_literal(note)}")


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT takes no bind parameters)."""
    return "'" + text.replace("'", "''") + "'"


# ----- networkx and node-level snaps (reference peers) ------------------------------------------
def to_networkx(artifact: Artifact | Router, band: str, *, reverse: bool = False) -> nx.DiGraph:
    """The arcs as a DiGraph with integer `weight` milliseconds of `band` (fastest parallel arc).

    `reverse` flips every arc, so one search from an incident gives every origin's time to it.
    """
    import networkx as nx

    arrays = artifact.arrays
    bands = [str(b) for b in arrays["band_names"]]
    weights = arrays["band_ms"][bands.index(band)].astype(np.int64)
    tail, head = arrays["arc_tail"], arrays["arc_head"]
    if reverse:
        tail, head = head, tail
    keep = tail != head
    order = np.lexsort((-weights[keep], head[keep], tail[keep]))  # slowest first, fastest wins
    edges = np.column_stack([tail[keep], head[keep], weights[keep]])[order]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(int(arrays["node_lon"].size)))
    graph.add_weighted_edges_from(edges.tolist())
    return graph


def node_snap(router: Router, node: int, *, origin: bool) -> Snap:
    """A `Snap` exactly at graph node `node`, so the engine's times are node-to-node times.

    As an origin it sits at the head end of an arc entering `node` (the engine leaves from
    `node` at no cost); as a destination at the tail end of an arc leaving it.
    """
    a = router.arrays
    if origin:
        arcs = np.nonzero(a["arc_head"] == node)[0]
        fraction = 1.0
    else:
        lo, hi = int(a["csr_indptr"][node]), int(a["csr_indptr"][node + 1])
        arcs = np.arange(lo, hi)
        fraction = 0.0
    if arcs.size == 0:
        raise RoutingError(f"node {node} has no {'incoming' if origin else 'outgoing'} arc")
    lon, lat = float(a["node_lon"][node]), float(a["node_lat"][node])
    return Snap(
        lon=lon,
        lat=lat,
        query_lon=lon,
        query_lat=lat,
        edge=int(arcs[0]),
        fraction=fraction,
        offroad_m=0.0,
        offroad_s=0.0,
        street=None,
    )


# ----- command line -----------------------------------------------------------------------------
CLI_HELP = """Write the compiled road graph into PostGIS, replacing earlier exports:
road_nodes (id, osm_id, geom), road_edges (one row per directed arc: id, source, target,
osm_way_id, name, highway, length_m, speed_kph, reverse_id, one <band>_s travel-time column
per time band, geom LineString 4326) and road_bands (the local hours of each band).
Open them in QGIS, or run pgRouting on them, e.g.
  SELECT * FROM pgr_dijkstra('SELECT id, source, target, day_s AS cost FROM road_edges', 1, 2);
Map data (c) OpenStreetMap contributors, ODbL 1.0."""


def register(graph_sub: Any) -> None:
    """Add ``export-postgis`` to the ``hanoi115 graph`` subcommands (routing.cli calls this)."""
    p: argparse.ArgumentParser = graph_sub.add_parser(
        "export-postgis",
        help="write the compiled graph into PostGIS tables (QGIS, pgRouting)",
        description=CLI_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", required=True, help="PostgreSQL URL, e.g. postgresql://u@host/db")
    p.add_argument("--graph-dir", type=Path, default=None, help="compiled graph (H115_GRAPH_DIR)")
    p.add_argument("--schema", default="public", help="target schema (created if missing)")
    p.set_defaults(handler=run_export_command)


def run_export_command(args: argparse.Namespace, settings: Any) -> int:
    """Handler of ``hanoi115 graph export-postgis``; prints a one-line summary."""
    graph_dir = args.graph_dir or settings.graph_dir
    summary = export_postgis(Path(graph_dir), args.db, schema=args.schema)
    print(
        f"exported {summary.nodes} nodes and {summary.edges} edges into {args.schema}."
        f"{NODES_TABLE}/{EDGES_TABLE} in {summary.seconds:.1f} s; time columns: "
        f"{', '.join(summary.band_columns.values())}; pgrouting: "
        f"{'yes' if summary.pgrouting else 'not installed'}"
    )
    return 0
