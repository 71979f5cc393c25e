"""Run a scenario's replications, in this process or spread over worker processes.

The planner page and the CLI both call `run_scenario`, with an optional progress callback
`progress(fraction_done, message)`. Each worker process loads the road graph once.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import multiprocessing
import queue as queue_mod
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

    return run_replication(scenario, replication, graph_dir=graph_dir, progress=report)


def run_scenario(
    scenario: Scenario,
    *,
    graph_dir: Path | None = None,
    router: Any | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> ScenarioResult:
    """All replications of `scenario`; `workers` > 1 spreads them over processes (when the
    graph folder is known; with only a `router` object they run here, one after another)."""
    n = scenario.replications
    done = [0.0] * n

    def tell(replication: int, fraction: float) -> None:
        done[replication] = fraction
        if progress is not None:
            progress(sum(done) / n, f"{scenario.name}: replication {replication + 1}/{n}")

    # Worker processes load the graph themselves: they need its folder, not a Router object.
    can_spread = graph_dir is not None or scenario.fixed_travel_s is not None
    if workers <= 1 or n == 1 or not can_spread:
        world = world_for(scenario, graph_dir, router)
        runs = [
            run_replication(scenario, r, world=world, progress=functools.partial(tell, r))
            for r in range(n)
        ]
    else:
        runs = _run_parallel(scenario, graph_dir, min(workers, n), tell)
    return ScenarioResult(scenario, runs, kpis(runs))


def _run_parallel(
    scenario: Scenario, graph_dir: Path | None, workers: int, tell: Callable[[int, float], None]
) -> list[RunResult]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, cf.ProcessPoolExecutor(workers, mp_context=context) as pool:
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


def _drain(channel: Any, tell: Callable[[int, float], None]) -> None:
    while True:
        try:
            replication, fraction = channel.get_nowait()
        except queue_mod.Empty:
            return
        tell(replication, fraction)
