"""One entry point per model: `solve_pmedian` and `solve_mclp`, exact, heuristic or automatic.

`method="auto"` runs the heuristic first; when the instance is small enough for the MILP it then
runs HiGHS warm-started from the heuristic's answer, so the result is proven optimal (or carries
a bound and gap) and is never worse than the heuristic's.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from stations.siting.exact import exact_mclp, exact_pmedian
from stations.siting.heuristic import vns_pmedian
from stations.siting.problem import Method, SitingError, SitingProblem, SitingResult

#: Largest demand x candidate matrix that `auto` hands to the p-median MILP.
PMEDIAN_EXACT_MAX_CELLS = 250_000
#: Largest number of (demand, covering site) pairs that `auto` hands to the MCLP MILP.
MCLP_EXACT_MAX_PAIRS = 2_000_000


def solve_pmedian(
    problem: SitingProblem,
    *,
    method: Method = "auto",
    time_limit_s: float = 10.0,
    seed: int = 0,
    max_rounds: int = 50_000,
    max_stall: int = 3000,
) -> SitingResult:
    """Open `problem.p` sites minimising the weighted cost of each demand to its nearest site.

    method: "exact" (MILP, proven optimum or bound and gap), "heuristic" (VNS), or "auto".
    time_limit_s: overall wall-clock budget in seconds (the heuristic gets up to half of it
        when the exact solver follows).
    seed, max_rounds, max_stall: heuristic controls; see `vns_pmedian`.
    """
    t0 = time.perf_counter()
    small = problem.n_demand * problem.n_candidate <= PMEDIAN_EXACT_MAX_CELLS
    exact_follows = method == "exact" or (method == "auto" and small)
    heur_budget = time_limit_s / 2 if exact_follows else time_limit_s
    if method == "exact":
        heur_budget = min(heur_budget, 2.0)
    # When the MILP follows, the heuristic only has to give it a good incumbent.
    heur = vns_pmedian(
        problem,
        seed=seed,
        time_limit_s=heur_budget,
        max_rounds=min(max_rounds, 300) if exact_follows else max_rounds,
        max_stall=min(max_stall, 150) if exact_follows else max_stall,
    )
    if not exact_follows:
        return replace(heur, seconds=time.perf_counter() - t0)
    remaining = max(time_limit_s - (time.perf_counter() - t0), 1.0)
    exact = exact_pmedian(problem, time_limit_s=remaining, start=np.array(heur.sites))
    best = exact if exact.objective <= heur.objective else replace(exact, sites=heur.sites)
    return replace(
        best,
        objective=problem.pmedian_value(best.sites),
        method="exact" if method == "exact" else "auto:heuristic+exact",
        seconds=time.perf_counter() - t0,
        iterations=heur.iterations,
        extra={**best.extra, "heuristic_objective": heur.objective},
    )


def coverage_problem(problem: SitingProblem, radius: float) -> SitingProblem:
    """The MCLP as a p-median: cost 0 when within `radius`, else 1 (weighted uncovered demand)."""
    return SitingProblem(
        cost=(problem.cost > radius).astype(np.float64),
        p=problem.p,
        weights=problem.weights,
        fixed=problem.fixed,
    )


def solve_mclp(
    problem: SitingProblem,
    radius: float,
    *,
    method: Method = "auto",
    time_limit_s: float = 10.0,
    seed: int = 0,
    max_rounds: int = 2000,
    max_stall: int = 500,
) -> SitingResult:
    """Open `problem.p` sites covering the most demand weight within `radius`.

    radius: coverage standard in the cost unit (for example 480 s for 8 minutes).
    Other parameters as in `solve_pmedian`. The objective is the covered weight; `extra`
    holds the covered share of the total weight.
    """
    if not np.isfinite(radius) or radius < 0:
        raise SitingError("radius must be finite and non-negative")
    t0 = time.perf_counter()
    pairs = int((problem.cost <= radius).sum())
    exact_follows = method == "exact" or (method == "auto" and pairs <= MCLP_EXACT_MAX_PAIRS)
    heur_budget = time_limit_s / 2 if exact_follows else time_limit_s
    heur = vns_pmedian(
        coverage_problem(problem, radius),
        seed=seed,
        time_limit_s=min(heur_budget, 2.0) if method == "exact" else heur_budget,
        max_rounds=min(max_rounds, 300) if exact_follows else max_rounds,
        max_stall=min(max_stall, 150) if exact_follows else max_stall,
    )
    best = replace(heur, objective=problem.covered_weight(heur.sites, radius))
    if exact_follows:
        remaining = max(time_limit_s - (time.perf_counter() - t0), 1.0)
        exact = exact_mclp(problem, radius, time_limit_s=remaining, start=np.array(heur.sites))
        if exact.objective >= best.objective:
            best = exact
        else:
            best = replace(exact, sites=heur.sites, objective=best.objective)
        best = replace(best, method="exact" if method == "exact" else "auto:heuristic+exact")
    total = float(problem.weights.sum())
    return replace(
        best,
        seconds=time.perf_counter() - t0,
        iterations=heur.iterations,
        extra={**best.extra, "covered_share": best.objective / total if total else 0.0},
    )
