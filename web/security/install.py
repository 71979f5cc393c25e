"""`install_security(app, settings)`: the one hook that adds access control, the audit log,
metrics, probes, log redaction and the cross-process event bridge to the app.

Called once by `web.app.create_app`. It adds middlewares and routes, and wraps the app's
lifespan so that its own parts start after the app's context exists and stop before it goes.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from dispatch.db.engine import is_postgres, make_engine
from web import audit, ops
from web.notify import NotifyBridge
from web.security import routes
from web.security.accounts import AccountError, Role, UserStore
from web.security.headers import PageHeadersMiddleware
from web.security.middleware import SecurityMiddleware
from web.security.ratelimit import LoginLimiter
from web.security.revocation import Revocation

if TYPE_CHECKING:
    from web.context import Context
    from web.settings import Settings

log = logging.getLogger(__name__)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add middlewares (metrics, page headers, security, audit), routes and lifespan hooks."""
    metrics = ops.Metrics()
    metrics.registry.register(ops.LiveCollector(app))
    app.state.metrics = metrics
    app.state.audit_holder = {}
    app.add_middleware(_LateAudit, app_ref=app)
    app.add_middleware(SecurityMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(PageHeadersMiddleware, tile_url=settings.tile_url)
    app.add_middleware(ops.MetricsMiddleware, metrics=metrics)
    app.include_router(routes.router)
    app.include_router(ops.router)
    _document_bearer(app)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            stop = await run_in_threadpool(_start, app, settings)
            try:
                yield state
            finally:
                await run_in_threadpool(stop)

    app.router.lifespan_context = lifespan


def _start(app: FastAPI, settings: Settings) -> Callable[[], None]:
    """Open the users and audit tables, hook into the service; returns the stop function."""
    ctx: Context = app.state.ctx
    engine = make_engine(settings.database_url)
    audit_log = audit.AuditLog(engine)
    users = UserStore(engine)
    app.state.security = routes.Security(
        engine=engine,
        users=users,
        revocation=Revocation(users, recheck_s=settings.token_recheck_s),
        limiter=LoginLimiter(per_user_ip=settings.login_attempts_per_minute),
        audit=audit_log,
        secret_key=settings.secret_key,
        token_ttl_s=settings.token_ttl_s,
    )
    unsubscribe = ctx.service.subscribe(audit.collect_seqs)
    app.state.metrics.time_recommendations(ctx.service)
    remove_filters = ops.install_log_redaction(json_lines=settings.log_json)
    bridge = None
    if is_postgres(engine):
        bridge = NotifyBridge(
            settings.database_url,
            catch_up=lambda: _catch_up(ctx),
            last_seq=lambda: ctx.service.state.last_seq,
        )
        bridge.start()
    app.state.notify = bridge
    if ctx.demo:
        _demo_users(app.state.security.users, sorted(ctx.service.state.units))

    def stop() -> None:
        if bridge is not None:
            bridge.stop()
        unsubscribe()
        audit_log.close()
        remove_filters()
        engine.dispose()

    return stop


def _catch_up(ctx: Context) -> None:
    """Make the service read the events other processes committed (any read catches up)."""
    ctx.service.queue()


class _LateAudit:
    """The audit middleware, bound once the lifespan has opened the audit log."""

    def __init__(self, app: Any, *, app_ref: FastAPI) -> None:
        self.app = app
        self.app_ref = app_ref

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        security = getattr(self.app_ref.state, "security", None)
        if security is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await audit.AuditMiddleware(self.app, audit=security.audit)(scope, receive, send)


def _demo_users(users: UserStore, unit_ids: list[str]) -> None:
    """`serve --demo`: sign-ins for every role, with one fresh password printed once."""
    password = secrets.token_urlsafe(9)
    made = []
    wanted: list[tuple[str, Role, str | None]] = [
        ("demo-dispatcher", Role.DISPATCHER, None),
        ("demo-planner", Role.PLANNER, None),
    ]
    wanted += [("demo-admin", Role.ADMIN, None)]
    wanted += [(f"crew-{u}", Role.CREW, u) for u in unit_ids]
    for name, role, unit in wanted:
        try:
            users.create(name, password, role=role, unit_id=unit)
            made.append(name)
        except AccountError:
            pass  # made by an earlier demo run: its password stays
    if made:
        print(
            f"hanoi115 demo: users {', '.join(made[:4])}{' ...' if len(made) > 4 else ''} "
            f"created with password {password}",
            file=sys.stderr,
        )


def _document_bearer(app: FastAPI) -> None:
    """Declare bearer tokens in the OpenAPI document (every /api/ route but the login)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        components = doc.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        for path, ops_ in doc.get("paths", {}).items():
            if not path.startswith("/api/") or path == "/api/v1/auth/login":
                continue
            for op in ops_.values():
                if isinstance(op, dict):
                    op["security"] = [{"bearer": []}]
                    op.setdefault("responses", {}).setdefault(
                        "401", {"description": "not signed in or token expired"}
                    )
                    op["responses"].setdefault("403", {"description": "role may not do this"})
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
