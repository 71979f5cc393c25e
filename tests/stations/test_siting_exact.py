"""Exact siting through HiGHS, maximal covering, and the one-call `solve_*` entry points."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from stations.siting import (
    SitingProblem,
    exact_mclp,
    exact_pmedian,
    read_orlib,
    solve_mclp,
    solve_pmedian,
    vns_pmedian,
)

PMED_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "pmed"

# Five demands A..E (weights 5, 5, 5, 5, 1) and three sites: X covers A, B; Y covers B, C, E;
# Z covers C, D. Greedy opens Y first (11) and ends at 16; the optimum for p = 2 is X + Z = 20.
HAND_COST = np.array(
    [
        [1.0, 9.0, 9.0],  # A
        [1.0, 1.0, 9.0],  # B
        [9.0, 1.0, 1.0],  # C
        [9.0, 9.0, 1.0],  # D
        [9.0, 1.0, 9.0],  # E
    ]
)
HAND_WEIGHTS = np.array([5.0, 5.0, 5.0, 5.0, 1.0])


def test_exact_proves_the_pmed1_optimum() -> None:
    result = exact_pmedian(read_orlib(PMED_DIR / "pmed1.txt"), time_limit_s=60)
    assert result.optimal
    assert result.objective == 5819 and result.bound == 5819 and result.gap == 0.0


def test_auto_proves_pmed2_and_is_never_worse_than_the_heuristic() -> None:
    result = solve_pmedian(read_orlib(PMED_DIR / "pmed2.txt"), method="auto", time_limit_s=60)
    assert result.optimal and result.objective == 4093
    assert result.extra["heuristic_objective"] >= result.objective


def test_exact_reports_bound_and_gap_when_time_runs_out() -> None:
    rng = np.random.default_rng(5)
    points = rng.random((300, 2))
    cost = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1)) * 1000
    problem = SitingProblem(cost=cost, p=12)
    start = vns_pmedian(problem, max_rounds=20)
    result = exact_pmedian(problem, time_limit_s=0.3, start=np.array(start.sites))
    assert not result.optimal
    assert result.bound is not None and result.gap is not None
    assert 0.0 <= result.bound <= result.objective <= start.objective
    assert result.gap == pytest.approx((result.objective - result.bound) / result.objective)


@pytest.mark.parametrize("method", ["exact", "heuristic", "auto"])
def test_mclp_on_a_hand_made_instance(method: str) -> None:
    problem = SitingProblem(cost=HAND_COST, p=2, weights=HAND_WEIGHTS)
    result = solve_mclp(problem, 1.0, method=method, time_limit_s=10)  # type: ignore[arg-type]
    assert result.sites == (0, 2) and result.objective == 20.0
    assert result.extra["covered_share"] == pytest.approx(20 / 21)
    if method != "heuristic":
        assert result.optimal and result.bound == 20.0


def test_mclp_respects_fixed_sites() -> None:
    problem = SitingProblem(cost=HAND_COST, p=2, weights=HAND_WEIGHTS, fixed=(1,))
    for method in ("exact", "heuristic"):
        result = solve_mclp(problem, 1.0, method=method)
        assert 1 in result.sites and result.objective == 16.0


@pytest.mark.parametrize("seed", range(4))
def test_mclp_and_pmedian_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 60, size=(25, 10)).astype(float)
    weights = rng.integers(1, 10, size=25).astype(float)
    problem = SitingProblem(cost=cost, p=3, weights=weights, fixed=(seed,))
    combos = [c for c in itertools.combinations(range(10), 3) if seed in c]
    best_cover = max(problem.covered_weight(c, 20.0) for c in combos)
    best_cost = min(problem.pmedian_value(c) for c in combos)
    assert exact_mclp(problem, 20.0).objective == best_cover
    assert solve_mclp(problem, 20.0, method="heuristic", max_stall=100).objective == best_cover
    assert exact_pmedian(problem).objective == best_cost
    assert solve_pmedian(problem, method="heuristic", max_stall=100).objective == best_cost
