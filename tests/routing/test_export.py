"""PostGIS export: tables match the compiled graph, geometry is sound, pgRouting agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from routing.artifact import Array, Artifact, read_artifact
from routing.engine import Router
from routing.export import (
    ExportError,
    band_column,
    export_postgis,
    node_snap,
    pg_conninfo,
    pgr_edges_sql,
    to_networkx,
)

AT_S = 1_795_402_800.0  # Monday 10:00 Hanoi: weekday "day" band


def _rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg_conninfo(url)) as conn:
        return conn.execute(sql, params).fetchall()


# ----- pure helpers ---------------------------------------------------------------------------
def test_pg_conninfo_accepts_sqlalchemy_urls_and_rejects_others() -> None:
    assert pg_conninfo("postgresql+psycopg://u@h:5/db") == "postgresql://u@h:5/db"
    assert pg_conninfo("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ExportError, match="not a PostgreSQL URL"):
        pg_conninfo("mysql://u@h/db")


def test_unreachable_database_is_a_clear_error(hoankiem_graph_dir: Path) -> None:
    with pytest.raises(ExportError, match="cannot connect"):
        export_postgis(hoankiem_graph_dir, "postgresql://postgres@127.0.0.1:1/none")
    with pytest.raises(ExportError, match="identifier"):
        export_postgis(hoankiem_graph_dir, "postgresql://postgres@127.0.0.1:1/none", schema="x;y")


def test_band_columns_are_plain_identifiers() -> None:
    assert band_column("day") == "day_s"
    assert band_column("Weekend Day") == "weekend_day_s"
    assert band_column("7am") == "band_7am_s"
    assert pgr_edges_sql("day", reverse=True) == (
        "SELECT id, target AS source, source AS target, day_s AS cost FROM public.road_edges"
    )


def _tiny_artifact() -> Artifact:
    """Three nodes; two parallel arcs 0->1 (5 s, 3 s), 1->2, 2->0 and a self-loop at 2."""
    arrays: dict[str, Array] = {
        "node_lon": np.zeros(3),
        "arc_tail": np.array([0, 0, 1, 2, 2], dtype=np.int32),
        "arc_head": np.array([1, 1, 2, 0, 2], dtype=np.int32),
        "band_names": np.array(["day", "night"]),
        "band_ms": np.array([[5000, 3000, 4000, 1000, 7], [1, 2, 3, 4, 5]], dtype=np.int32),
    }
    return Artifact(arrays=arrays, meta={}, profile_text="")


def test_to_networkx_keeps_fastest_parallel_arc_and_drops_self_loops() -> None:
    graph = to_networkx(_tiny_artifact(), "day")
    assert sorted(graph.edges(data="weight")) == [(0, 1, 3000), (1, 2, 4000), (2, 0, 1000)]
    reverse = to_networkx(_tiny_artifact(), "night", reverse=True)
    assert sorted(reverse.edges(data="weight")) == [(0, 2, 4), (1, 0, 1), (2, 1, 3)]


# ----- the Hoàn Kiếm graph in PostGIS ----------------------------------------------------------
@pytest.fixture()
def exported(postgis_url: str, hoankiem_graph_dir: Path) -> str:
    export_postgis(hoankiem_graph_dir, postgis_url)
    summary = export_postgis(hoankiem_graph_dir, postgis_url)  # re-export replaces the tables
    artifact = read_artifact(hoankiem_graph_dir)
    assert (summary.nodes, summary.edges) == (artifact["node_lon"].size, artifact["arc_tail"].size)
    assert summary.pgrouting
    return postgis_url


def _degenerate_arcs(artifact: Artifact) -> set[int]:
    """Arcs whose polyline is one repeated point (two OSM nodes at the same place)."""
    off, lon, lat = artifact["geom_offsets"], artifact["geom_lon"], artifact["geom_lat"]
    return {
        a
        for a in range(off.size - 1)
        if np.ptp(lon[off[a] : off[a + 1]]) == 0 and np.ptp(lat[off[a] : off[a + 1]]) == 0
    }


@pytest.mark.postgis
def test_export_rows_equal_the_graph(exported: str, hoankiem_graph_dir: Path) -> None:
    art = read_artifact(hoankiem_graph_dir)
    nodes = _rows(exported, "SELECT id, osm_id, ST_X(geom), ST_Y(geom) FROM road_nodes ORDER BY id")
    assert len(nodes) == art["node_lon"].size
    assert [r[1] for r in nodes] == art["node_osmid"].tolist()
    assert np.allclose([r[2] for r in nodes], art["node_lon"], atol=1e-9)
    assert np.allclose([r[3] for r in nodes], art["node_lat"], atol=1e-9)
    cols = ", ".join(band_column(str(b)) for b in art["band_names"])
    edges = _rows(
        exported, f"SELECT id, source, target, name, highway, {cols} FROM road_edges ORDER BY id"
    )
    assert len(edges) == art["arc_tail"].size
    assert [r[0] for r in edges] == list(range(len(edges)))
    assert [r[1] for r in edges] == art["arc_tail"].tolist()
    assert [r[2] for r in edges] == art["arc_head"].tolist()
    seconds = np.array([r[5:] for r in edges], dtype=float).T
    assert np.array_equal(np.rint(seconds * 1000).astype(np.int64), art["band_ms"])
    named = [art["street_names"][i] if i >= 0 else None for i in art["arc_name"]]
    assert [r[3] for r in edges] == named
    assert [r[4] for r in edges] == [art["class_names"][c] for c in art["arc_class"]]
    hours = _rows(exported, "SELECT weekday_hours, weekend_hours FROM road_bands")
    assert sorted(h for row in hours for h in row[0]) == list(range(24))
    assert sorted(h for row in hours for h in row[1]) == list(range(24))


@pytest.mark.postgis
def test_export_geometry_follows_the_roads(exported: str, hoankiem_graph_dir: Path) -> None:
    art = read_artifact(hoankiem_graph_dir)
    invalid = _rows(exported, "SELECT id FROM road_edges WHERE NOT ST_IsValid(geom)")
    degenerate = _degenerate_arcs(art)
    # The only invalid lines are zero-length arcs between two OSM nodes at one position.
    assert {r[0] for r in invalid} == degenerate
    assert len(degenerate) <= 0.005 * art["arc_tail"].size
    (bad_nodes, srids, types, detached, npoints), = _rows(exported, """
        SELECT (SELECT count(*) FROM road_nodes WHERE NOT ST_IsValid(geom)),
               (SELECT array_agg(DISTINCT ST_SRID(geom)) FROM road_edges),
               (SELECT array_agg(DISTINCT GeometryType(geom)) FROM road_edges),
               (SELECT count(*) FROM road_edges e JOIN road_nodes s ON s.id = e.source
                  JOIN road_nodes t ON t.id = e.target
                 WHERE NOT ST_Equals(ST_StartPoint(e.geom), s.geom)
                    OR NOT ST_Equals(ST_EndPoint(e.geom), t.geom)),
               (SELECT sum(ST_NPoints(geom)) FROM road_edges)""")  # fmt: skip
    assert (bad_nodes, srids, types, detached) == (0, [4326], ["LINESTRING"], 0)
    assert npoints == art["geom_lon"].size  # every shape point of the road, not just its ends
    lengths = _rows(exported, "SELECT length_m, ST_Length(geom::geography) FROM road_edges")
    rel = [abs(a - b) / a for a, b in lengths if a > 5.0]
    assert max(rel) < 0.01  # osmnx great-circle vs PostGIS spheroid


@pytest.mark.postgis
def test_export_has_spatial_indexes_and_attribution(exported: str) -> None:
    indexes = _rows(
        exported, "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    gist = {t for t, d in indexes if "USING gist (geom)" in d}
    assert gist == {"road_nodes", "road_edges"}
    assert {"road_edges"} == {t for t, d in indexes if "(source)" in d} & {
        t for t, d in indexes if "(target)" in d
    }
    (note,), = _rows(exported, "SELECT obj_description('road_edges'::regclass)")  # fmt: skip
    assert "© OpenStreetMap contributors" in note
    # The spatial index is usable: a bbox query around Hoàn Kiếm lake finds named streets.
    near = _rows(
        exported,
        "SELECT DISTINCT name FROM road_edges WHERE geom && ST_MakeEnvelope(105.850, 21.025, "
        "105.856, 21.031, 4326) AND name IS NOT NULL",
    )
    assert any("Đinh Tiên Hoàng" in r[0] for r in near)


@pytest.mark.postgis
def test_pgrouting_on_export_agrees_with_router(exported: str, hoankiem_router: Router) -> None:
    router, band = hoankiem_router, hoankiem_router.band_at(AT_S)
    assert band == "day"
    rng = np.random.default_rng(2)
    n = router.node_count
    compared = 0
    with psycopg.connect(pg_conninfo(exported)) as conn:
        for _ in range(25):
            s, t = (int(v) for v in rng.integers(n, size=2))
            route = router.route(
                node_snap(router, s, origin=True), node_snap(router, t, origin=False), at_s=AT_S
            )
            rows = conn.execute(
                "SELECT edge, agg_cost FROM pgr_dijkstra(%s, %s, %s) ORDER BY seq",
                (pgr_edges_sql(band), s, t),
            ).fetchall()
            assert route is not None
            expected = rows[-1][1] if rows else 0.0
            assert route.duration_s == pytest.approx(expected, rel=1e-3, abs=1e-6)
            compared += 1
        for _ in range(5):
            incident = int(rng.integers(n))
            origins = [int(v) for v in rng.choice(n, 50, replace=False)]
            etas = router.eta_many_to_one(
                [node_snap(router, o, origin=True) for o in origins],
                node_snap(router, incident, origin=False),
                at_s=AT_S,
            )
            rows = conn.execute(
                "SELECT end_vid, agg_cost FROM pgr_dijkstraCost(%s, %s, %s::bigint[])",
                (pgr_edges_sql(band, reverse=True), incident, origins),
            ).fetchall()
            costs: dict[int, float] = dict(rows)
            for o, eta in zip(origins, etas, strict=True):
                assert eta == pytest.approx(costs.get(o, 0.0), rel=1e-3, abs=1e-6), (o, incident)
                compared += 1
    assert compared == 25 + 5 * 50


@pytest.mark.postgis
def test_cli_exports_into_a_schema(postgis_url: str, hoankiem_graph_dir: Path) -> None:
    from web.cli import main

    args = ["graph", "export-postgis", "--db", postgis_url, "--graph-dir", str(hoankiem_graph_dir)]
    assert main([*args, "--schema", "planning"]) == 0
    art = read_artifact(hoankiem_graph_dir)
    (nodes, edges, bands), = _rows(postgis_url, """
        SELECT (SELECT count(*) FROM planning.road_nodes),
               (SELECT count(*) FROM planning.road_edges),
               (SELECT count(*) FROM planning.road_bands)""")  # fmt: skip
    assert (nodes, edges, bands) == (
        art["node_lon"].size,
        art["arc_tail"].size,
        art["band_names"].size,
    )
    sql = pgr_edges_sql("night", schema="planning")
    rows = _rows(
        postgis_url,
        "SELECT count(*) FROM pgr_drivingDistance(%s, 0, 60.0)",
        (sql,),
    )
    assert 1 < rows[0][0] < nodes  # a minute of night driving reaches some, not all, of the graph
