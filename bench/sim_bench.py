"""Simulation benchmark (prints JSON): simulated years at 1x and 10x demand on the urban-core
graph, on one core, plus replications spread over processes and peak memory.

    .venv/bin/python bench/sim_bench.py                 # a full year at 1x and 10x (slow)
    .venv/bin/python bench/sim_bench.py --days 30       # shorter; a year is extrapolated
                                                        # (cold start + warm rate x the rest)

The dispatch core runs compiled (mypyc, `dispatch/native.py`) after `.ci/install.sh`; the 1x
run is repeated on the interpreted core in a child process for the ratio (`--no-interpreted`
skips it).

Targets (issue 5): one simulated year at ~110 calls a day in under 10 s on one core, under
100 s at 10x demand. Figures are given as wall time and as this process's CPU time (the
machine may be shared), and as a ratio to a baseline measured in the same run: the cost of
one routing-engine ETA query (7 stations to one place), so results compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dispatch import native  # noqa: E402
from dispatch.simulation.engine import simulate  # noqa: E402
from dispatch.simulation.runner import world_for  # noqa: E402
from dispatch.simulation.scenario import load_scenario  # noqa: E402

TARGET_YEAR_S = {"baseline_core7": 10.0, "demand_x10": 100.0}


def core_graph_dir() -> Path:
    """The urban-core graph, built once into the shared test-graph cache."""
    from routing.cache import cached_build

    cache = Path(os.environ.get("H115_TEST_GRAPH_CACHE", REPO / "var" / "test-graphs"))
    shared_osm = Path(os.environ.get("H115_SHARED_OSM", REPO.parent / "shared" / "osm"))
    return cached_build(shared_osm / "hanoi_core_drive.osm.bz2", cache)


def eta_baseline_us(router: Any, *, queries: int = 300) -> float:
    """Mean microseconds of one ETA query from the 7 stations to a random road node."""
    from stations.loaders import load_stations

    stations = [router.snap(s.lon, s.lat) for s in load_stations()]
    nodes = router.node_lonlat[np.random.default_rng(0).integers(0, router.node_count, queries)]
    places = router.snap_many(nodes[:, 0], nodes[:, 1])
    started = time.perf_counter()
    for place in places:
        router.eta_many_to_one(stations, place, at_s=1_741_000_000.0)
    return (time.perf_counter() - started) / queries * 1e6


def one_core(name: str, days: float, graph_dir: Path, eta_us: float) -> dict[str, Any]:
    """One replication of `days` in this process: wall and CPU seconds, rates, extrapolation."""
    scenario = load_scenario(name).with_overrides(days=days, replications=1, warmup_days=0)
    started = time.perf_counter()
    world = world_for(scenario, graph_dir)
    world_s = time.perf_counter() - started
    wall0, cpu0 = time.perf_counter(), time.process_time()
    run = simulate(scenario, world)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    # A year is this cold start (tables and trees built as the run needs them) plus the rest
    # at the steady rate: a second replication in the same world, whose caches are warm as
    # they would be later in one long run (not the cold start scaled up).
    year_cpu, steady_per_day = cpu, None
    if days < 365:
        cpu1 = time.process_time()
        simulate(scenario, world, replication=1)
        steady_per_day = (time.process_time() - cpu1) / days
        year_cpu = cpu + steady_per_day * (365.0 - days)
    return {
        "scenario": name,
        "days": days,
        "calls": run.n_calls,
        "events": run.events,
        "units": run.meta["units"],
        "world_build_s": round(world_s, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "events_per_s_cpu": round(run.events / cpu),
        "calls_per_s_cpu": round(run.n_calls / cpu, 1),
        "us_per_call_cpu": round(cpu / run.n_calls * 1e6),
        "us_per_call_over_eta_query": round(cpu / run.n_calls * 1e6 / eta_us, 1),
        "steady_cpu_s_per_day": None if steady_per_day is None else round(steady_per_day, 3),
        "year_cpu_s": round(year_cpu, 1),
        "year_is_extrapolated": days < 365,
        "target_year_s": TARGET_YEAR_S.get(name),
        "meets_target": year_cpu < TARGET_YEAR_S.get(name, float("inf")),
        "travel_memo": run.meta.get("travel_memo"),
        "response_mean_min": round(float(np.nanmean(run.calls["response_s"])) / 60.0, 2),
    }


def processes(days: float, graph_dir: Path, workers: int) -> dict[str, Any]:
    """Replications of the 1x scenario: all in one process, then spread over `workers`, each
    measured in a fresh interpreter (cold caches both times) from graph load to results."""
    out: dict[str, Any] = {"replications": workers, "days_each": days}
    for n in (1, workers):
        code = (
            "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter()\n"
            "from pathlib import Path\n"
            "from dispatch.simulation.runner import run_scenario\n"
            "from dispatch.simulation.scenario import load_scenario\n"
            "s = load_scenario('baseline_core7').with_overrides("
            "days=float(sys.argv[2]), replications=int(sys.argv[3]))\n"
            "run_scenario(s, graph_dir=Path(sys.argv[4]), workers=int(sys.argv[5]))\n"
            "print(time.perf_counter() - t)\n"
        )
        args = [str(REPO), str(days), str(workers), str(graph_dir), str(n)]
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        )
        key = f"wall_s_{n}_process{'es' if n > 1 else ''}"
        out[key] = round(float(done.stdout.strip().splitlines()[-1]), 2)
    out["speedup"] = round(out["wall_s_1_process"] / out[f"wall_s_{workers}_processes"], 2)
    return out


def interpreted(days: float) -> dict[str, Any]:
    """The 1x run again in a child process on the interpreted dispatch core (the same sources,
    H115_PURE_PYTHON=1): the compiled core's speed-up, measured in this run."""
    env = {**os.environ, "H115_PURE_PYTHON": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--only-1x", "--days", str(days)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    run: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365.0, help="simulated days at 1x")
    parser.add_argument("--days-x10", type=float, default=None, help="at 10x (default --days)")
    parser.add_argument("--process-days", type=float, default=14.0, help="per replication")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument(
        "--no-interpreted", action="store_true", help="skip the 1x run on the interpreted core"
    )
    parser.add_argument("--only-1x", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from routing.engine import Router

    graph_dir = core_graph_dir()
    router = Router.load(graph_dir)
    eta_us = eta_baseline_us(router)
    if args.only_1x:  # the interpreted comparison's child process
        print(json.dumps(one_core("baseline_core7", args.days, graph_dir, eta_us)))
        return 0
    result: dict[str, Any] = {
        "graph": str(graph_dir.name),
        "baseline_eta_query_us": round(eta_us, 1),
        "one_core": [
            one_core("baseline_core7", args.days, graph_dir, eta_us),
            one_core("demand_x10", args.days_x10 or args.days, graph_dir, eta_us),
        ],
        "dispatch_core": native.mode(),
        "interpreted_1x": None if args.no_interpreted else interpreted(args.days),
        "processes": processes(args.process_days, graph_dir, args.workers),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_children_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "load_average": os.getloadavg(),
    }
    pure = result["interpreted_1x"]
    if pure is not None:
        result["compiled_speedup_1x"] = round(pure["cpu_s"] / result["one_core"][0]["cpu_s"], 2)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
