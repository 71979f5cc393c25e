"""Planner simulation jobs: each runs in its own process, its progress goes to the hub.

One active job (queued or running) per user; at most `max_running` processes at once, the
others wait in line. A thread per job starts the process, reads its pipe and publishes
`planner_job` messages (web.protocol) to planner sockets. Jobs live in memory and in a
temporary folder for as long as the server runs.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from dispatch.errors import Conflict, NotFound
from web import protocol
from web.planner_worker import JobSpec, build_report, run_job

log = logging.getLogger(__name__)
PUBLISH_EVERY_S = 0.25
REPORT_TIMEOUT_S = 300.0
KEEP_JOBS = 50  # older finished jobs (and their results) are forgotten


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})


@dataclass
class Job:
    """One planner's run of one scenario."""

    job_id: str
    scenario: str
    owner: str
    days: float | None
    replications: int | None
    hour_local: float
    created_s: float
    out_dir: Path
    state: JobState = JobState.QUEUED
    fraction: float = 0.0
    message: str = "queued"
    error: str | None = None
    started_s: float | None = None
    finished_s: float | None = None
    result: dict[str, Any] | None = field(default=None, repr=False)
    cancel_requested: bool = False
    process: Any = field(default=None, repr=False)

    def status(self) -> dict[str, Any]:
        """JSON-ready state of the job (without its result)."""
        return {
            "job_id": self.job_id,
            "scenario": self.scenario,
            "owner": self.owner,
            "state": self.state.value,
            "fraction": round(self.fraction, 4),
            "message": self.message,
            "error": self.error,
            "days": self.days,
            "replications": self.replications,
            "hour_local": self.hour_local,
            "created_s": self.created_s,
            "started_s": self.started_s,
            "finished_s": self.finished_s,
        }


class PlannerJobs:
    """The job queue of one app (one server process)."""

    def __init__(
        self,
        *,
        graph_dir: Path,
        graph_sha256: str | None,
        snap_max_m: float,
        publish: Callable[[dict[str, Any]], None],
        max_running: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._graph = (graph_dir, graph_sha256, snap_max_m)
        self._publish = publish
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_running)
        self._ids = itertools.count(1)
        self._closed = threading.Event()
        self._spawn = multiprocessing.get_context("spawn")
        self._folder: Path | None = None  # made when the first job starts
        self._reports: dict[tuple[str, ...], str] = {}

    @property
    def _root(self) -> Path:
        """The jobs' temporary folder (removed by `close`)."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="h115-planner-"))
        return self._folder

    # ----- queries -----------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no planner job {job_id!r}")
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    # ----- commands ----------------------------------------------------------------------
    def start(
        self,
        *,
        scenario: str,
        scenario_file: Path,
        owner: str,
        days: float | None,
        replications: int | None,
        hour_local: float,
    ) -> Job:
        """Queue a run; a user with a job still queued or running gets a Conflict."""
        with self._lock:
            if self._closed.is_set():
                raise Conflict("the server is shutting down")
            busy = [j.job_id for j in self._jobs.values() if j.owner == owner and j.state in ACTIVE]
            if busy:
                raise Conflict(f"{owner} already has job {busy[0]} running: wait or cancel it")
            self._forget_old()
            job_id = f"j{next(self._ids)}"
            job = Job(
                job_id=job_id,
                scenario=scenario,
                owner=owner,
                days=days,
                replications=replications,
                hour_local=hour_local,
                created_s=self._clock(),
                out_dir=self._root / job_id,
            )
            self._jobs[job_id] = job
        graph_dir, sha256, snap_max_m = self._graph
        spec = JobSpec(
            job_id=job_id,
            scenario_file=scenario_file,
            graph_dir=graph_dir,
            graph_sha256=sha256,
            snap_max_m=snap_max_m,
            out_dir=job.out_dir,
            days=days,
            replications=replications,
            hour_local=hour_local,
        )
        thread = threading.Thread(target=self._run, args=(job, spec), name=f"planner-{job_id}")
        thread.daemon = True
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        self._tell(job)
        thread.start()
        return job

    def _forget_old(self) -> None:
        """Keep the newest KEEP_JOBS jobs (with the lock held): results live in memory."""
        ended = [j for j in self._jobs.values() if j.state not in ACTIVE]
        for job in sorted(ended, key=lambda j: j.created_s)[: max(0, len(self._jobs) - KEEP_JOBS)]:
            del self._jobs[job.job_id]
            shutil.rmtree(job.out_dir, ignore_errors=True)
            for key in [k for k in self._reports if job.job_id in k]:
                del self._reports[key]

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job (its process is terminated)."""
        job = self.get(job_id)
        if job.state not in ACTIVE:
            raise Conflict(f"job {job_id} is already {job.state.value}")
        job.cancel_requested = True
        process = job.process
        if process is not None and process.is_alive():
            process.terminate()
        return job

    def close(self) -> None:
        """Stop every job and remove the jobs' folder (the app is shutting down)."""
        self._closed.set()
        for job in self.all():
            if job.state in ACTIVE:
                job.cancel_requested = True
                if job.process is not None and job.process.is_alive():
                    job.process.terminate()
        for thread in self._threads:
            thread.join(timeout=10)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    # ----- the job thread ------------------------------------------------------------------
    def _run(self, job: Job, spec: JobSpec) -> None:
        while not self._slots.acquire(timeout=0.2):
            if job.cancel_requested:
                self._finish(job, JobState.CANCELLED, "cancelled")
                return
        try:
            if job.cancel_requested:
                self._finish(job, JobState.CANCELLED, "cancelled")
                return
            self._run_process(job, spec)
        finally:
            self._slots.release()

    def _run_process(self, job: Job, spec: JobSpec) -> None:
        receiver, sender = self._spawn.Pipe(duplex=False)
        process = self._spawn.Process(
            target=run_job, args=(spec, sender), name=f"h115-{job.job_id}", daemon=True
        )
        job.state, job.started_s, job.message = JobState.RUNNING, self._clock(), "starting"
        job.process = process
        process.start()
        sender.close()  # the child holds the writing end: EOF once it exits
        if job.cancel_requested:  # cancelled while the process was starting
            process.terminate()
        self._tell(job)
        outcome = self._pump(job, receiver, process)
        process.join(timeout=10)
        receiver.close()
        if job.cancel_requested:
            self._finish(job, JobState.CANCELLED, "cancelled")
        elif outcome is not None and outcome[0] == "done":
            job.result = outcome[1]
            self._finish(job, JobState.DONE, "finished", fraction=1.0)
        elif outcome is not None:
            self._finish(job, JobState.FAILED, "failed", error=str(outcome[1]))
        else:
            code = process.exitcode
            self._finish(job, JobState.FAILED, "failed", error=f"worker exited with code {code}")

    def _pump(self, job: Job, receiver: Any, process: Any) -> tuple[str, Any] | None:
        """Forward progress until the outcome arrives or the process is gone."""
        published = 0.0
        while True:
            if not receiver.poll(0.2):
                if not process.is_alive() and not receiver.poll(0):
                    return None
                continue
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                return None
            if message[0] != "progress":
                return (str(message[0]), message[1])
            job.fraction, job.message = float(message[1]), str(message[2])
            now = time.monotonic()
            if now - published >= PUBLISH_EVERY_S:
                published = now
                self._tell(job)

    def _finish(
        self,
        job: Job,
        state: JobState,
        message: str,
        *,
        fraction: float | None = None,
        error: str | None = None,
    ) -> None:
        job.state, job.message, job.error = state, message, error
        job.fraction = job.fraction if fraction is None else fraction
        job.finished_s = self._clock()
        job.process = None
        if state is JobState.FAILED:
            log.warning("planner job %s (%s) failed: %s", job.job_id, job.scenario, error)
        self._tell(job)

    def _tell(self, job: Job) -> None:
        self._publish(
            protocol.planner_job(
                job_id=job.job_id,
                scenario=job.scenario,
                owner=job.owner,
                state=job.state.value,
                fraction=round(job.fraction, 4),
                message=job.message,
                at_s=self._clock(),
                error=job.error,
            )
        )

    # ----- the comparison report -----------------------------------------------------------
    def report(self, job_ids: Sequence[str]) -> str:
        """The HTML comparison of finished jobs (built in a separate process; cached)."""
        key = tuple(dict.fromkeys(job_ids))
        jobs = [self.get(job_id) for job_id in key]
        unfinished = [j.job_id for j in jobs if j.state is not JobState.DONE]
        if unfinished:
            raise Conflict(f"jobs not finished: {', '.join(unfinished)}")
        cached = self._reports.get(key)
        if cached is not None:
            return cached
        graph_dir, sha256, snap_max_m = self._graph
        out_dir = Path(tempfile.mkdtemp(prefix="report-", dir=self._root))
        with ProcessPoolExecutor(1, mp_context=self._spawn) as pool:
            future = pool.submit(
                build_report,
                [(j.job_id, j.out_dir) for j in jobs],
                out_dir,
                graph_dir=graph_dir,
                graph_sha256=sha256,
                snap_max_m=snap_max_m,
            )
            page = future.result(timeout=REPORT_TIMEOUT_S)
        self._reports[key] = page
        return page
