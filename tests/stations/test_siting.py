"""p-median heuristic, swap bookkeeping and the OR-Library reader, on real and tiny instances."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from stations.siting import (
    PMED_OPTIMA,
    SitingError,
    SitingProblem,
    greedy,
    read_orlib,
    solve_pmedian,
    vns_pmedian,
)
from stations.siting.swap import SwapState

PMED_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pmed"


def _random_problem(seed: int, n: int = 14, m: int = 9, p: int = 3) -> SitingProblem:
    rng = np.random.default_rng(seed)
    demand, sites = rng.random((n, 2)), rng.random((m, 2))
    cost = np.round(np.sqrt(((demand[:, None] - sites[None]) ** 2).sum(-1)) * 100, 1)
    return SitingProblem(cost=cost, p=p, weights=rng.integers(1, 9, n).astype(float))


def _brute_force(problem: SitingProblem) -> float:
    free = [j for j in range(problem.n_candidate) if j not in problem.fixed]
    k = problem.p - len(problem.fixed)
    return min(
        problem.pmedian_value(list(problem.fixed) + list(extra))
        for extra in itertools.combinations(free, k)
    )


@pytest.fixture(scope="module")
def pmed() -> dict[str, SitingProblem]:
    return {f"pmed{k}": read_orlib(PMED_DIR / f"pmed{k}.txt") for k in range(1, 6)}


def test_reader_keeps_the_last_duplicate_edge(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    # 1-2 appears twice: the last line (cost 9) wins, even though 4 is smaller.
    path.write_text(" 3 4 1\n 1 2 4\n 2 3 5\n 1 3 20\n 2 1 9\n")
    problem = read_orlib(path)
    assert problem.cost[0, 1] == 9
    assert problem.cost[0, 2] == 14  # 1-2-3 = 9 + 5 beats the direct 20
    assert problem.p == 1 and problem.n_demand == 3


def test_reader_accepts_a_header_with_the_optimum(tmp_path: Path) -> None:
    path = tmp_path / "with_opt.txt"
    path.write_text(" 3 2 1 7\n 1 2 3\n 2 3 4\n")
    assert read_orlib(path).pmedian_value([1]) == 7


def test_reader_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text(" 3 3 1\n 1 2 3\n")
    with pytest.raises(SitingError, match="expected 3 edges"):
        read_orlib(path)


def test_pmed1_matrix_matches_the_published_rule(pmed: dict[str, SitingProblem]) -> None:
    problem = pmed["pmed1"]
    assert problem.cost.shape == (100, 100)
    assert np.allclose(problem.cost, problem.cost.T) and (np.diag(problem.cost) == 0).all()
    assert problem.p == 5


@pytest.mark.parametrize("name", [f"pmed{k}" for k in range(1, 6)])
def test_heuristic_reaches_the_published_optimum(pmed: dict[str, SitingProblem], name: str) -> None:
    result = vns_pmedian(pmed[name], seed=0, max_rounds=300, max_stall=150)
    assert result.objective == PMED_OPTIMA[name]
    assert len(result.sites) == pmed[name].p
    assert result.objective == pmed[name].pmedian_value(result.sites)


@pytest.mark.parametrize("seed", range(6))
def test_swap_deltas_and_bookkeeping_are_exact(seed: int) -> None:
    problem = _random_problem(seed, n=40, m=25, p=5)
    rng = np.random.default_rng(seed)
    state = SwapState(
        problem.cost, problem.weights, rng.choice(25, 5, replace=False), np.zeros(0, np.int64)
    )
    slots = state.free_slots()
    for _ in range(8):
        before = problem.pmedian_value(state.sites)
        slot, site, delta = state.best_swap(slots)
        state.swap(slot, site)
        assert problem.pmedian_value(state.sites) - before == pytest.approx(delta, abs=1e-7)
        assert state.objective == pytest.approx(problem.pmedian_value(state.sites))
        closed = np.flatnonzero(state.slot_of < 0)
        state.swap(int(rng.integers(5)), int(closed[rng.integers(len(closed))]))
    gain, loss, extra = state.gain.copy(), state.loss.copy(), state.extra.copy()
    state.rebuild()
    assert np.allclose(gain, state.gain) and np.allclose(loss, state.loss)
    assert np.allclose(extra, state.extra)


@pytest.mark.parametrize("p", [1, 2, 4])
def test_swap_bookkeeping_survives_ties(p: int) -> None:
    # Small integer costs: many demands are equidistant from several sites, so the closest and
    # second-closest sites are updated through ties on both the incremental and full paths.
    rng = np.random.default_rng(p)
    cost = rng.integers(0, 6, size=(50, 12)).astype(float)
    weights = rng.integers(1, 4, 50).astype(float)
    state = SwapState(cost, weights, rng.choice(12, p, replace=False), np.zeros(0, np.int64))
    for _ in range(60):
        closed = np.flatnonzero(state.slot_of < 0)
        state.swap(int(rng.integers(p)), int(closed[rng.integers(len(closed))]))
        assert state.objective == pytest.approx(weights @ cost[:, state.sites].min(axis=1))
    c1, c2 = state.c1.copy(), state.c2.copy()
    gain, loss, extra = state.gain.copy(), state.loss.copy(), state.extra.copy()
    state.rebuild()
    assert np.array_equal(c1, state.c1) and np.array_equal(c2, state.c2)
    assert np.allclose(gain, state.gain) and np.allclose(loss, state.loss)
    assert np.allclose(extra, state.extra)


def test_time_limit_is_a_hard_cap() -> None:
    problem = _random_problem(11, n=300, m=300, p=30)
    result = vns_pmedian(problem, time_limit_s=0.4, max_rounds=10**6, max_stall=10**6)
    assert result.iterations > 0
    assert 0.0 < float(result.extra["cpu_seconds"]) < 0.4  # type: ignore[arg-type]


def test_search_stops_once_it_stalls_for_max_stall_s() -> None:
    problem = _random_problem(11, n=300, m=300, p=30)
    result = vns_pmedian(
        problem, time_limit_s=60.0, max_rounds=10**9, max_stall=10**9, max_stall_s=0.3
    )
    cpu = float(result.extra["cpu_seconds"])  # type: ignore[arg-type]
    to_best = float(result.extra["cpu_seconds_to_best"])  # type: ignore[arg-type]
    assert result.iterations > 0
    assert 0.3 <= cpu - to_best < 1.0  # stopped by the stall clock, not the 60 s budget
    assert cpu < 10.0


def test_greedy_matches_a_plain_greedy() -> None:
    problem = _random_problem(3, n=30, m=20, p=6)
    chosen: list[int] = []
    for _ in range(problem.p):
        free = [j for j in range(20) if j not in chosen]
        chosen.append(min(free, key=lambda j: problem.pmedian_value([*chosen, j])))
    fast = greedy(problem.cost, problem.weights, problem.p, np.zeros(0, np.int64))
    assert list(fast) == chosen


@pytest.mark.parametrize("seed", range(5))
def test_heuristic_matches_brute_force_with_and_without_fixed_sites(seed: int) -> None:
    problem = _random_problem(seed)
    fixed = SitingProblem(cost=problem.cost, p=4, weights=problem.weights, fixed=(seed, 8))
    for prob in (problem, fixed):
        result = vns_pmedian(prob, seed=seed, max_rounds=200, max_stall=100)
        assert result.objective == pytest.approx(_brute_force(prob))
        assert set(prob.fixed) <= set(result.sites)


def test_fixed_sites_stay_open_on_pmed1(pmed: dict[str, SitingProblem]) -> None:
    base = pmed["pmed1"]
    problem = SitingProblem(cost=base.cost, p=5, fixed=(0, 1))
    heur = vns_pmedian(problem, seed=0, max_rounds=300, max_stall=300)
    exact = solve_pmedian(problem, method="exact", time_limit_s=60)
    assert {0, 1} <= set(heur.sites) and {0, 1} <= set(exact.sites)
    assert exact.optimal and heur.objective == exact.objective
    assert exact.objective > PMED_OPTIMA["pmed1"]  # forcing sites 1 and 2 costs something


def test_same_seed_gives_the_same_answer(pmed: dict[str, SitingProblem]) -> None:
    problem = pmed["pmed3"]
    runs = [vns_pmedian(problem, seed=7, max_rounds=60, max_stall=10**6) for _ in range(2)]
    assert runs[0].sites == runs[1].sites and runs[0].iterations == runs[1].iterations == 60
    other = SitingProblem(cost=problem.cost, p=problem.p)
    assert vns_pmedian(other, seed=7, max_rounds=60, max_stall=10**6).sites == runs[0].sites


def test_unreachable_pairs_are_never_chosen_when_avoidable() -> None:
    cost = np.array([[0.0, np.inf, 5.0], [np.inf, 0.0, 5.0], [np.inf, np.inf, 0.0]])
    result = vns_pmedian(SitingProblem(cost=cost, p=1), max_rounds=10)
    assert result.sites == (2,) and result.objective == 10.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cost": np.ones((2, 3)), "p": 4}, "p=4"),
        ({"cost": np.ones((2, 3)), "p": 1, "fixed": (0, 1)}, "len\\(fixed\\)"),
        ({"cost": -np.ones((2, 3)), "p": 1}, "non-negative"),
        ({"cost": np.ones((2, 3)), "p": 1, "weights": np.ones(3)}, "weights"),
        ({"cost": np.ones((2, 3)), "p": 1, "fixed": (5,)}, "out of range"),
    ],
)
def test_ill_posed_problems_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SitingError, match=message):
        SitingProblem(**kwargs)  # type: ignore[arg-type]
