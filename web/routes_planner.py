"""REST and page of the planner: scenarios, simulation jobs with progress on the websocket,
KPIs, coverage layers of station sets, and the comparison report of finished jobs.

Planners and admins only (web.security.policy). Each simulation runs in its own process
(web.planner_jobs) so the server keeps serving dispatchers while a planner's run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import Field

from dispatch.errors import Conflict, NotFound, ValidationError
from web import planner_catalog as catalog
from web.context import Context, get_context
from web.notify import NotifyBridge
from web.planner_jobs import Job, JobState, PlannerJobs
from web.planner_store import CHANNEL as PLANNER_CHANNEL
from web.schemas import Strict
from web.security.accounts import Role, current_principal

API = "/api/v1/planner"
LISTEN_WAIT_S = 3.0  # at start-up, for the NOTIFY listener to hear other processes' jobs
TEMPLATES = Path(__file__).parent / "templates"
log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's job queue, started after the app's context exists and closed before it goes.
    Jobs left behind by a server that is gone are marked failed first; on PostgreSQL the
    other processes' job messages come in through the NOTIFY bridge (web.notify)."""
    ctx: Context = app.state.ctx
    jobs = PlannerJobs(
        database_url=ctx.settings.database_url,
        folder=ctx.settings.planner_folder(),
        graph_dir=ctx.settings.graph_dir,
        graph_sha256=ctx.router.meta.get("arrays_sha256"),
        snap_max_m=float(ctx.router.snap_max_m),
        publish=ctx.hub.publish_threadsafe,
        max_running=ctx.settings.planner_max_running,
    )
    await asyncio.to_thread(jobs.recover)
    app.state.planner_jobs = jobs
    bridge: NotifyBridge | None = getattr(app.state, "notify", None)  # PostgreSQL only
    unlisten = None
    if bridge is not None:
        unlisten = bridge.add_channel(PLANNER_CHANNEL, jobs.heard)
        if not await asyncio.to_thread(bridge.wait_listening, PLANNER_CHANNEL, LISTEN_WAIT_S):
            log.warning("not yet listening for other processes' planner jobs")
    try:
        yield
    finally:
        if unlisten is not None:
            unlisten()
        await asyncio.to_thread(jobs.close)


router = APIRouter(lifespan=lifespan)
Ctx = Annotated[Context, Depends(get_context)]


def get_jobs(request: Request) -> PlannerJobs:
    """FastAPI dependency: the app's planner job queue."""
    jobs: PlannerJobs = request.app.state.planner_jobs
    return jobs


Jobs = Annotated[PlannerJobs, Depends(get_jobs)]


class StartRun(Strict):
    """A run of one scenario; days and replications override the scenario file's."""

    scenario: str = Field(min_length=1, max_length=100, description="a name from /scenarios")
    days: float | None = Field(default=None, gt=0, le=366, description="simulated days")
    replications: int | None = Field(default=None, ge=1, le=20)
    hour_local: int = Field(default=8, ge=0, le=23, description="hour of the coverage layers")


def _catalog(ctx: Context) -> dict[str, catalog.ScenarioEntry]:
    found: dict[str, catalog.ScenarioEntry] | None = ctx.cache.get("planner_catalog")
    if found is None:
        found = catalog.scenario_catalog(ctx.router, ctx.settings.planner_scenario_dir)
        ctx.cache["planner_catalog"] = found
    return found


def _owner() -> tuple[str, bool]:
    """The signed-in user's name, and whether it is an admin."""
    principal = current_principal.get()
    if principal is None:  # the security middleware lets no one without a token get here
        raise HTTPException(status_code=401, detail="not signed in")
    return principal.username, principal.role == Role.ADMIN


@router.get(f"{API}/scenarios", tags=["planner"], summary="Scenarios a planner can run")
def list_scenarios(ctx: Ctx) -> list[dict[str, Any]]:
    return [entry.info for entry in _catalog(ctx).values()]


@router.get(f"{API}/station-sets", tags=["planner"], summary="Station sets for coverage maps")
def list_station_sets(ctx: Ctx) -> list[dict[str, Any]]:
    return catalog.station_sets(ctx.router, ctx.stations)


@router.get(
    f"{API}/coverage",
    tags=["planner"],
    summary="8- and 15-minute coverage of a station set at an hour (GeoJSON)",
)
def get_coverage(
    ctx: Ctx,
    stations: Annotated[str, Query(max_length=100, description="a station set name")] = "live",
    hour: Annotated[int, Query(ge=0, le=23, description="Hanoi local hour, weekday")] = 8,
) -> dict[str, Any]:
    key = ("planner_coverage", stations, hour)
    layers: dict[str, Any] | None = ctx.cache.get(str(key))
    if layers is None:
        members = catalog.station_set(stations, ctx.stations)
        layers = catalog.coverage_of_set(
            ctx.router, stations, members, hour_local=hour, population=_population(ctx)
        )
        ctx.cache[str(key)] = layers
    return layers


def _population(ctx: Context) -> Any:
    people = ctx.cache.get("planner_population")
    if people is None:
        from routing.places import place_file
        from stations.population import node_population

        districts = ctx.settings.districts_file or place_file(ctx.router, "districts")
        people = node_population(ctx.router.node_lonlat, boundaries_file=districts)
        ctx.cache["planner_population"] = people
    return people


@router.post(
    f"{API}/jobs",
    tags=["planner"],
    status_code=202,
    summary="Start a scenario run in the background (progress: planner_job on /ws)",
)
def start_job(ctx: Ctx, jobs: Jobs, body: StartRun) -> dict[str, Any]:
    entry = _catalog(ctx).get(body.scenario)
    if entry is None:
        raise NotFound(f"no scenario {body.scenario!r}")
    if not entry.info["runnable"]:
        raise ValidationError(
            f"scenario {body.scenario} cannot run here: {entry.info['not_runnable_because']}",
            field="scenario",
        )
    owner, _ = _owner()
    job = jobs.start(
        scenario=entry.name,
        scenario_file=entry.file,
        owner=owner,
        days=body.days,
        replications=body.replications,
        hour_local=body.hour_local,
    )
    return job.status()


@router.get(
    f"{API}/jobs", tags=["planner"], summary="Every job, of every server process, newest first"
)
def list_jobs(jobs: Jobs) -> list[dict[str, Any]]:
    return [job.status() for job in jobs.all()]


@router.get(f"{API}/jobs/{{job_id}}", tags=["planner"], summary="A job's state and progress")
def get_job(jobs: Jobs, job_id: str) -> dict[str, Any]:
    return jobs.get(job_id).status()


@router.get(
    f"{API}/jobs/{{job_id}}/result",
    tags=["planner"],
    summary="A finished job's KPIs and coverage layers (GeoJSON)",
)
def get_result(jobs: Jobs, job_id: str) -> dict[str, Any]:
    job = _finished(jobs.get(job_id))
    result = job.result or {}
    return {"job": job.status(), "kpis": result.get("kpis"), "layers": result.get("layers")}


def _finished(job: Job) -> Job:
    if job.state is not JobState.DONE:
        raise Conflict(f"job {job.job_id} is {job.state.value}, not done")
    return job


@router.delete(f"{API}/jobs/{{job_id}}", tags=["planner"], summary="Cancel a queued or running job")
def cancel_job(jobs: Jobs, job_id: str) -> dict[str, Any]:
    job = jobs.get(job_id)
    owner, is_admin = _owner()
    if job.owner != owner and not is_admin:
        raise HTTPException(status_code=403, detail=f"job {job_id} belongs to {job.owner}")
    return jobs.cancel(job_id).status()


@router.get(
    f"{API}/report",
    tags=["planner"],
    summary="The HTML report comparing finished jobs side by side (plots inlined)",
    response_class=HTMLResponse,
)
def get_report(
    jobs: Jobs,
    job: Annotated[list[str], Query(min_length=1, max_length=8, description="job ids")],
) -> HTMLResponse:
    return HTMLResponse(jobs.report(job), headers={"Cache-Control": "no-store"})


@router.get("/planner", include_in_schema=False)
def planner_page() -> FileResponse:
    return FileResponse(TEMPLATES / "planner.html", headers={"Cache-Control": "no-cache"})
