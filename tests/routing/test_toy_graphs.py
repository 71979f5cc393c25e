"""Exact routing behaviour on hand-made graphs: one-way street, river and bridge, island, alley."""

from __future__ import annotations

import numpy as np
import pytest

from routing.engine import Router
from routing.errors import OutsideServiceArea
from tests.routing.toy_graphs import (
    NIGHT_AT_S,
    RESIDENTIAL_MS_PER_M,
    lonlat,
    one_way_square,
    river_with_bridge,
    toy_router,
    with_island,
)

T = NIGHT_AT_S
LEG_S = 100 * RESIDENTIAL_MS_PER_M / 1000  # one 100 m residential side at night: 18 s


@pytest.fixture(scope="module")
def square() -> Router:
    return toy_router(one_way_square())


@pytest.fixture(scope="module")
def river() -> Router:
    return toy_router(with_island(river_with_bridge()))


def test_night_band_is_free_flow(square: Router) -> None:
    assert square.band_at(T) == "night"
    assert np.all(square.arc_times_s(T) == pytest.approx(LEG_S))


def test_snap_lands_on_the_edge_not_a_node(square: Router) -> None:
    s = square.snap(*lonlat(0.3, 0.05))
    assert s.street == "Phố Một Chiều"
    assert s.fraction == pytest.approx(0.3, abs=1e-6)
    assert s.offroad_m == pytest.approx(0.05 * 100, rel=0.01)
    assert (s.lon, s.lat) == pytest.approx(lonlat(0.3, 0), abs=1e-7)


def test_one_way_street_is_driven_forward_only(square: Router) -> None:
    a, b = square.snap(*lonlat(0, 0)), square.snap(*lonlat(1, 0))
    assert square.eta_many_to_one([a], b, at_s=T) == [pytest.approx(LEG_S, abs=1e-3)]
    back = square.route(b, a, at_s=T)
    assert back is not None
    assert back.distance_m == pytest.approx(300.0)
    assert back.duration_s == pytest.approx(3 * LEG_S, abs=1e-3)
    assert [s.name for s in back.steps if s.name] == ["Phố Đông", "Phố Bắc", "Phố Tây"]


def test_behind_on_a_one_way_street_goes_round_the_block(square: Router) -> None:
    ahead, behind = square.snap(*lonlat(0.5, 0)), square.snap(*lonlat(0.25, 0))
    assert square.eta_one_to_many(behind, [ahead], at_s=T)[0] == pytest.approx(
        0.25 * LEG_S, abs=1e-3
    )
    route = square.route(ahead, behind, at_s=T)
    assert route is not None
    assert route.distance_m == pytest.approx(50 + 300 + 25)
    assert route.duration_s == pytest.approx(3.75 * LEG_S, abs=1e-2)
    assert square.eta_many_to_one([ahead], behind, at_s=T)[0] == pytest.approx(route.duration_s)


def test_two_way_street_same_edge_both_directions(square: Router) -> None:
    p, q = square.snap(*lonlat(1, 0.2)), square.snap(*lonlat(1, 0.7))
    assert square.eta_one_to_many(p, [q], at_s=T)[0] == pytest.approx(0.5 * LEG_S, abs=1e-2)
    assert square.eta_one_to_many(q, [p], at_s=T)[0] == pytest.approx(0.5 * LEG_S, abs=1e-2)


def test_river_is_crossed_on_the_only_bridge(river: Router) -> None:
    west, east = river.snap(*lonlat(1, 0)), river.snap(*lonlat(3, 0))  # facing across the water
    route = river.route(west, east, at_s=T)
    assert route is not None
    assert "Cầu Long Biên" in [s.name for s in route.steps]
    assert route.distance_m == pytest.approx(200 + 200 + 200)
    bridge_s = 200 / (40 / 3.6)  # primary free flow 40 km/h
    assert route.duration_s == pytest.approx(4 * LEG_S + bridge_s, abs=1e-2)
    lats = [c[1] for c in route.geometry["coordinates"]]
    assert max(lats) == pytest.approx(lonlat(0, 2)[1])  # goes north to the bridge and back


def test_island_is_unreachable_without_crashing(river: Router) -> None:
    main, island = river.snap(*lonlat(0, 0)), river.snap(*lonlat(8.5, 0))
    assert island.street == "Phố Đảo"
    assert river.eta_many_to_one([main, island], island, at_s=T)[0] is None
    assert river.eta_many_to_one([main, island], island, at_s=T)[1] == pytest.approx(0.0)
    assert river.eta_one_to_many(main, [island], at_s=T) == [None]
    assert river.route(main, island, at_s=T) is None
    times = river.coverage([main], at_s=T)
    island_nodes = np.nonzero(river.node_lonlat[:, 0] > lonlat(7, 0)[0])[0]
    assert island_nodes.size == 2
    assert np.all(np.isinf(times[island_nodes]))
    assert np.isfinite(times).sum() == times.size - 2


def test_point_in_an_alley_gets_an_offroad_leg(square: Router) -> None:
    road = square.snap(*lonlat(0.5, 0.5 - 0.5))
    alley = square.snap(*lonlat(0.5, 0.6))  # 40 m south of Phố Bắc, 60 m north of the one-way
    assert alley.street == "Phố Bắc"
    assert alley.offroad_m == pytest.approx(40.0, rel=0.01)
    assert alley.offroad_s == pytest.approx(alley.offroad_m * 1.3 / (3.0 / 3.6))
    route = square.route(road, alley, at_s=T)
    assert route is not None
    assert route.offroad_end_m == pytest.approx(alley.offroad_m)
    assert route.duration_s == pytest.approx(route.drive_s + alley.offroad_s)
    assert route.steps[-2].maneuver == "offroad"
    eta = square.eta_many_to_one([road], alley, at_s=T)[0]
    assert eta == pytest.approx(route.duration_s)
    assert route.geometry["coordinates"][-1] == pytest.approx([alley.lon, alley.lat])


def test_far_point_is_outside_the_service_area(square: Router) -> None:
    with pytest.raises(OutsideServiceArea) as err:
        square.snap(*lonlat(0.5, 7))  # ~600 m north of the block
    assert err.value.distance_m == pytest.approx(600, rel=0.02)
    assert toy_router(one_way_square(), snap_max_m=1000).snap(*lonlat(0.5, 7)).offroad_m > 500


def test_coverage_and_position_along(river: Router) -> None:
    start = river.snap(*lonlat(0, 0))
    times = river.coverage([start], at_s=T)
    assert times.min() == pytest.approx(0.0, abs=1e-6)
    east_far = int(np.argmin(np.hypot(*(river.node_lonlat - lonlat(4, 0)).T)))
    assert times[east_far] == pytest.approx(6 * LEG_S + 200 / (40 / 3.6), abs=1e-2)
    route = river.route(start, river.snap(*lonlat(1, 2)), at_s=T)
    assert route is not None
    assert river.position_along(route, 0) == pytest.approx(lonlat(0, 0), abs=1e-9)
    assert river.position_along(route, LEG_S) == pytest.approx(lonlat(1, 0), abs=1e-6) or (
        river.position_along(route, LEG_S) == pytest.approx(lonlat(0, 1), abs=1e-6)
    )
    assert river.position_along(route, 1e6) == pytest.approx(lonlat(1, 2), abs=1e-9)
