"""Operations: /healthz and /readyz, Prometheus /metrics, structured logs without personal data.

Metrics live in a registry per app (several apps in one test process never collide):
request latency by route, websocket clients, open calls, units by status, recommendation
latency. Logs pass a redaction filter on every handler: phone numbers, citizen IDs, tokens
and passwords never reach a log line, whatever code logged them.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.security.middleware import ROUTE_KEY

router = APIRouter(tags=["operations"])
LATENCY_BUCKETS_S = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's Prometheus registry and the instruments code records into."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "h115_http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.recommendations = Histogram(
            "h115_recommendation_duration_seconds",
            "Time to rank units for a call (snapping included)",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )

    def time_recommendations(self, service: Any) -> None:
        """Observe the latency of the service's recommendations (this instance only)."""
        service.recommend_timer = self.recommendations.observe


class LiveCollector(Collector):
    """Figures read from the live state at scrape time."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ctx = getattr(self._app.state, "ctx", None)
        if ctx is None:
            return
        clients = GaugeMetricFamily("h115_websocket_clients", "Connected websocket clients")
        clients.add_metric([], ctx.hub.client_count)
        yield clients
        state = ctx.service.state
        open_calls = GaugeMetricFamily("h115_open_calls", "Calls not closed or cancelled")
        open_calls.add_metric([], sum(1 for c in list(state.calls.values()) if c.is_open))
        yield open_calls
        units = GaugeMetricFamily("h115_units", "Units by status", labels=["status"])
        for status, count in sorted(
            Counter(u.status.value for u in list(state.units.values())).items()
        ):
            units.add_metric([status], count)
        yield units
        seq = GaugeMetricFamily("h115_last_seq", "Seq of the last event the hub delivered")
        seq.add_metric([], ctx.hub.last_seq)
        yield seq


class MetricsMiddleware:
    """Observe each HTTP request's latency under its route template (not its raw path)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            template = scope.get(ROUTE_KEY) or "unmatched"  # set by the security middleware
            self.metrics.requests.labels(scope["method"], template, str(status[0])).observe(
                time.perf_counter() - started
            )


@router.get("/healthz", summary="Liveness: the process serves requests")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and road graph loaded")
def readyz(request: Request) -> JSONResponse:
    checks = readiness(request.app)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"status": "ready" if ready else "not ready", "checks": checks},
    )


def readiness(app: Any) -> dict[str, dict[str, Any]]:
    """Each check with `ok` and a human-readable `detail`."""
    ctx = getattr(app.state, "ctx", None)
    if ctx is None:
        return {"startup": {"ok": False, "detail": "still starting"}}
    nodes = int(getattr(ctx.router, "node_count", 0))
    graph = {"ok": nodes > 0, "detail": f"{nodes} road nodes"}
    engine: sa.Engine | None = getattr(getattr(app.state, "security", None), "engine", None)
    if engine is None:
        return {"graph": graph, "database": {"ok": False, "detail": "no database engine"}}
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        database = {
            "ok": True,
            "detail": f"answered in {1000 * (time.perf_counter() - started):.1f} ms",
        }
    except Exception as exc:
        database = {"ok": False, "detail": f"unreachable: {type(exc).__name__}"}
    return {"graph": graph, "database": database}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# ----- logs -------------------------------------------------------------------------------

REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (
        re.compile(r"(?i)((?:token|password|secret)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"),
        r"\1[redacted]",
    ),
    (
        re.compile(r"(?i)((?:caller_phone|citizen_id|phone)[\"']?\s*[=:]\s*[\"']?)[^\"',}&]*"),
        r"\1[redacted]",
    ),
    # Vietnamese phone numbers (0xx or +84 then 8-9 more digits, separators allowed) and
    # citizen IDs (9 or 12 digits); epoch seconds (10 digits starting 1) are left alone.
    (re.compile(r"(?<![\d.])(?:\+?84|0)(?:[ .-]?\d){8,10}(?!\d|\.\d)"), "[phone]"),
    (re.compile(r"(?<![\d.])(?:\d{12}|\d{9})(?!\d|\.\d)"), "[id]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), "[token]"),
]


def redact(text: str) -> str:
    """`text` with phone numbers, citizen IDs, tokens and passwords masked."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrite each record's message, arguments and traceback with `redact` before any handler
    sees it. When the template itself is harmless the arguments keep their shape (formatters
    such as uvicorn's unpack them): strings redacted, numbers kept, anything else its redacted
    text; otherwise the whole message is formatted, then redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "h115_redacted", False):
            return True
        template = record.msg if isinstance(record.msg, str) else None
        if template is not None and record.args and redact(template) == template:
            if isinstance(record.args, tuple):  # keep the shape: some formatters unpack it
                record.args = tuple(_redact_arg(a) for a in record.args)
            else:
                record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        else:
            record.msg = redact(record.getMessage())
            record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.h115_redacted = True
        return True


def _redact_arg(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            doc["exc"] = record.exc_text
        return json.dumps(doc, ensure_ascii=False)


LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi")


def install_log_redaction(*, json_lines: bool = False) -> Callable[[], None]:
    """Put the redaction filter (and optionally JSON lines) on every handler of the root and
    uvicorn loggers; returns a function that takes them off again."""
    undo: list[Callable[[], None]] = []
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if any(isinstance(f, RedactingFilter) for f in handler.filters):
                continue
            flt = RedactingFilter()
            handler.addFilter(flt)
            undo.append(functools.partial(handler.removeFilter, flt))
            if json_lines:
                old = handler.formatter
                handler.setFormatter(JsonFormatter())
                undo.append(functools.partial(handler.setFormatter, old))

    def remove() -> None:
        for step in reversed(undo):
            step()

    return remove
