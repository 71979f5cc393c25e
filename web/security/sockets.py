"""Websocket sign-in: a token in the `token` query parameter or in the first message.

`admit(websocket)` runs right after `accept()`: it returns the hub role and unit the socket
may use, or closes the socket (4401 not signed in, 4403 not allowed, 1013 the user cannot be
checked now) and returns None. An admitted socket is watched: when its token is revoked or its
user disabled, it is closed with 4401 and the reason ("account disabled", "token revoked").
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from dispatch.db.errors import StorageUnavailable
from web import protocol
from web.security import policy
from web.security.accounts import AuthError, Principal
from web.security.revocation import verify_token

log = logging.getLogger(__name__)
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TRY_AGAIN = 1013
FIRST_MESSAGE_WAIT_S = 10.0
MIN_RECHECK_S = 0.25  # how often at most an open socket's token is checked again
_WATCHERS: set[asyncio.Task[None]] = set()  # strong references to the running watchers


async def admit(websocket: WebSocket) -> tuple[str, str | None] | None:
    """(hub role, unit id) for an accepted socket, or None once it has been closed."""
    params = websocket.query_params
    try:
        principal = await _principal(websocket, params.get("token"))
    except AuthError as exc:
        await _refuse(websocket, CLOSE_UNAUTHENTICATED, "unauthenticated", str(exc))
        return None
    except StorageUnavailable as exc:
        await _refuse(websocket, CLOSE_TRY_AGAIN, "unavailable", f"temporarily unavailable: {exc}")
        return None
    except WebSocketDisconnect:
        return None
    identity = policy.hub_identity(
        principal, asked_role=params.get("role"), asked_unit=params.get("unit_id") or None
    )
    if isinstance(identity, str):
        await _refuse(websocket, protocol.CLOSE_FORBIDDEN, "forbidden", identity)
        return None
    _audit(websocket, principal, identity)
    watcher = asyncio.create_task(_watch(websocket, principal))
    _WATCHERS.add(watcher)
    watcher.add_done_callback(_WATCHERS.discard)
    return identity


async def _watch(websocket: WebSocket, principal: Principal) -> None:
    """Close the socket (4401) once its token is revoked; ends when the socket closes."""
    revocation = websocket.app.state.security.revocation
    period_s = max(MIN_RECHECK_S, revocation.recheck_s)
    while _open(websocket):
        await asyncio.sleep(period_s)
        if not _open(websocket):
            return
        try:
            await revocation.check(principal)
        except AuthError as exc:
            log.info("closing the socket of %s: %s", principal.username, exc)
            await _refuse(websocket, CLOSE_UNAUTHENTICATED, "revoked", str(exc))
            return
        except StorageUnavailable:
            continue  # nobody can revoke while the database is down: check again later


def _open(websocket: WebSocket) -> bool:
    disconnected = WebSocketState.DISCONNECTED
    return disconnected not in (websocket.client_state, websocket.application_state)


async def _principal(websocket: WebSocket, token: str | None) -> Principal:
    if token:
        return await verify_token(websocket.app, token)
    try:
        text = await asyncio.wait_for(websocket.receive_text(), timeout=FIRST_MESSAGE_WAIT_S)
    except TimeoutError as exc:
        raise AuthError("no token: send ?token=... or a first message {type: auth}") from exc
    except KeyError as exc:  # a binary frame
        raise AuthError("the first message must be a JSON text frame") from exc
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise AuthError("the first message must be JSON {type: auth, token}") from exc
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise AuthError("the first message must be {type: auth, token}")
    raw = message.get("token")
    if not isinstance(raw, str) or not raw:
        raise AuthError("the auth message needs a token")
    return await verify_token(websocket.app, raw)


async def _refuse(websocket: WebSocket, code: int, kind: str, reason: str) -> None:
    try:
        await websocket.send_text(protocol.dumps(protocol.error(code=kind, message=reason)))
        await websocket.close(code=code, reason=reason[:120])
    except (WebSocketDisconnect, RuntimeError):
        pass


def _audit(websocket: WebSocket, principal: Principal, identity: tuple[str, str | None]) -> None:
    security = getattr(websocket.app.state, "security", None)
    if security is None:
        return
    client = websocket.client
    security.audit.record(
        "WS /ws connect",
        actor=principal.username,
        role=principal.role.value,
        ip=client.host if client else None,
        status=101,
        detail={"hub_role": identity[0], "unit_id": identity[1]},
    )
