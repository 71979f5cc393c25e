"""Run a scenario's replications, in this process or spread over worker processes.

The planner page and the CLI both call `run_scenario`, with an optional progress callback
`progress(fraction_done, message)`. Forked workers inherit the road graph and the world
built here; spawned ones (when threads run here) load the graph once each.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing
import queue as queue_mod
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dispatch.simulation.demand import start_epoch_s
from dispatch.simulation.engine import simulate
from dispatch.simulation.results import RunResult, kpis
from dispatch.simulation.scenario import Scenario
from dispatch.simulation.world import World, build_world

Progress = Callable[[float, str], None]


@dataclass
class ScenarioResult:
    """All replications of one scenario and the KPIs pooled over them."""

    scenario: Scenario
    runs: list[RunResult]
    kpis: dict[str, Any]


@lru_cache(maxsize=2)
def load_router(graph_dir: Path) -> Any:
    """The routing engine for `graph_dir`, loaded once per process."""
    from routing.engine import Router

    return Router.load(graph_dir)


def world_for(scenario: Scenario, graph_dir: Path | None, router: Any | None = None) -> World:
    """Build the scenario's world, loading the router from `graph_dir` unless given."""
    if router is None and scenario.fixed_travel_s is None:
        if graph_dir is None:
            raise ValueError(f"scenario {scenario.name} needs a road graph directory")
        router = load_router(Path(graph_dir))
    return build_world(scenario, router, start_s=start_epoch_s(scenario.start_local))


def run_replication(
    scenario: Scenario,
    replication: int,
    *,
    graph_dir: Path | None = None,
    router: Any | None = None,
    world: World | None = None,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """One replication, in this process."""
    world = world if world is not None else world_for(scenario, graph_dir, router)
    return simulate(scenario, world, replication=replication, progress=progress)


def _worker(
    scenario: Scenario, replication: int, graph_dir: Path | None, channel: Any
) -> RunResult:
    def report(fraction: float) -> None:
        channel.put((replication, fraction))

    world = _INHERITED[0] if _INHERITED else None  # forked: the parent's world
    return run_replication(scenario, replication, graph_dir=graph_dir, world=world, progress=report)


def run_scenario(
    scenario: Scenario,
    *,
    graph_dir: Path | None = None,
    router: Any | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> ScenarioResult:
    """All replications of `scenario`; `workers` > 1 spreads them over processes: forked
    from this one, inheriting the world built here once, when no other thread runs here;
    else spawned, each loading the graph from `graph_dir` (with only a `router` object they
    then run here, one after another)."""
    n = scenario.replications
    done = [0.0] * n

    def tell(replication: int, fraction: float) -> None:
        done[replication] = fraction
        if progress is not None:
            progress(sum(done) / n, f"{scenario.name}: replication {replication + 1}/{n}")

    if workers <= 1 or n == 1:
        runs = _run_here(scenario, graph_dir, router, tell)
    elif _fork_ok():
        # Build the world here once; forked workers inherit it (graph, memo, tables).
        world = world_for(scenario, graph_dir, router)
        runs = _run_pool(scenario, "fork", world, None, min(workers, n), tell)
    elif graph_dir is not None or scenario.fixed_travel_s is not None:
        # Spawned workers load the graph themselves: they need its folder, not a Router.
        runs = _run_pool(scenario, "spawn", None, graph_dir, min(workers, n), tell)
    else:
        runs = _run_here(scenario, graph_dir, router, tell)
    return ScenarioResult(scenario, runs, kpis(runs))


def _run_here(
    scenario: Scenario,
    graph_dir: Path | None,
    router: Any | None,
    tell: Callable[[int, float], None],
) -> list[RunResult]:
    world = world_for(scenario, graph_dir, router)
    return [
        run_replication(scenario, r, world=world, progress=functools.partial(tell, r))
        for r in range(scenario.replications)
    ]


def _fork_ok() -> bool:
    """Whether workers may be forked: the platform forks, and no other thread runs here
    (a thread holding a lock at the fork would leave it held in the child forever)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


# The world forked workers run in: set in the parent just before the pool forks them.
_INHERITED: list[World] = []


def _run_pool(
    scenario: Scenario,
    method: str,
    world: World | None,
    graph_dir: Path | None,
    workers: int,
    tell: Callable[[int, float], None],
) -> list[RunResult]:
    """Replications over `workers` processes, started by `method` ("fork": they inherit
    `world`; "spawn": each loads the graph from `graph_dir`)."""
    context = multiprocessing.get_context(method)
    if world is not None:
        _INHERITED[:] = [world]
    try:
        with (
            context.Manager() as manager,
            cf.ProcessPoolExecutor(workers, mp_context=context) as pool,
        ):
            channel = manager.Queue()
            futures = [
                pool.submit(_worker, scenario, r, graph_dir, channel)
                for r in range(scenario.replications)
            ]
            pending = set(futures)
            while pending:
                _, pending = cf.wait(pending, timeout=0.2)
                _drain(channel, tell)
            _drain(channel, tell)
            return [f.result() for f in futures]
    finally:
        _INHERITED.clear()


def _drain(channel: Any, tell: Callable[[int, float], None]) -> None:
    while True:
        try:
            replication, fraction = channel.get_nowait()
        except queue_mod.Empty:
            return
        tell(replication, fraction)
