"""Planner simulation jobs: each runs in its own process, its progress goes to the hub.

Jobs are rows in the database (web.planner_store) and their full results files in the planner
folder, so they survive a restart and every server process answers for every job. One active
job (queued or running) per user, across processes; at most `max_running` simulation
processes at once per server, the others wait in line. A thread per job starts the process,
reads its pipe, stores the progress and then publishes `planner_job` messages (web.protocol)
to this process's planner sockets (other processes hear them through NOTIFY, web.notify).

A keeper thread per server refreshes the heartbeat of its jobs, stops those a planner asked
to cancel through any process, and marks failed the jobs of servers that are gone.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import numbers
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from dispatch.db.engine import make_engine
from dispatch.errors import Conflict
from web.planner_store import (
    ACTIVE,
    Job,
    JobState,
    JobStore,
    job_message,
    new_instance_id,
    new_job_id,
)
from web.planner_worker import RESULT_FILE, JobSpec, build_report, run_job

__all__ = ["ACTIVE", "Job", "JobState", "PlannerJobs"]

log = logging.getLogger(__name__)
PUBLISH_EVERY_S = 0.25  # progress stored and published at most this often
REPORT_TIMEOUT_S = 300.0
KEEP_JOBS = 50  # older finished jobs (and their results) are deleted
REPORTS_KEPT = 16  # comparison pages cached in memory
KEEPER_POLL_S = 0.5  # how soon a cancel asked through another process is seen
HEARTBEAT_S = 2.0
FINAL_TRIES = 10  # a job's final state is stored even through a short database outage
STALE_S = 30.0  # a server silent this long is taken for dead (another host's, or a reused pid)
INTERRUPTED = "interrupted: the server restarted"
SHUT_DOWN = "interrupted: the server shut down"


class PlannerJobs:
    """The job queue of one server process, over the jobs table every process shares."""

    def __init__(
        self,
        *,
        database_url: str,
        folder: Path,
        graph_dir: Path,
        graph_sha256: str | None,
        snap_max_m: float,
        publish: Callable[[dict[str, Any]], None],
        max_running: int = 1,
        clock: Callable[[], float] = time.time,
        stale_s: float = STALE_S,
    ) -> None:
        self.instance = new_instance_id()
        self._engine = make_engine(database_url)
        self._store = JobStore(self._engine, clock=clock)
        self._folder = folder
        self._graph = (graph_dir, graph_sha256, snap_max_m)
        self._publish = publish
        self._clock = clock
        self._stale_s = stale_s
        self._local: dict[str, Job] = {}  # the active jobs this process runs
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_running)
        self._closed = threading.Event()
        self._spawn = multiprocessing.get_context("spawn")
        self._reports: dict[tuple[str, ...], str] = {}
        self._keeper = threading.Thread(target=self._keep, name="planner-keeper", daemon=True)

    def recover(self) -> list[Job]:
        """At start-up: mark failed the jobs left queued or running by servers that are gone,
        then start the keeper thread. Returns the jobs it failed."""
        failed = self._fail_orphans()
        self._keeper.start()
        return failed

    # ----- queries -----------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        return self._store.get(job_id)

    def all(self) -> list[Job]:
        """Every job (of every process), newest first, without results."""
        return self._store.all()

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
        if self._closed.is_set():
            raise Conflict("the server is shutting down")
        job = Job(
            job_id=new_job_id(),
            scenario=scenario,
            owner=owner,
            days=days,
            replications=replications,
            hour_local=hour_local,
            created_s=self._clock(),
            instance=self.instance,
        )
        self._store.insert(job)  # the Conflict, if any, comes from here
        graph_dir, sha256, snap_max_m = self._graph
        spec = JobSpec(
            job_id=job.job_id,
            scenario_file=scenario_file,
            graph_dir=graph_dir,
            graph_sha256=sha256,
            snap_max_m=snap_max_m,
            out_dir=self._folder / job.job_id,
            days=days,
            replications=replications,
            hour_local=hour_local,
        )
        thread = threading.Thread(target=self._run, args=(job, spec), name=f"planner-{job.job_id}")
        thread.daemon = True
        with self._lock:
            self._local[job.job_id] = job
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        self._publish(job_message(job, at_s=self._clock()))
        self._forget_old()
        thread.start()
        return job

    def _forget_old(self) -> None:
        """Keep the newest KEEP_JOBS jobs: older ended ones lose their row and folder."""
        for job_id in self._store.prune(keep=KEEP_JOBS):
            shutil.rmtree(self._folder / job_id, ignore_errors=True)
            with self._lock:
                for key in [k for k in self._reports if job_id in k]:
                    del self._reports[key]

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job, whichever process runs it (the request is stored;
        the process that runs the job terminates its simulation)."""
        job = self._store.ask_cancel(job_id)
        with self._lock:
            local = self._local.get(job_id)
        if local is not None:
            self._stop(local)
        return job

    def heard(self, payload: str) -> None:
        """A NOTIFY from another process (web.notify): its job's message to our sockets."""
        notice = json.loads(payload)
        if notice.get("from") != self.instance and isinstance(notice.get("message"), dict):
            self._publish(notice["message"])

    def close(self) -> None:
        """Stop this process's jobs (they end failed, "interrupted"); results stay on disk."""
        self._closed.set()
        with self._lock:
            local = list(self._local.values())
        for job in local:
            self._stop(job)
        for thread in self._threads:
            thread.join(timeout=10)
        if self._keeper.is_alive():
            self._keeper.join(timeout=10)
        self._engine.dispose()

    @staticmethod
    def _stop(job: Job) -> None:
        job.cancel_requested = True
        process = job.process
        if process is not None and process.is_alive():
            process.terminate()

    # ----- the keeper thread ---------------------------------------------------------------
    def _keep(self) -> None:
        beat_at = time.monotonic() + HEARTBEAT_S
        while not self._closed.wait(KEEPER_POLL_S):
            try:
                self._poll_cancels()
                if time.monotonic() >= beat_at:
                    beat_at = time.monotonic() + HEARTBEAT_S
                    with self._lock:
                        alive = list(self._local)
                    self._store.beat(self.instance, alive)
                    self._fail_orphans()
            except Exception:  # e.g. the database is down a while: the next round retries
                log.exception("planner keeper: a round failed")

    def _poll_cancels(self) -> None:
        with self._lock:
            local = dict(self._local)
        for job_id in self._store.cancels_asked(local):
            self._stop(local[job_id])

    def _fail_orphans(self) -> list[Job]:
        with self._lock:
            alive = set(self._local)
        failed = self._store.fail_orphans(
            self.instance, alive=alive, stale_s=self._stale_s, message=INTERRUPTED
        )
        for job in failed:
            log.warning("planner job %s (%s): %s", job.job_id, job.scenario, INTERRUPTED)
            self._publish(job_message(job, at_s=self._clock()))
        return failed

    # ----- the job thread ------------------------------------------------------------------
    def _run(self, job: Job, spec: JobSpec) -> None:
        while not self._slots.acquire(timeout=0.2):
            if job.cancel_requested:
                self._finish(job, *self._why_stopped())
                return
        try:
            if job.cancel_requested:
                self._finish(job, *self._why_stopped())
                return
            self._run_process(job, spec)
        finally:
            self._slots.release()

    def _why_stopped(self) -> tuple[JobState, str, str | None]:
        if self._closed.is_set():
            return JobState.FAILED, "failed", SHUT_DOWN
        return JobState.CANCELLED, "cancelled", None

    def _run_process(self, job: Job, spec: JobSpec) -> None:
        receiver, sender = self._spawn.Pipe(duplex=False)
        process = self._spawn.Process(
            target=run_job, args=(spec, sender), name=f"h115-{job.job_id}", daemon=True
        )
        job.state, job.started_s, job.message = JobState.RUNNING, self._clock(), "starting"
        self._commit(job)
        job.process = process
        process.start()
        sender.close()  # the child holds the writing end: EOF once it exits
        if job.cancel_requested:  # cancelled while the process was starting
            process.terminate()
        outcome = self._pump(job, receiver, process)
        process.join(timeout=10)
        receiver.close()
        if job.cancel_requested:
            self._finish(job, *self._why_stopped())
        elif outcome is not None and outcome[0] == "done":
            job.result = json_ready(outcome[1])
            self._finish(job, JobState.DONE, "finished", None, fraction=1.0)
        elif outcome is not None:
            self._finish(job, JobState.FAILED, "failed", str(outcome[1]))
        else:
            error = f"worker exited with code {process.exitcode}"
            self._finish(job, JobState.FAILED, "failed", error)

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
                self._commit(job)

    def _finish(
        self,
        job: Job,
        state: JobState,
        message: str,
        error: str | None,
        *,
        fraction: float | None = None,
    ) -> None:
        job.state, job.message, job.error = state, message, error
        job.fraction = job.fraction if fraction is None else fraction
        job.finished_s = self._clock()
        job.process = None
        if state is JobState.FAILED:
            log.warning("planner job %s (%s) failed: %s", job.job_id, job.scenario, error)
        self._commit(job)
        with self._lock:
            self._local.pop(job.job_id, None)

    def _commit(self, job: Job) -> None:
        """Store the job's state, then publish it (other processes hear it at commit). A
        final state is retried a while; progress that cannot be stored is not published."""
        tries = 1 if job.state in ACTIVE else FINAL_TRIES
        for attempt in range(tries):
            try:
                saved = self._store.save(job, instance=self.instance)
                break
            except Exception:
                log.exception("planner job %s: its state could not be stored", job.job_id)
                if attempt + 1 == tries:  # the row will be failed as an orphan
                    return
                time.sleep(1.0)
        if not saved:  # another process took this server for dead and ended the job
            self._stop(job)
            return
        self._publish(job_message(job, at_s=self._clock()))

    # ----- the comparison report -----------------------------------------------------------
    def report(self, job_ids: Sequence[str]) -> str:
        """The HTML comparison of finished jobs (built in a separate process; cached)."""
        key = tuple(dict.fromkeys(job_ids))
        jobs = [self.get(job_id) for job_id in key]
        unfinished = [j.job_id for j in jobs if j.state is not JobState.DONE]
        if unfinished:
            raise Conflict(f"jobs not finished: {', '.join(unfinished)}")
        with self._lock:
            cached = self._reports.get(key)
        if cached is not None:
            return cached
        folders = [(j.job_id, self._folder / j.job_id) for j in jobs]
        gone = [job_id for job_id, folder in folders if not (folder / RESULT_FILE).is_file()]
        if gone:
            raise Conflict(f"results no longer on disk for: {', '.join(gone)}")
        graph_dir, sha256, snap_max_m = self._graph
        with (
            tempfile.TemporaryDirectory(prefix="h115-report-") as out_dir,
            ProcessPoolExecutor(1, mp_context=self._spawn) as pool,
        ):
            future = pool.submit(
                build_report,
                folders,
                Path(out_dir),
                graph_dir=graph_dir,
                graph_sha256=sha256,
                snap_max_m=snap_max_m,
            )
            page = future.result(timeout=REPORT_TIMEOUT_S)
        with self._lock:
            self._reports[key] = page
            while len(self._reports) > REPORTS_KEPT:
                del self._reports[next(iter(self._reports))]
        return page


def json_ready(value: Any) -> Any:
    """`value` with plain JSON types only: NaN and infinities become None (PostgreSQL's
    JSONB and strict JSON refuse them), numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return value
