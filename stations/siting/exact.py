"""Exact siting through a MILP solved by HiGHS (highspy), with a time limit.

p-median uses the radius formulation of Cornuejols, Nemhauser and Wolsey (1980) in the form of
Elloumi (2010): per demand, one variable per distinct distance level ("not yet served within
this distance"), which is as strong as the classic x_ij <= y_j model with fewer variables.
MCLP is the textbook model of Church and ReVelle (1974).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix

from stations.siting.problem import FloatArray, IntArray, SitingError, SitingProblem, SitingResult


@dataclass
class _Model:
    """A MILP in arrays: min c'x, row_lower <= A x, bounds, integrality (1 = integer)."""

    c: FloatArray
    lower: FloatArray
    upper: FloatArray
    integer: IntArray
    rows: IntArray
    cols: IntArray
    vals: FloatArray
    row_lower: FloatArray
    offset: float = 0.0


def _pmedian_model(problem: SitingProblem) -> tuple[_Model, list[FloatArray]]:
    """Variables: y_j (m binaries) then z_ik per demand and level; returns levels too."""
    cost = problem.finite_cost()
    n, m = cost.shape
    fixed = list(problem.fixed)
    cap = cost[:, fixed].min(axis=1) if fixed else np.full(n, np.inf)
    rows, cols, vals, row_lower, obj = [], [], [], [], [np.zeros(m)]
    all_levels: list[FloatArray] = []
    offset, n_row, n_col = 0.0, 0, m
    for i in range(n):
        levels = np.unique(cost[i][cost[i] <= cap[i]])
        all_levels.append(levels)
        k = len(levels)
        offset += problem.weights[i] * levels[0]
        if k == 1:
            continue
        lev = np.searchsorted(levels, cost[i])
        site = np.flatnonzero(lev <= k - 2)
        rows.append(n_row + lev[site])
        cols.append(site)
        vals.append(np.ones(len(site)))
        z = n_col + np.arange(k - 1)
        rows += [n_row + np.arange(k - 1), n_row + np.arange(1, k - 1)]
        cols += [z, z[:-1]]
        vals += [np.ones(k - 1), -np.ones(k - 2)]
        row_lower.append(np.r_[1.0, np.zeros(k - 2)])
        obj.append(problem.weights[i] * np.diff(levels))
        n_row += k - 1
        n_col += k - 1
    c = np.concatenate(obj)
    lower = np.zeros(n_col)
    lower[fixed] = 1.0
    upper = np.ones(n_col)
    integer = np.r_[np.ones(m, dtype=np.int64), np.zeros(n_col - m, dtype=np.int64)]
    model = _Model(
        c,
        lower,
        upper,
        integer,
        np.concatenate(rows or [np.zeros(0, np.int64)]),
        np.concatenate(cols or [np.zeros(0, np.int64)]),
        np.concatenate(vals or [np.zeros(0)]),
        np.concatenate(row_lower or [np.zeros(0)]),
        offset,
    )
    return model, all_levels


def _pmedian_start(problem: SitingProblem, levels: list[FloatArray], sites: IntArray) -> FloatArray:
    cost = problem.finite_cost()
    nearest = cost[:, sites].min(axis=1)
    parts = [np.zeros(problem.n_candidate)]
    parts[0][sites] = 1.0
    for i, lv in enumerate(levels):
        parts.append((lv[:-1] < nearest[i]).astype(np.float64))
    return np.concatenate(parts)


def _mclp_model(problem: SitingProblem, radius: float) -> _Model:
    """Variables: y_j then u_i (covered); maximise sum w_i u_i as minimise -sum w_i u_i."""
    n, m = problem.cost.shape
    i_cov, j_cov = np.nonzero(problem.cost <= radius)
    rows = np.concatenate([i_cov, np.arange(n)])
    cols = np.concatenate([j_cov, m + np.arange(n)])
    vals = np.concatenate([np.ones(len(i_cov)), -np.ones(n)])
    lower = np.zeros(m + n)
    lower[list(problem.fixed)] = 1.0
    return _Model(
        c=np.r_[np.zeros(m), -problem.weights],
        lower=lower,
        upper=np.ones(m + n),
        integer=np.r_[np.ones(m, dtype=np.int64), np.zeros(n, dtype=np.int64)],
        rows=rows,
        cols=cols,
        vals=vals,
        row_lower=np.zeros(n),
    )


def _solve(
    model: _Model, p: int, m: int, *, time_limit_s: float, start: FloatArray | None
) -> tuple[highspy.Highs, float]:
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 1e-9)
    h.setOptionValue("mip_abs_gap", 1e-6)
    h.setOptionValue("threads", 1)
    n_col = len(model.c)
    h.addCols(n_col, model.c, model.lower, model.upper, 0, [], [], [])
    h.changeColsIntegrality(n_col, np.arange(n_col, dtype=np.int32), model.integer.astype(np.uint8))
    csr = coo_matrix(
        (model.vals, (model.rows, model.cols)), shape=(len(model.row_lower), n_col)
    ).tocsr()
    h.addRows(
        len(model.row_lower),
        model.row_lower,
        np.full(len(model.row_lower), highspy.kHighsInf),
        csr.nnz,
        csr.indptr.astype(np.int32),
        csr.indices.astype(np.int32),
        csr.data,
    )
    idx = np.arange(m, dtype=np.int32)
    h.addRow(p, p, m, idx, np.ones(m))  # exactly p open sites
    if start is not None:
        h.setSolution(n_col, np.arange(n_col, dtype=np.int32), start)
    t0 = time.perf_counter()
    h.run()
    return h, time.perf_counter() - t0


def _open_sites(h: highspy.Highs, m: int) -> tuple[int, ...]:
    values = np.asarray(h.getSolution().col_value[:m])
    return tuple(int(j) for j in np.flatnonzero(values > 0.5))


def exact_pmedian(
    problem: SitingProblem, *, time_limit_s: float = 60.0, start: IntArray | None = None
) -> SitingResult:
    """Solve the p-median MILP; `optimal` when proven, else incumbent with bound and gap.

    time_limit_s: HiGHS time limit in seconds.
    start: an initial open set (for example the heuristic's) given to HiGHS as incumbent.
    """
    t0 = time.perf_counter()
    model, levels = _pmedian_model(problem)
    warm = None if start is None else _pmedian_start(problem, levels, np.asarray(start))
    h, _ = _solve(model, problem.p, problem.n_candidate, time_limit_s=time_limit_s, start=warm)
    sites = _open_sites(h, problem.n_candidate)
    if len(sites) != problem.p:
        raise SitingError(f"HiGHS found no solution in {time_limit_s} s")
    info = h.getInfo()
    status = h.getModelStatus()
    value = problem.pmedian_value(sites)
    # Every demand pays at least its nearest candidate's cost: the offset is a valid bound
    # even when HiGHS stops before its first LP bound (it then reports -inf).
    bound = max(float(info.mip_dual_bound) + model.offset, model.offset)
    return _exact_result(sites, value, min(bound, value), status, t0, minimise=True)


def exact_mclp(
    problem: SitingProblem,
    radius: float,
    *,
    time_limit_s: float = 60.0,
    start: IntArray | None = None,
) -> SitingResult:
    """Solve the maximal covering MILP: open p sites covering the most demand weight within
    `radius` (same unit as cost, e.g. seconds)."""
    t0 = time.perf_counter()
    model = _mclp_model(problem, radius)
    warm = None
    if start is not None:
        warm = np.zeros(len(model.c))
        warm[np.asarray(start)] = 1.0
        warm[problem.n_candidate :] = problem.cost[:, np.asarray(start)].min(axis=1) <= radius
    h, _ = _solve(model, problem.p, problem.n_candidate, time_limit_s=time_limit_s, start=warm)
    sites = _open_sites(h, problem.n_candidate)
    if len(sites) != problem.p:
        raise SitingError(f"HiGHS found no solution in {time_limit_s} s")
    value = problem.covered_weight(sites, radius)
    dual = -float(h.getInfo().mip_dual_bound)
    bound = min(dual, float(problem.weights.sum()))  # covering all demand is the trivial bound
    return _exact_result(sites, value, max(bound, value), h.getModelStatus(), t0, minimise=False)


def _exact_result(
    sites: tuple[int, ...],
    value: float,
    bound: float,
    status: highspy.HighsModelStatus,
    t0: float,
    *,
    minimise: bool,
) -> SitingResult:
    optimal = status == highspy.HighsModelStatus.kOptimal
    gap = abs(value - bound) / max(abs(value), 1e-12)
    if optimal:
        bound, gap = value, 0.0
    return SitingResult(
        sites=tuple(sorted(sites)),
        objective=value,
        method="exact",
        seconds=time.perf_counter() - t0,
        optimal=optimal,
        bound=bound,
        gap=gap,
        extra={"status_code": float(int(status))},
    )
