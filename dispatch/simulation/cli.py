"""`hanoi115 simulate SCENARIO...`: run planner scenarios and write the comparison report."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from dispatch.simulation.scenario import list_scenarios, scenario_dir


def register_simulate(sub: Any) -> None:
    """Add `simulate` to the `hanoi115` parser (called from `dispatch.cli.register`)."""
    parser = sub.add_parser(
        "simulate",
        help="simulate planner scenarios (discrete-event, the live dispatch policy)",
        description=f"Scenarios are TOML files or names in {scenario_dir()}: "
        + ", ".join(list_scenarios()),
    )
    parser.add_argument("scenarios", nargs="+", help="scenario names or .toml files")
    parser.add_argument("--days", type=float, help="simulated days (overrides the scenario)")
    parser.add_argument("--replications", type=int, help="replications (overrides)")
    parser.add_argument("--seed", type=int, help="master seed (overrides)")
    parser.add_argument("--workers", type=int, default=1, help="processes for replications")
    parser.add_argument("--out", type=Path, default=None, help="output folder (var/sim/...)")
    parser.add_argument("--graph-dir", type=Path, default=None, help="default H115_GRAPH_DIR")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace, settings: Any) -> int:
    from tqdm import tqdm

    from dispatch.simulation.outputs import write_outputs
    from dispatch.simulation.runner import ScenarioResult, load_router, run_scenario
    from dispatch.simulation.scenario import load_scenario

    # No tqdm monitor thread: replications are forked only from a single-threaded process.
    tqdm.monitor_interval = 0
    overrides = {
        k: v
        for k, v in (("days", args.days), ("replications", args.replications), ("seed", args.seed))
        if v is not None
    }
    scenarios = [load_scenario(name).with_overrides(**overrides) for name in args.scenarios]
    graph_dir = Path(args.graph_dir or settings.graph_dir)
    needs_graph = any(s.fixed_travel_s is None for s in scenarios)
    router = load_router(graph_dir) if needs_graph else None
    out = args.out or Path("var/sim") / time.strftime("%Y%m%d-%H%M%S")
    results: list[ScenarioResult] = []
    for scenario in scenarios:
        with tqdm(total=100, desc=scenario.name, disable=args.no_progress, unit="%") as bar:

            def progress(fraction: float, _message: str, bar: Any = bar) -> None:
                bar.n = round(100 * fraction)
                bar.refresh()

            result = run_scenario(
                scenario, graph_dir=graph_dir if needs_graph else None, router=router,
                workers=args.workers, progress=progress,
            )  # fmt: skip
        results.append(result)
        headline = result.kpis["response"]
        print(json.dumps({"scenario": scenario.name, "calls": result.kpis["calls"], **headline}))
    page = write_outputs(results, out, router=router)
    print(f"report: {page}")
    return 0
