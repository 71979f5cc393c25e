"""The query shortcuts (pinned endpoint sets, target tables, source trees) give exactly the
CCH answers: a router that takes every shortcut at once against one that never does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from routing.engine import Router
from routing.snapping import Snap

T0 = 1_741_000_000.0  # a weekday; + k * 7 h walks through every congestion band
HOURS = [T0 + k * 7 * 3600.0 for k in range(12)]


@dataclass(frozen=True)
class Loose:
    """A point-like that is not a `Snap` (the engine snaps it again, uncached)."""

    lon: float
    lat: float
    offroad_m: float = 0.0
    offroad_s: float = 0.0


@pytest.fixture(scope="module")
def routers(hoankiem_graph_dir: Path) -> tuple[Router, Router]:
    eager, plain = Router.load(hoankiem_graph_dir), Router.load(hoankiem_graph_dir)
    eager._rtrees.min_uses = 10**9  # on only through the `into` fixture (it answers first)
    eager._tables.min_uses = 1
    eager._trees.min_uses = 1
    plain._tables.min_uses = 10**9
    plain._trees.min_uses = 10**9
    plain._rtrees.min_uses = 10**9
    return eager, plain


@pytest.fixture
def into(routers: tuple[Router, Router]) -> Iterator[Router]:
    """The shortcut router answering many-to-one by trees into the destination."""
    eager = routers[0]
    eager._rtrees.min_uses = 1
    yield eager
    eager._rtrees.min_uses = 10**9


@pytest.fixture(scope="module")
def places(routers: tuple[Router, Router]) -> list[Snap]:
    router = routers[0]
    nodes = router.node_lonlat[np.random.default_rng(7).integers(0, router.node_count, 60)]
    # small offsets: points on edges (not nodes), some on the same edge as their neighbour
    lon, lat = (nodes[:, 0] + 2e-5).tolist(), (nodes[:, 1] - 1e-5).tolist()
    snaps = router.snap_many(lon, lat)
    twins = router.snap_many([x + 1e-5 for x in lon], lat)
    return [s for pair in zip(snaps, twins, strict=True) for s in pair]


def test_tables_answer_one_to_many_exactly(
    routers: tuple[Router, Router], places: list[Snap]
) -> None:
    eager, plain = routers
    dests = places[:20]
    for k, origin in enumerate(places):
        at_s = HOURS[k % len(HOURS)]
        got = eager.eta_one_to_many(origin, dests, at_s=at_s)
        assert got == plain.eta_one_to_many(origin, dests, at_s=at_s)
        assert any(t is not None and t > 0 for t in got)
    built = [s for b in eager._pinned for s in eager._pinned[b][1]._sets.values()]
    assert any(s.table is not None for s in built)  # the table path really ran


def test_trees_answer_many_to_one_exactly(
    routers: tuple[Router, Router], places: list[Snap]
) -> None:
    eager, plain = routers
    origins = places[:8]
    for k, dest in enumerate(places):
        at_s = HOURS[k % len(HOURS)]
        mixed = [*origins[k % 3 : k % 3 + 5], dest, places[(k + 1) % len(places)]]
        got = eager.eta_many_to_one(mixed, dest, at_s=at_s)
        assert got == plain.eta_many_to_one(mixed, dest, at_s=at_s)
        assert got[mixed.index(dest)] == pytest.approx(2 * dest.offroad_s)  # itself: walk only
        single = eager.eta_many_to_one([origins[k % 8]], dest, at_s=at_s)
        assert single == plain.eta_many_to_one([origins[k % 8]], dest, at_s=at_s)
    assert eager._trees.built > 0


def test_same_road_trips_keep_the_direct_drive(
    routers: tuple[Router, Router], places: list[Snap]
) -> None:
    eager, plain = routers
    pairs = [(a, b) for a, b in zip(places[::2], places[1::2], strict=True) if a.edge == b.edge]
    assert pairs, "the fixture should hold points on the same edge"
    for a, b in pairs:
        for at_s in HOURS[:3]:
            assert eager.eta_one_to_many(a, [b, a], at_s=at_s) == plain.eta_one_to_many(
                a, [b, a], at_s=at_s
            )
            assert eager.eta_many_to_one([b, a], a, at_s=at_s) == plain.eta_many_to_one(
                [b, a], a, at_s=at_s
            )


def test_pinned_sets_switch_and_accept_other_points(
    routers: tuple[Router, Router], places: list[Snap]
) -> None:
    eager, plain = routers
    first, second = places[:6], places[6:14]
    for k in range(10):  # alternate sets: each query repins or reuses the pinned one
        dests = first if k % 2 else second
        copy = list(dests)  # the same objects in a new list hit the same pinned set
        assert eager.eta_one_to_many(places[20 + k], copy, at_s=T0) == plain.eta_one_to_many(
            places[20 + k], dests, at_s=T0
        )
    loose = [Loose(s.query_lon, s.query_lat) for s in first]
    assert eager.eta_one_to_many(places[30], loose, at_s=T0) == plain.eta_one_to_many(
        places[30], first, at_s=T0
    )
    assert eager.eta_many_to_one(loose, places[31], at_s=T0) == plain.eta_many_to_one(
        first, places[31], at_s=T0
    )


def test_snap_hash_is_consistent_with_equality(routers: tuple[Router, Router]) -> None:
    router = routers[0]
    a, b = router.snap(105.852, 21.028), router.snap(105.852, 21.028)
    assert a is not b and a == b and hash(a) == hash(b)
    assert len({a, b, router.snap(105.853, 21.029)}) == 2


def test_trees_into_destinations_answer_many_to_one_exactly(
    routers: tuple[Router, Router], into: Router, places: list[Snap]
) -> None:
    plain = routers[1]
    for k, dest in enumerate(places[:40]):
        at_s = HOURS[k % len(HOURS)]
        origins = [*places[k + 1 : k + 6], dest]
        assert into.eta_many_to_one(origins, dest, at_s=at_s) == plain.eta_many_to_one(
            origins, dest, at_s=at_s
        )
        loose = [Loose(o.query_lon, o.query_lat) for o in origins[:2]]
        assert into.eta_many_to_one(loose, dest, at_s=at_s) == plain.eta_many_to_one(
            origins[:2], dest, at_s=at_s
        )
    assert into._rtrees.built > 0
