"""The websocket endpoint of the hub, and the HTML pages (dispatcher map, crew tablet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, WebSocket
from fastapi.responses import FileResponse

from web import protocol
from web.context import Context, get_context, ws_context
from web.security.sockets import admit

router = APIRouter()
TEMPLATES = Path(__file__).parent / "templates"


@router.websocket("/ws")
async def live_socket(websocket: WebSocket) -> None:
    """Query: role (dispatcher, crew, planner), unit_id (crews), last_seq (to resume)."""
    ctx = ws_context(websocket)
    params = websocket.query_params
    await websocket.accept()
    identity = await admit(websocket)  # web.security: the token decides role and unit
    if identity is None:
        return
    role, unit_id = identity
    problem = None
    last_seq: int | None = None
    if role not in protocol.ROLES:
        problem = f"unknown role {role!r}: one of {', '.join(protocol.ROLES)}"
    elif role == "crew" and unit_id is None:
        problem = "a crew connection needs unit_id"
    elif role == "crew" and (unit_id or "") not in ctx.service.state.units:
        problem = f"unknown unit {unit_id!r}"
    raw_seq = params.get("last_seq")
    if raw_seq is not None and problem is None:
        if not raw_seq.isdigit() or len(raw_seq) > 18:
            problem = "last_seq must be a non-negative integer"
        else:
            last_seq = int(raw_seq)
    if problem is not None:
        await websocket.send_text(
            protocol.dumps(protocol.error(code="bad_request", message=problem))
        )
        await websocket.close(code=protocol.CLOSE_BAD_REQUEST, reason=problem[:120])
        return
    await ctx.hub.serve(websocket, role=role, unit_id=unit_id, last_seq=last_seq)


@router.get("/api/v1/live", tags=["live"], summary="Hub figures: clients, last seq, AVL writer")
def live_stats(ctx: Annotated[Context, Depends(get_context)]) -> dict[str, Any]:
    return {
        "protocol_version": protocol.PROTOCOL_VERSION,
        "clients": ctx.hub.client_count,
        "last_seq": ctx.hub.last_seq,
        "positions_written": ctx.positions.written,
        "positions_commits": ctx.positions.batches,
        "positions_superseded": ctx.positions.superseded,
        "positions_failed": ctx.positions.failed,
    }


@router.get("/", include_in_schema=False)
def dispatcher_page() -> FileResponse:
    return FileResponse(TEMPLATES / "dispatcher.html", headers={"Cache-Control": "no-cache"})


@router.get("/crew", include_in_schema=False)
def crew_page() -> FileResponse:
    return FileResponse(TEMPLATES / "crew.html", headers={"Cache-Control": "no-cache"})
