"""The audit log: who did what, when, from where, and which events it committed.

Every state-changing HTTP request (and sign-ins, websocket sessions) becomes one row of the
append-only `audit_log` table: actor, role, client address, action (method and route), status,
and a detail with the request body (personal data and secrets masked) and the `seq`s of the
events the request committed. Rows are written by one thread in small batches (group commit),
and the request's answer waits for its row: nothing is acknowledged that is not audited,
unless the database is down, when rows wait in memory and are written once it is back.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import sqlalchemy as sa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch import events as ev
from dispatch.db.engine import storage_errors
from dispatch.db.errors import StorageUnavailable
from dispatch.db.schema import audit_log
from web.security.accounts import current_principal
from web.security.middleware import BODY_KEY

log = logging.getLogger(__name__)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_KEYS = frozenset({"password", "token", "access_token", "secret"})
PERSONAL_KEYS = frozenset({"caller_phone", "citizen_id", "patient", "patient_name"})
MASK = "***"
UNSTORABLE = {"unstorable_detail": True}
WAIT_S = 2.0  # longest a request waits for its audit row before answering anyway

# Seqs of the events committed while serving the current request (see `collect_seqs`).
request_seqs: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "h115_request_seqs", default=None
)


def collect_seqs(stored: Sequence[ev.StoredEvent]) -> None:
    """A dispatch-service listener: note committed seqs against the request being served.

    Listeners run in the committing thread, which carries the request's context.
    """
    seqs = request_seqs.get()
    if seqs is not None:
        seqs.extend(s.seq for s in stored)


def mask(value: Any) -> Any:
    """A copy of a JSON value with secrets and personal data masked."""
    if isinstance(value, dict):
        return {
            k: (MASK if k in SECRET_KEYS or k in PERSONAL_KEYS else mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def body_detail(body: bytes) -> Any:
    """The masked request body as JSON that every database stores, or a note of its size."""
    if not body:
        return None
    try:
        doc = json.loads(body, parse_constant=lambda _: None)  # NaN, Infinity: not JSON
    except (ValueError, RecursionError):
        return {"unparsed_bytes": len(body)}
    text = json.dumps(mask(doc), ensure_ascii=True).replace("\\u0000", "")  # PG refuses NUL
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {"unparsed_bytes": len(body)}


class AuditLog:
    """Append rows to `audit_log` from a writer thread; see the module docstring."""

    def __init__(self, engine: sa.Engine, *, batch_max: int = 200) -> None:
        self.engine = engine
        self._batch_max = batch_max
        self._pending: list[tuple[dict[str, Any], Future[None]]] = []
        self._cv = threading.Condition()
        self._running = True
        self.written = 0
        self.failures = 0
        self.healthy = True  # False while the database refuses writes: requests do not wait
        self._thread = threading.Thread(target=self._loop, name="h115-audit", daemon=True)
        self._thread.start()

    def record(
        self,
        action: str,
        *,
        actor: str | None,
        role: str | None,
        ip: str | None,
        status: int | None,
        detail: dict[str, Any],
    ) -> Future[None]:
        """Queue one row; the future completes once it is committed."""
        row = {
            "at_s": time.time(),
            "actor": actor,
            "role": role,
            "ip": ip,
            "action": action[:200],
            "status": status,
            "detail": detail,
        }
        done: Future[None] = Future()
        with self._cv:
            self._pending.append((row, done))
            self._cv.notify()
        return done

    def recent(self, *, limit: int = 100, actor: str | None = None) -> list[dict[str, Any]]:
        """The newest rows first."""
        query = sa.select(audit_log).order_by(audit_log.c.audit_id.desc()).limit(limit)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        with storage_errors(self.engine.url), self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (as far as the database allows) and stop the thread."""
        with self._cv:
            self._running = False
            self._cv.notify()
        self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while self._running and not self._pending:
                    self._cv.wait()
                if not self._pending:
                    return
                batch = self._pending[: self._batch_max]
                del self._pending[: self._batch_max]
            if not self._write(batch):
                with self._cv:
                    self._pending[:0] = batch  # keep order; retry when the database is back
                    if not self._running:
                        return
                    self._cv.wait(timeout=1.0)

    def _write(self, batch: list[tuple[dict[str, Any], Future[None]]]) -> bool:
        """Insert a batch; False (keep it, retry later) only when the database is down."""
        try:
            with storage_errors(self.engine.url), self.engine.begin() as conn:
                conn.execute(sa.insert(audit_log), [row for row, _ in batch])
        except StorageUnavailable as exc:  # kept and retried: an outage must not lose rows
            self.failures += 1
            self.healthy = False
            log.warning("audit rows not written yet (%d waiting): %s", len(batch), exc)
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return False
        except Exception:  # a row the database refuses must not block the rows behind it
            if len(batch) > 1:
                return all([self._write([item]) for item in batch])
            row, done = batch[0]
            if row["detail"] == UNSTORABLE:
                log.exception("audit row for %s refused; dropped", row["action"])
                done.set_result(None)
                return True
            log.exception("audit row for %s refused; storing it without its detail", row["action"])
            row["detail"] = UNSTORABLE
            return self._write(batch)
        self.written += len(batch)
        self.healthy = True
        for _, done in batch:
            if not done.done():
                done.set_result(None)
        return True


class AuditMiddleware:
    """Record every state-changing request after it is served, before it is answered."""

    def __init__(self, app: ASGIApp, *, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        seqs: list[int] = []
        token = request_seqs.set(seqs)
        held: list[Message] = []
        recorded = False

        async def hold(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                held.append(message)  # wait for the audit row before answering
                return
            if held:
                start = held.pop()
                recorded = True
                await self._record(scope, start["status"], seqs)
                await send(start)
            await send(message)

        try:
            await self.app(scope, receive, hold)
        except Exception:
            if not recorded:
                await self._record(scope, 500, seqs)  # a crash is an action too
            raise
        finally:
            request_seqs.reset(token)

    async def _record(self, scope: Scope, status: int, seqs: list[int]) -> None:
        principal = current_principal.get()
        client = scope.get("client")
        detail = {"body": body_detail(scope.get(BODY_KEY, b"")), "event_seqs": list(seqs)}
        query = scope.get("query_string", b"").decode("latin-1")
        if query:
            detail["query"] = query[:500]
        done = self.audit.record(
            f"{scope['method']} {scope['path']}",
            actor=principal.username if principal else None,
            role=principal.role.value if principal else None,
            ip=client[0] if client else None,
            status=status,
            detail=detail,
        )
        if not self.audit.healthy:
            return  # the database is down: the row waits in memory, the answer does not
        try:
            await asyncio.wait_for(asyncio.wrap_future(done), timeout=WAIT_S)
        except Exception:
            log.warning("answering %s before its audit row is stored", scope["path"])
