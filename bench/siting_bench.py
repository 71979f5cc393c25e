"""Benchmark the p-median heuristic on OR-Library instances; prints one JSON line per instance.

Usage: python bench/siting_bench.py [--dir DIR] [--time-limit 7] [--seed 0] [--exact SECONDS]

Each line: instance, n, p, value, optimum (published, or from the file's header when it
carries one), gap_pct, seconds (wall), cpu_seconds (the heuristic's budget is CPU time on
one core, so a shared machine stretches the wall time but not the search), cpu_seconds_to_best,
and the baselines measured in the same run:
greedy, greedy + fast-swap local search (no VNS), and optionally the HiGHS MILP (--exact).
A final summary line aggregates the gaps and times.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from stations.siting.exact import exact_pmedian
from stations.siting.heuristic import greedy, vns_pmedian
from stations.siting.orlib import PMED_OPTIMA, read_orlib
from stations.siting.problem import SitingProblem

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "pmed"


def _natural(path: Path) -> tuple[str, int]:
    match = re.search(r"(\d+)", path.stem)
    return (re.sub(r"\d+", "", path.stem), int(match.group(1)) if match else 0)


def _optimum(path: Path) -> float | None:
    if path.stem in PMED_OPTIMA:
        return float(PMED_OPTIMA[path.stem])
    header = path.read_text().split("\n", 1)[0].split()
    return float(header[3]) if len(header) >= 4 else None


def _baselines(problem: SitingProblem) -> dict[str, float]:
    t0 = time.perf_counter()
    sites = greedy(problem.cost, problem.weights, problem.p, np.zeros(0, dtype=np.int64))
    greedy_s = time.perf_counter() - t0
    ls = vns_pmedian(problem, max_rounds=0, start=sites)
    return {
        "greedy_value": problem.pmedian_value(sites),
        "greedy_seconds": round(greedy_s, 4),
        "local_search_value": ls.objective,
        "local_search_seconds": round(ls.seconds, 4),
    }


def bench_one(path: Path, args: argparse.Namespace) -> dict[str, object]:
    t0 = time.perf_counter()
    problem = read_orlib(path)
    read_s = time.perf_counter() - t0
    result = vns_pmedian(problem, seed=args.seed, time_limit_s=args.time_limit)
    optimum = _optimum(path)
    row: dict[str, object] = {
        "instance": path.stem,
        "n": problem.n_demand,
        "p": problem.p,
        "value": result.objective,
        "optimum": optimum,
        "gap_pct": None if optimum is None else round(100 * (result.objective / optimum - 1), 4),
        "seconds": round(result.seconds, 3),
        "cpu_seconds": result.extra["cpu_seconds"],
        "cpu_seconds_to_best": result.extra["cpu_seconds_to_best"],
        "vns_rounds": result.iterations,
        "read_seconds": round(read_s, 3),
        **_baselines(problem),
    }
    if args.exact:
        exact = exact_pmedian(problem, time_limit_s=args.exact, start=np.array(result.sites))
        row |= {
            "exact_value": exact.objective,
            "exact_optimal": exact.optimal,
            "exact_bound": exact.bound,
            "exact_seconds": round(exact.seconds, 3),
        }
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder of pmed*.txt")
    parser.add_argument("--time-limit", type=float, default=7.0, help="CPU s per instance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--exact", type=float, default=0.0, help="also run HiGHS (seconds)")
    parser.add_argument("--only", nargs="*", help="instance names to run (e.g. pmed1 pmed40)")
    args = parser.parse_args(argv)
    files = sorted(args.dir.glob("pmed*.txt"), key=_natural)
    if args.only:
        files = [f for f in files if f.stem in set(args.only)]
    if not files:
        print(f"no instances in {args.dir}", file=sys.stderr)
        return 2
    rows = []
    for path in files:
        row = bench_one(path, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    gaps = [float(r["gap_pct"]) for r in rows if r["gap_pct"] is not None]  # type: ignore[arg-type]
    secs = [float(r["cpu_seconds"]) for r in rows]  # type: ignore[arg-type]
    summary = {
        "summary": True,
        "instances": len(rows),
        "with_optimum": len(gaps),
        "at_optimum": sum(g <= 1e-9 for g in gaps),
        "max_gap_pct": max(gaps, default=None),
        "mean_gap_pct": round(sum(gaps) / len(gaps), 4) if gaps else None,
        "all_within_0_5_pct": all(g <= 0.5 for g in gaps),
        "max_cpu_seconds": max(secs),
        "total_cpu_seconds": round(sum(secs), 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
