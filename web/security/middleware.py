"""The security middleware (pure ASGI): body-size limit, bearer-token check, route policy.

It runs before routing, answers 401/403/413 itself (503 when a token's user cannot be
checked), and makes the caller known to the rest of the request
(`accounts.current_principal`) for the event log's actor and the audit log.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch.db.errors import StorageUnavailable
from web.security import policy
from web.security.accounts import AuthError, Principal, current_principal
from web.security.revocation import verify_token

BODY_KEY = "h115.body"  # the buffered request body, for the audit log
ROUTE_KEY = "h115.route"  # the route's path template, for metrics


class SecurityMiddleware:
    """Authenticate and authorize every HTTP request before the app sees it."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive, send)
        if body is None:
            return
        problem = await self._authorize(scope)
        if isinstance(problem, tuple):
            await _reply(send, *problem)
            return
        scope[BODY_KEY] = body
        token = current_principal.set(problem)
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            current_principal.reset(token)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole request body (bounded), or None after answering 413."""
        declared = _header(scope, b"content-length")
        limit = self.max_body_bytes
        too_big = (413, f"request body too large: at most {limit} bytes")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _reply(send, *too_big)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, *too_big)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _authorize(self, scope: Scope) -> Principal | tuple[int, str, dict[str, str]] | None:
        """The caller (None on public paths), or (status, detail, headers) to refuse with."""
        method, path = scope["method"], scope["path"]
        template, params = _route_of(scope)
        scope[ROUTE_KEY] = template
        if policy.is_public(method, path):
            return await _optional_principal(scope)
        auth = _header(scope, b"authorization") or ""
        scheme, _, token = auth.partition(" ")
        bearer = {"WWW-Authenticate": 'Bearer realm="hanoi115"'}
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "not signed in: send Authorization: Bearer <token>", bearer
        try:
            principal = await verify_token(scope["app"], token.strip())
        except AuthError as exc:
            return 401, str(exc), bearer
        except StorageUnavailable as exc:
            return 503, f"temporarily unavailable: {exc}", {"Retry-After": "2"}
        if template is None:
            return principal  # no such route: the router answers 404/405
        reason = policy.denial(principal, policy.rule_for(method, template), params)
        if reason is not None:
            return 403, reason, {}
        return principal


async def _optional_principal(scope: Scope) -> Principal | None:
    auth = _header(scope, b"authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            return await verify_token(scope["app"], token.strip())
        except (AuthError, StorageUnavailable):
            return None
    return None


def _route_of(scope: Scope) -> tuple[str | None, dict[str, Any]]:
    """The path template and parameters of the route that will serve this request.

    Included routers are flattened (newer FastAPI wraps them; each effective route knows
    its full `path_format`), so the template includes the router's prefix.
    """
    app = scope.get("app")
    for route in _flat_routes(getattr(app, "router", None)):
        match, child = route.matches(scope)
        if match == Match.FULL:
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            return template, dict(child.get("path_params", {}))
    return None, {}


def _flat_routes(router: Any) -> list[Any]:
    flat: list[Any] = []
    for route in getattr(router, "routes", []):
        contexts = getattr(route, "effective_route_contexts", None)
        flat.extend(contexts() if contexts is not None else [route])
    return flat


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _reply(
    send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
