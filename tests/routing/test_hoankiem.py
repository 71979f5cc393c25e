"""Integration tests on the real Hoàn Kiếm extract: snap, ETAs, routes, coverage, search, map."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.artifact import file_sha256, read_meta
from routing.compile import haversine_m
from routing.engine import Router
from routing.profile import load_profile
from tests.routing.inner_trips import OFFPEAK_AT_S, PEAK_AT_S
from tests.routing.toy_graphs import NIGHT_AT_S

HQ = (105.8565, 21.0245)  # 11 Phan Chu Trinh
LAKE_NORTH = (105.8522, 21.0325)
OPERA_HOUSE = (105.8594, 21.0243)


def test_metadata_records_inputs(hoankiem_graph_dir: Path, osm_dir: Path) -> None:
    meta = read_meta(hoankiem_graph_dir)
    assert meta["input"]["sha256"] == file_sha256(osm_dir / "hanoi_hoankiem_drive_small.osm.bz2")
    assert meta["profile"]["sha256"] == load_profile().sha256
    assert 700 < meta["counts"]["nodes"] < 900
    assert meta["libraries"]["osmnx"].startswith("2.")


def test_loads_fast(hoankiem_graph_dir: Path) -> None:
    router = Router.load(hoankiem_graph_dir)
    assert router.load_s < 1.0
    assert router.node_lonlat.shape == (router.node_count, 2)


def test_hq_snaps_to_its_street(hoankiem_router: Router) -> None:
    snap = hoankiem_router.snap(*HQ)
    assert snap.offroad_m < 50
    assert snap.street is not None


def test_route_is_consistent(hoankiem_router: Router) -> None:
    r = hoankiem_router
    o, d = r.snap(*HQ), r.snap(*LAKE_NORTH)
    route = r.route(o, d, at_s=OFFPEAK_AT_S)
    assert route is not None
    assert 1_000 < route.distance_m < 2_500
    assert 3 * 60 < route.duration_s < 12 * 60
    coords = np.array(route.geometry["coordinates"])
    assert coords[0] == pytest.approx([o.lon, o.lat]) and coords[-1] == pytest.approx(
        [d.lon, d.lat]
    )
    assert haversine_m(coords[:, 0], coords[:, 1]).sum() == pytest.approx(
        route.distance_m, rel=0.01
    )
    driven = [s for s in route.steps if s.maneuver not in ("offroad", "arrive")]
    assert sum(s.distance_m for s in driven) == pytest.approx(route.distance_m)
    assert sum(s.duration_s for s in driven) == pytest.approx(route.drive_s, abs=0.01)
    assert route.steps[0 if o.offroad_m < 1 else 1].maneuver == "depart"
    names = [s.name for s in driven]
    assert all(a != b for a, b in itertools.pairwise(names))  # merged by name
    feature = route.to_geojson()
    assert feature["properties"]["duration_s"] == pytest.approx(route.duration_s, abs=0.05)


def test_etas_match_routes(hoankiem_router: Router) -> None:
    r = hoankiem_router
    dest = r.snap(*LAKE_NORTH)
    origins = [r.snap(*HQ), r.snap(*OPERA_HOUSE), r.snap(105.8480, 21.0280), dest]
    many = r.eta_many_to_one(origins, dest, at_s=OFFPEAK_AT_S)
    for o, eta in zip(origins, many, strict=True):
        route = r.route(o, dest, at_s=OFFPEAK_AT_S)
        assert route is not None and eta == pytest.approx(route.duration_s, abs=1e-6)
        assert r.eta_one_to_many(o, [dest], at_s=OFFPEAK_AT_S)[0] == pytest.approx(eta, abs=1e-6)
    assert many[-1] == pytest.approx(2 * dest.offroad_s)


def test_peak_is_slower_than_day_than_night(hoankiem_router: Router) -> None:
    r = hoankiem_router
    o, d = r.snap(*HQ), r.snap(*LAKE_NORTH)
    night, day, peak = (
        r.eta_many_to_one([o], d, at_s=t)[0] for t in (NIGHT_AT_S, OFFPEAK_AT_S, PEAK_AT_S)
    )
    assert night is not None and day is not None and peak is not None
    assert night < day < peak
    assert r.band_at(PEAK_AT_S) == "pm_peak"
    assert np.array_equal(np.rint(r.arc_times_s(PEAK_AT_S) * 1000), r.band_weights()["pm_peak"])


def test_cch_agrees_with_networkx(hoankiem_router: Router) -> None:
    r = hoankiem_router
    a, w = r.arrays, r.band_weights()["day"]
    graph = nx.DiGraph()
    for t, h, ms in zip(a["arc_tail"].tolist(), a["arc_head"].tolist(), w.tolist(), strict=True):
        if not graph.has_edge(t, h) or graph[t][h]["ms"] > ms:
            graph.add_edge(t, h, ms=ms)
    rng = np.random.default_rng(3)
    nodes = rng.choice(r.node_count, 25, replace=False)
    snaps = r.snap_many(a["node_lon"][nodes].tolist(), a["node_lat"][nodes].tolist())
    for src, snap in zip(nodes.tolist(), snaps, strict=True):
        ref = nx.single_source_dijkstra_path_length(graph, src, weight="ms")
        etas = r.eta_one_to_many(snap, snaps, at_s=OFFPEAK_AT_S)
        cover = r.coverage([snap], at_s=OFFPEAK_AT_S)
        for dst, eta in zip(nodes.tolist(), etas, strict=True):
            assert eta == pytest.approx(ref[dst] / 1000, abs=2e-3)
            assert cover[dst] == pytest.approx(ref[dst] / 1000, abs=2e-3)


def test_street_search_ignores_case_and_diacritics(hoankiem_router: Router) -> None:
    r = hoankiem_router
    hits = r.search_streets("phan chu trinh", 5)
    assert hits[0]["name"] == "Phố Phan Chu Trinh"
    assert r.search_streets("ĐINH TIÊN HOÀNG", 1)[0]["name"] == "Phố Đinh Tiên Hoàng"
    assert r.search_streets("dinh tien hoang", 1)[0]["name"] == "Phố Đinh Tiên Hoàng"
    assert r.search_streets("zzz no such street", 5) == []
    assert r.snap(hits[0]["lon"], hits[0]["lat"]).offroad_m < 1.0
    names = r.street_names()
    assert names == sorted(set(names)) and "Phố Hàng Bài" in names and " / " not in "".join(names)


def test_network_geojson(hoankiem_router: Router) -> None:
    r = hoankiem_router
    full = r.network_geojson()
    rev = r.arrays["arc_rev"]
    assert len(full["features"]) == int(((rev < 0) | (np.arange(rev.size) < rev)).sum())
    main = r.network_geojson(classes=["primary", "secondary"], simplify_m=5)
    assert 0 < len(main["features"]) < len(full["features"])
    assert {f["properties"]["class"] for f in main["features"]} <= {"primary", "secondary"}
    assert r.network_geojson() is full  # cached


def test_isochrones(hoankiem_router: Router) -> None:
    r = hoankiem_router
    hq = r.snap(*HQ)
    fc = r.isochrones([hq], at_s=OFFPEAK_AT_S, minutes=(3, 6))
    small, large = (shapely.geometry.shape(f["geometry"]) for f in fc["features"])
    assert [f["properties"]["minutes"] for f in fc["features"]] == [3.0, 6.0]
    assert small.contains(shapely.Point(hq.lon, hq.lat))
    assert small.area < large.area
    assert small.difference(large).area < 0.02 * small.area
    times = r.coverage([hq], at_s=OFFPEAK_AT_S)
    lonlat = r.node_lonlat
    inside = shapely.contains_xy(small, lonlat[:, 0], lonlat[:, 1])
    assert np.mean(times[inside] <= 3 * 60 + 90) > 0.9  # what is inside was reached in time
    assert np.all(shapely.contains_xy(large, *lonlat[times <= 5.5 * 60].T))


def test_position_along_follows_the_route(hoankiem_router: Router) -> None:
    r = hoankiem_router
    route = r.route(r.snap(*OPERA_HOUSE), r.snap(*LAKE_NORTH), at_s=OFFPEAK_AT_S)
    assert route is not None
    line = shapely.LineString(route.geometry["coordinates"])
    for frac in (0.1, 0.5, 0.9):
        lon, lat = r.position_along(route, route.duration_s * frac)
        assert line.distance(shapely.Point(lon, lat)) < 1e-6
    assert r.position_along(route, route.duration_s + 10) == pytest.approx(
        (route.track_lon[-1], route.track_lat[-1])
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.floats(105.842, 105.862),
    st.floats(21.018, 21.036),
    st.floats(105.842, 105.862),
    st.floats(21.018, 21.036),
    st.sampled_from([NIGHT_AT_S, OFFPEAK_AT_S, PEAK_AT_S]),
)
def test_eta_queries_and_route_agree(
    hoankiem_router: Router, lon1: float, lat1: float, lon2: float, lat2: float, at_s: float
) -> None:
    """Many-to-one, one-to-many and route give the same door-to-door time for any two points."""
    r = hoankiem_router
    a, b = r.snap(lon1, lat1), r.snap(lon2, lat2)
    many = r.eta_many_to_one([a], b, at_s=at_s)[0]
    one = r.eta_one_to_many(a, [b], at_s=at_s)[0]
    route = r.route(a, b, at_s=at_s)
    assert route is not None and many is not None
    assert many == pytest.approx(one, abs=1e-9)
    assert route.duration_s == pytest.approx(many, abs=1e-9)
    driven = [s.duration_s for s in route.steps if s.maneuver not in ("offroad", "arrive")]
    assert sum(driven) == pytest.approx(route.drive_s, abs=0.01)


def test_cached_build_reuses_the_folder(hoankiem_graph_dir: Path, osm_dir: Path) -> None:
    from routing.cache import cache_key, cached_build

    stamp = (hoankiem_graph_dir / "graph.npz").stat().st_mtime_ns
    again = cached_build(osm_dir / "hanoi_hoankiem_drive_small.osm.bz2", hoankiem_graph_dir.parent)
    assert again == hoankiem_graph_dir
    assert (again / "graph.npz").stat().st_mtime_ns == stamp
    assert again.name == cache_key(osm_dir / "hanoi_hoankiem_drive_small.osm.bz2")


def test_point_times_match_etas(hoankiem_router: Router) -> None:
    r = hoankiem_router
    sources = [r.snap(*HQ), r.snap(*OPERA_HOUSE)]
    rng = np.random.default_rng(9)
    points = [r.snap(105.842 + 0.02 * x, 21.018 + 0.018 * y) for x, y in rng.random((30, 2))]
    node_s = r.coverage(sources, at_s=PEAK_AT_S)
    got = r.point_times(node_s, points, at_s=PEAK_AT_S)
    for p, t in zip(points, got.tolist(), strict=True):
        etas = [r.eta_one_to_many(src, [p], at_s=PEAK_AT_S)[0] for src in sources]
        assert t == pytest.approx(min(e for e in etas if e is not None), abs=0.01)


def test_queries_from_worker_threads(hoankiem_router: Router) -> None:
    """Web servers call from a thread pool: RoutingKit objects must not cross threads."""
    from concurrent.futures import ThreadPoolExecutor

    r = hoankiem_router
    a, b = r.snap(*HQ), r.snap(*LAKE_NORTH)
    expected = r.eta_many_to_one([a], b, at_s=PEAK_AT_S)[0]

    def work(_: int) -> tuple[float | None, float | None, float | None]:
        route = r.route(a, b, at_s=PEAK_AT_S)
        return (
            r.eta_many_to_one([a], b, at_s=PEAK_AT_S)[0],
            r.eta_one_to_many(a, [b], at_s=PEAK_AT_S)[0],
            None if route is None else route.duration_s,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(16)))
    assert all(res == pytest.approx((expected,) * 3) for res in results)
