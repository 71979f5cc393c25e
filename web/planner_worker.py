"""What runs in a planner job's own process: one scenario's simulation, or a comparison report.

Started with the `spawn` method by `web.planner_jobs` (never forked: the server runs threads),
so the simulation's CPU work never holds the server's interpreter. A job talks back over a
pipe: `("progress", fraction, message)` while it runs, then `("done", {"kpis", "layers"})` or
`("failed", text)`. The whole `ScenarioResult` is kept in the job's folder for the report.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import pickle
import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
RESULT_FILE = "result.pkl"
PROGRESS_EVERY_S = 0.2  # at most this often over the pipe (the engine reports once a day)


class GraphMismatch(RuntimeError):
    """The worker loaded a different road graph from the one the server serves."""


@dataclass(frozen=True)
class JobSpec:
    """One simulation job: which scenario, the overrides, where the graph and the output are."""

    job_id: str
    scenario_file: Path
    graph_dir: Path
    graph_sha256: str | None  # the server's graph: the worker refuses to simulate another
    snap_max_m: float
    out_dir: Path
    days: float | None = None
    replications: int | None = None
    hour_local: float = 8.0


def run_job(spec: JobSpec, conn: Any) -> None:
    """Process entry point: simulate, send the outcome, close the pipe."""
    last = [0.0]

    def tell(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        conn.send(("progress", float(fraction), message))

    try:
        outcome: tuple[str, Any] = ("done", simulate_job(spec, tell))
    except Exception as exc:  # the planner sees it as the job's error; the trace goes to stderr
        traceback.print_exc()
        outcome = ("failed", f"{type(exc).__name__}: {exc}")
    try:
        conn.send(outcome)
    finally:
        conn.close()


def load_router(graph_dir: Path, *, snap_max_m: float, sha256: str | None) -> Any:
    """The road graph, checked against the one the server has loaded."""
    from routing.engine import Router

    router = Router.load(graph_dir, snap_max_m=snap_max_m)
    found = router.meta.get("arrays_sha256")
    if sha256 is not None and found != sha256:
        raise GraphMismatch(f"{graph_dir} holds graph {found}, the server serves {sha256}")
    return router


def simulate_job(spec: JobSpec, tell: Callable[[float, str], None]) -> dict[str, Any]:
    """Run the scenario (as `dispatch.simulation.planner.run_planner_scenario` does), keeping
    the full result on disk; returns the JSON-ready KPIs and coverage layers."""
    from dispatch.simulation.planner import coverage_geojson
    from dispatch.simulation.runner import run_scenario
    from dispatch.simulation.scenario import load_scenario

    scenario = load_scenario(spec.scenario_file)
    overrides: dict[str, Any] = {}
    if spec.days is not None:
        overrides["days"] = spec.days
    if spec.replications is not None:
        overrides["replications"] = spec.replications
    scenario = scenario.with_overrides(**overrides)
    router = None
    if scenario.fixed_travel_s is None:
        tell(0.01, "loading the road graph")
        router = load_router(spec.graph_dir, snap_max_m=spec.snap_max_m, sha256=spec.graph_sha256)
    tell(0.02, f"{scenario.name}: simulating")

    def simulated(fraction: float, message: str) -> None:
        tell(0.02 + 0.93 * fraction, message)

    result = run_scenario(scenario, router=router, progress=simulated)
    layers = None
    if router is not None:
        tell(0.96, f"{scenario.name}: coverage layers")
        layers = coverage_geojson(scenario, router, hour_local=spec.hour_local)
    spec.out_dir.mkdir(parents=True, exist_ok=True)
    with (spec.out_dir / RESULT_FILE).open("wb") as handle:
        pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return {"kpis": result.kpis, "layers": layers}


def build_report(
    jobs: Sequence[tuple[str, Path]],
    out_dir: Path,
    *,
    graph_dir: Path,
    graph_sha256: str | None,
    snap_max_m: float,
) -> str:
    """The comparison report of finished jobs `(job_id, folder)` as one self-contained HTML
    page (plots inlined), written by `dispatch.simulation.outputs.write_outputs`."""
    from dispatch.simulation.outputs import write_outputs

    results = [_labelled(job_id, folder) for job_id, folder in jobs]
    router = None
    if any(r.scenario.fixed_travel_s is None for r in results):
        router = load_router(graph_dir, snap_max_m=snap_max_m, sha256=graph_sha256)
    page = write_outputs(results, out_dir, router=router)
    return inline_images(page)


def _labelled(job_id: str, folder: Path) -> Any:
    """A job's stored result, renamed `<scenario>-<job>` so one scenario can be run twice."""
    with (folder / RESULT_FILE).open("rb") as handle:
        result = pickle.load(handle)  # our own file, written by simulate_job
    label = f"{result.scenario.name}-{job_id}"
    scenario = result.scenario.with_overrides(name=label)
    return dataclasses.replace(result, scenario=scenario, kpis={**result.kpis, "scenario": label})


IMAGE_SRC = re.compile(r'src="([^"/]+\.png)"')


def inline_images(page: Path) -> str:
    """The HTML of `page` with its PNG images (beside it) as data: URLs."""

    def data_url(match: re.Match[str]) -> str:
        image = page.parent / match.group(1)
        if not image.is_file():
            return match.group(0)
        encoded = base64.b64encode(image.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{encoded}"'

    return IMAGE_SRC.sub(data_url, page.read_text(encoding="utf-8"))
