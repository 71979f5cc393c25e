"""Planner jobs in the database: one row per job, shared by every server process.

The row is the job's record: every state change and progress step is written here first,
then published. The process that runs a job (its `instance`) refreshes `heartbeat_s`; any
process marks failed a queued or running job whose instance is gone. On PostgreSQL each write
also sends `NOTIFY h115_planner <planner_job message>` in the same transaction, so the planner
sockets of every process hear it (web.notify).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from dispatch.db.engine import READ_ONLY, is_postgres, storage_errors
from dispatch.db.schema import planner_jobs as table
from dispatch.errors import Conflict, NotFound

CHANNEL = "h115_planner"
START_LOCK_KEY = 0x115_0B1A  # pg_advisory_xact_lock key: one active job per user
NOTIFY_MAX_CHARS = 7000  # PostgreSQL refuses payloads of 8000 bytes and more


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({JobState.QUEUED, JobState.RUNNING})
_ACTIVE = sorted(s.value for s in ACTIVE)


def new_instance_id() -> str:
    """This server process's name in the table: host, pid and a random part (unique even
    for two apps in one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def new_job_id() -> str:
    """A job id unique across processes (random, short enough for the planner's table)."""
    return f"j{uuid.uuid4().hex[:10]}"


def instance_is_dead(instance: str) -> bool:
    """True when `instance` ran on this host and its process no longer exists. Another host's
    instance (or a reused pid) is judged by its heartbeat instead."""
    parts = instance.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Job:
    """One planner's run of one scenario, as stored (plus, in its own process, the handle
    of the simulation process)."""

    job_id: str
    scenario: str
    owner: str
    days: float | None
    replications: int | None
    hour_local: float
    created_s: float
    instance: str
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


def _from_row(m: Mapping[str, Any]) -> Job:
    return Job(
        job_id=m["job_id"],
        scenario=m["scenario"],
        owner=m["owner"],
        days=m["days"],
        replications=m["replications"],
        hour_local=m["hour_local"],
        created_s=m["created_s"],
        instance=m["instance"],
        state=JobState(m["state"]),
        fraction=m["fraction"],
        message=m["message"],
        error=m["error"],
        started_s=m["started_s"],
        finished_s=m["finished_s"],
        result=m.get("result"),
        cancel_requested=bool(m["cancel_requested"]),
    )


def _changes(job: Job) -> dict[str, Any]:
    return {
        "state": job.state.value,
        "fraction": job.fraction,
        "message": job.message,
        "error": job.error,
        "started_s": job.started_s,
        "finished_s": job.finished_s,
        "result": job.result,
    }


class JobStore:
    """The `planner_jobs` table through one engine (the caller owns the engine)."""

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], float]) -> None:
        self.engine = engine
        self._clock = clock
        self._pg = is_postgres(engine)

    def _read(self) -> sa.Connection:
        return self.engine.connect().execution_options(**READ_ONLY)

    # ----- reads -------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        with storage_errors(self.engine.url), self._read() as conn:
            row = conn.execute(sa.select(table).where(table.c.job_id == job_id)).first()
        if row is None:
            raise NotFound(f"no planner job {job_id!r}")
        return _from_row(dict(row._mapping))

    def all(self) -> list[Job]:
        """Every job, newest first (the result columns left out: they can be large)."""
        columns = [c for c in table.c if c.name != "result"]
        query = sa.select(*columns).order_by(table.c.created_s.desc(), table.c.job_id)
        with storage_errors(self.engine.url), self._read() as conn:
            rows = conn.execute(query).all()
        return [_from_row(dict(row._mapping)) for row in rows]

    def cancels_asked(self, job_ids: Iterable[str]) -> set[str]:
        """Which of these jobs a planner asked to cancel (through any process)."""
        ids = list(job_ids)
        if not ids:
            return set()
        query = sa.select(table.c.job_id).where(
            table.c.job_id.in_(ids), table.c.cancel_requested.is_(True)
        )
        with storage_errors(self.engine.url), self._read() as conn:
            return set(conn.execute(query).scalars())

    # ----- writes ------------------------------------------------------------------------------
    def insert(self, job: Job) -> None:
        """Store a new job unless its owner has one queued or running (checked in the same
        transaction, serialised by the write lock on SQLite, an advisory lock on PostgreSQL)."""
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            if self._pg:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(START_LOCK_KEY)))
            busy = conn.execute(
                sa.select(table.c.job_id)
                .where(table.c.owner == job.owner, table.c.state.in_(_ACTIVE))
                .limit(1)
            ).scalar()
            if busy is not None:
                raise Conflict(f"{job.owner} already has job {busy} running: wait or cancel it")
            values = {
                "job_id": job.job_id,
                "scenario": job.scenario,
                "owner": job.owner,
                "days": job.days,
                "replications": job.replications,
                "hour_local": job.hour_local,
                "created_s": job.created_s,
                "instance": job.instance,
                "heartbeat_s": self._clock(),
                "cancel_requested": job.cancel_requested,
            }
            conn.execute(table.insert().values(**values, **_changes(job)))
            self._notify(conn, job, job.instance)

    def save(self, job: Job, *, instance: str, sender: str | None = None) -> bool:
        """Write the job's state and progress if it is still active and `instance`'s; False
        when another process has ended it meanwhile (its server was taken for dead).
        `sender`: the instance writing (default `instance`), whose sockets were told already."""
        query = (
            table.update()
            .where(
                table.c.job_id == job.job_id,
                table.c.instance == instance,
                table.c.state.in_(_ACTIVE),
            )
            .values(**_changes(job), heartbeat_s=self._clock())
        )
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            saved = conn.execute(query).rowcount == 1
            if saved:
                self._notify(conn, job, sender or instance)
        return saved

    def ask_cancel(self, job_id: str) -> Job:
        """Flag an active job for cancelling; the process running it stops it."""
        query = (
            table.update()
            .where(table.c.job_id == job_id, table.c.state.in_(_ACTIVE))
            .values(cancel_requested=True)
        )
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            flagged = conn.execute(query).rowcount == 1
        job = self.get(job_id)
        if not flagged:
            raise Conflict(f"job {job_id} is already {job.state.value}")
        return job

    def beat(self, instance: str, job_ids: Sequence[str]) -> None:
        """These jobs of this instance are alive."""
        if not job_ids:
            return
        query = (
            table.update()
            .where(
                table.c.instance == instance,
                table.c.job_id.in_(list(job_ids)),
                table.c.state.in_(_ACTIVE),
            )
            .values(heartbeat_s=self._clock())
        )
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            conn.execute(query)

    def fail_orphans(
        self, instance: str, *, alive: Collection[str], stale_s: float, message: str
    ) -> list[Job]:
        """Mark failed the active jobs nobody runs: not among `instance`'s `alive` ones, and
        whose process is gone from this host or silent for `stale_s`. Returns them as stored."""
        columns = (table.c.job_id, table.c.instance, table.c.heartbeat_s)
        query = sa.select(*columns).where(table.c.state.in_(_ACTIVE))
        with storage_errors(self.engine.url), self._read() as conn:
            rows = conn.execute(query).all()
        now = self._clock()
        dead = [
            (job_id, runner)
            for job_id, runner, beat_s in rows
            if not (runner == instance and job_id in alive)
            and (beat_s < now - stale_s or instance_is_dead(runner))
        ]
        failed = []
        for job_id, runner in dead:
            job = self.get(job_id)
            job.state, job.message, job.error = JobState.FAILED, "failed", message
            job.finished_s = now
            if self.save(job, instance=runner, sender=instance):
                failed.append(job)
        return failed

    def prune(self, *, keep: int) -> list[str]:
        """Delete the oldest ended jobs beyond the newest `keep`; returns their ids (for their
        folders)."""
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            extra = max(0, total - keep)
            if extra == 0:
                return []
            ids = list(
                conn.execute(
                    sa.select(table.c.job_id)
                    .where(table.c.state.not_in(_ACTIVE))
                    .order_by(table.c.created_s, table.c.job_id)
                    .limit(extra)
                ).scalars()
            )
            conn.execute(table.delete().where(table.c.job_id.in_(ids)))
        return ids

    def _notify(self, conn: sa.Connection, job: Job, instance: str) -> None:
        """Tell the other processes (delivered at commit, so after the row is stored)."""
        if self._pg:
            text = notice(job_message(job, at_s=self._clock()), instance=instance)
            conn.execute(sa.select(sa.func.pg_notify(CHANNEL, text)))


def job_message(job: Job, *, at_s: float) -> dict[str, Any]:
    """The `planner_job` websocket message (web.protocol) of a job's current state."""
    from web import protocol

    return protocol.planner_job(
        job_id=job.job_id,
        scenario=job.scenario,
        owner=job.owner,
        state=job.state.value,
        fraction=round(job.fraction, 4),
        message=job.message,
        at_s=at_s,
        error=job.error,
    )


def notice(message: dict[str, Any], *, instance: str) -> str:
    """The NOTIFY payload: the message and the instance that sent it (a long error is cut)."""
    text = json.dumps({"from": instance, "message": message}, separators=(",", ":"))
    if len(text.encode("utf-8")) > NOTIFY_MAX_CHARS and message.get("error"):
        cut = dict(message, error=str(message["error"])[:1000] + "…")
        text = json.dumps({"from": instance, "message": cut}, separators=(",", ":"))
    return text
