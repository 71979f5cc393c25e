"""p-median heuristic: vectorised greedy, fast-swap local search and variable neighbourhood search.

Deterministic for a given seed as long as the iteration limits, not the time limit, end the
search (the time limit is a safety cap).
"""

from __future__ import annotations

import time

import numpy as np

from stations.siting.problem import FloatArray, IntArray, SitingProblem, SitingResult
from stations.siting.swap import SwapState

#: Share of shake moves that stay near the moved site, and how near ("the k nearest").
LOCAL_SHAKE_SHARE = 0.9
SHAKE_NEIGHBOURS = 12
#: Accept an equally good solution as the new incumbent (walk plateaus).
ACCEPT_EQUAL = True
#: The time limit is a hard cap: a round starts only if `ROUND_MARGIN` times the longest round
#: so far, plus `END_RESERVE_S` for building the result, still fits in the budget.
ROUND_MARGIN = 1.5
END_RESERVE_S = 0.02


def greedy(cost: FloatArray, weights: FloatArray, p: int, fixed: IntArray) -> IntArray:
    """Open `fixed`, then add the site with the largest saving until `p` are open.

    The saving of every candidate is kept up to date incrementally: opening a site only
    changes the rows of the demands it now serves best.
    """
    m = cost.shape[1]
    chosen = [int(j) for j in fixed]
    if chosen:
        best = cost[:, chosen].min(axis=1)
    else:
        chosen.append(int(np.argmin(weights @ cost)))
        best = cost[:, chosen[0]].copy()
    is_open = np.zeros(m, dtype=bool)
    is_open[chosen] = True
    saving = weights @ np.maximum(best[:, None] - cost, 0.0)
    while len(chosen) < p:
        masked = np.where(is_open, -np.inf, saving)
        j = int(np.argmax(masked))
        chosen.append(j)
        is_open[j] = True
        rows = np.flatnonzero(cost[:, j] < best)
        if len(rows):
            sub = cost[rows]
            w = weights[rows]
            saving -= w @ np.maximum(best[rows, None] - sub, 0.0)
            best[rows] = sub[:, j]
            saving += w @ np.maximum(best[rows, None] - sub, 0.0)
    return np.array(chosen, dtype=np.int64)


def _shake(state: SwapState, slots: IntArray, k: int, rng: np.random.Generator) -> None:
    """Apply k random swaps among the free slots, mostly local ones.

    A local swap moves a site to one of the few candidates nearest to a demand it serves, so
    the local search repairs a small disturbance instead of undoing a random jump.
    """
    for _ in range(k):
        slot = int(slots[rng.integers(len(slots))])
        site = int(state.sites[slot])
        served = np.flatnonzero(state.f1 == site)
        if len(served) and rng.random() < LOCAL_SHAKE_SHARE:
            demand = int(served[rng.integers(len(served))])
            near = state.nearest_candidates(demand, SHAKE_NEIGHBOURS)
            near = near[state.slot_of[near] < 0]
            if len(near):
                state.swap(slot, int(near[rng.integers(len(near))]))
                continue
        closed = np.flatnonzero(state.slot_of < 0)
        state.swap(slot, int(closed[rng.integers(len(closed))]))


def vns_pmedian(
    problem: SitingProblem,
    *,
    seed: int = 0,
    time_limit_s: float = 7.0,
    max_rounds: int = 50_000,
    max_stall: int = 3000,
    max_stall_s: float = 4.0,
    k_max: int | None = None,
    start: IntArray | None = None,
) -> SitingResult:
    """Greedy start, fast-swap local search, then variable neighbourhood search.

    seed: seed of the random shakes.
    time_limit_s: budget in CPU seconds of this process (one core), so that a busy machine
        slows the search down without cutting it short; the search ends before it, not after.
    max_rounds: VNS rounds (shake + local search) at most.
    max_stall: stop after this many rounds without a new best.
    max_stall_s: or after this many CPU seconds without a new best (on the OR-Library
        instances the best is found within 1.6 s; searching on rarely pays).
    k_max: largest shake (number of random swaps); default max(10, free sites / 10).
    start: initial open set (p sites, fixed ones included); default the greedy solution.
    """
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    cost = problem.finite_cost()
    weights = problem.weights
    fixed = np.array(problem.fixed, dtype=np.int64)
    sites = greedy(cost, weights, problem.p, fixed) if start is None else np.asarray(start)
    state = SwapState(cost, weights, sites, fixed)
    slots = state.free_slots()
    n_closed = problem.n_candidate - problem.p
    if len(slots) == 0 or n_closed == 0:
        return _result(problem, state.sites, "greedy", t0, 0, 0.0, time.process_time() - cpu0)
    tol = 1e-9 * max(1.0, abs(state.objective))
    state.local_search(slots, tol)
    best_sites = state.sites.copy()
    best_obj = state.objective
    k_top = k_max or min(len(slots), n_closed, max(10, len(slots) // 10))
    rng = np.random.default_rng(seed)
    k, rounds, stall = 1, 0, 0
    t_best = time.process_time() - cpu0
    # Longest round so far: no round starts unless it can finish within the budget.
    longest, now = 0.0, t_best
    while rounds < max_rounds and stall < max_stall:
        if now + ROUND_MARGIN * longest + END_RESERVE_S >= time_limit_s:
            break
        if now - t_best >= max_stall_s:
            break
        rounds += 1
        _shake(state, slots, k, rng)
        state.local_search(slots, tol)
        if state.objective < best_obj - tol:
            best_obj = state.objective
            best_sites = state.sites.copy()
            state.rebuild()
            t_best = time.process_time() - cpu0
            k, stall = 1, 0
        elif ACCEPT_EQUAL and state.objective <= best_obj + tol:
            # A different solution of equal value: move across the plateau.
            best_sites = state.sites.copy()
            k = k + 1 if k < k_top else 1
            stall += 1
        else:
            state.move_to(best_sites)
            k = k + 1 if k < k_top else 1
            stall += 1
        before, now = now, time.process_time() - cpu0
        longest = max(longest, now - before)
    return _result(problem, best_sites, "vns", t0, rounds, t_best, time.process_time() - cpu0)


def _result(
    problem: SitingProblem,
    sites: IntArray,
    method: str,
    t0: float,
    rounds: int,
    t_best: float = 0.0,
    cpu: float = 0.0,
) -> SitingResult:
    ordered = tuple(sorted(int(j) for j in sites))
    return SitingResult(
        sites=ordered,
        objective=problem.pmedian_value(ordered),
        method=method,
        seconds=time.perf_counter() - t0,
        iterations=rounds,
        extra={"cpu_seconds": round(cpu, 4), "cpu_seconds_to_best": round(t_best, 4)},
    )
