"""REST: calls (create, update, cancel, timeline), recommendations, assignment, hospital choice.

Every command commits through the dispatch service before this returns; the hub hears of the
committed events from the service's subscription, never from here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from dispatch.db.errors import IdempotencyKeyReused
from dispatch.events import CallCreated, StoredEvent
from dispatch.model import EventSource
from dispatch.policy import Candidate, Recommendation
from dispatch.views import call_view
from web import protocol
from web.context import Context, get_context
from web.errors import about_field
from web.live import event_message, geojsonify
from web.schemas import AssignUnit, CallCancel, CallCreate, CallUpdate, GeoPoint, HospitalChoice
from web.security.accounts import current_actor

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
Ctx = Annotated[Context, Depends(get_context)]
DISPATCHER = "dispatcher"  # the actor when no user is signed in (web.security names them)
KEEP_RECOMMENDATIONS = 64  # advice kept for the requests that created the calls
log = logging.getLogger(__name__)


def candidate_json(c: Candidate) -> dict[str, Any]:
    """One ranked unit (unreachable ones have `eta_s` None and say why in `note`)."""
    return {
        "unit_id": c.unit_id,
        "station_id": c.station_id,
        "unit_type": c.unit_type.value,
        "status": c.status.value,
        "rank": c.rank,
        "reachable": c.reachable,
        "eta_s": c.eta_s,
        "travel_s": c.travel_s,
        "turnout_s": c.turnout_s,
        "straight_m": round(c.straight_m, 1),
        "origin": GeoPoint.of(c.origin.lon, c.origin.lat),
        "diverts_call_id": c.diverts_call_id,
        "note": c.note,
    }


def recommendation_json(rec: Recommendation) -> list[dict[str, Any]]:
    return [candidate_json(c) for c in rec.candidates]


def recommendation_message(rec: Recommendation, *, after_seq: int) -> dict[str, Any]:
    """The `recommendation` message (not an event-log entry: it is advice, not a decision)."""
    return {
        "v": protocol.PROTOCOL_VERSION,
        "type": "recommendation",
        "call_id": rec.call_id,
        "after_seq": after_seq,
        "at_s": rec.at_s,
        "published_s": time.time(),
        "scene_offroad_m": rec.scene_offroad_m,
        "units": recommendation_json(rec),
    }


def publish_recommendation(ctx: Context, rec: Recommendation, *, after_seq: int) -> None:
    """Tell the dispatchers' sockets."""
    ctx.hub.publish_threadsafe(recommendation_message(rec, after_seq=after_seq))


def advise_new_calls(ctx: Context, stored: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """For a commit's new calls: the recommendation, computed at once in the committing
    thread (still under the service's lock, so no other work runs first) and delivered in
    the same frame as the `call_created` event. Kept for the request that created the call,
    which answers with it instead of ranking again."""
    out = []
    kept: dict[str, Recommendation] = ctx.cache.setdefault("recommendations", {})
    for item in stored:
        if isinstance(item.event, CallCreated):
            try:
                rec = ctx.service.recommend(item.event.call_id, catch_up=False)
            except Exception:  # the call is committed: failed advice must not fail the commit
                log.exception("no recommendation for call %s", item.event.call_id)
                continue
            while len(kept) >= KEEP_RECOMMENDATIONS:
                kept.pop(next(iter(kept)))
            kept[rec.call_id] = rec
            out.append(recommendation_message(rec, after_seq=stored[-1].seq))
    return out


def call_json(ctx: Context, call_id: str) -> dict[str, Any]:
    """A call with its timeline and intervals, personal data included (dispatcher view)."""
    return geojsonify(call_view(ctx.service.get_call(call_id), include_personal=True))


@router.post("", status_code=201, summary="Create a call; answers with ranked recommendations")
def create_call(
    ctx: Ctx,
    body: CallCreate,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> dict[str, Any]:
    started_s = time.time()
    try:
        with about_field("pin"):
            call = ctx.service.create_call(
                actor=current_actor(DISPATCHER),
                caller_phone=body.caller_phone,
                address_text=body.address_text,
                pin=body.pin.to_point(),
                complaint=body.complaint,
                priority=body.priority,
                notes=body.notes,
                caller_device_location=(
                    body.caller_device_location.to_point() if body.caller_device_location else None
                ),
                citizen_id=body.citizen_id,
                source=EventSource.DISPATCHER,
                idempotency_key=idempotency_key,
            )
    except IdempotencyKeyReused as exc:  # a concurrent retry won the race: same call
        call = ctx.service.get_call(exc.call_id)
        started_s = math.inf
    if call.received_s < started_s:
        response.status_code = 200  # a retry: the call already existed
    rec = ctx.cache.get("recommendations", {}).pop(call.call_id, None)
    if rec is None:  # a retry, or the commit's advice failed: rank (and tell sockets) now
        rec = ctx.service.recommend(call.call_id)
        publish_recommendation(ctx, rec, after_seq=ctx.service.state.last_seq)
    return {"call": call_json(ctx, call.call_id), "recommendations": recommendation_json(rec)}


@router.get("", summary="Calls: open ones by default, or every call received since `since_s`")
def list_calls(
    ctx: Ctx,
    open_only: Annotated[bool, Query(alias="open")] = True,
    since_s: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
) -> list[dict[str, Any]]:
    calls = list(ctx.service.state.calls.values())
    if open_only:
        calls = [c for c in calls if c.is_open]
    if since_s is not None:
        calls = [c for c in calls if c.received_s >= since_s]
    calls.sort(key=lambda c: (c.received_s, c.call_id))
    return [geojsonify(call_view(c, include_personal=True)) for c in calls]


@router.get("/{call_id}", summary="One call with its timeline and intervals")
def get_call(ctx: Ctx, call_id: str) -> dict[str, Any]:
    return call_json(ctx, call_id)


@router.patch("/{call_id}", summary="Change call details (fields left out stay)")
def update_call(ctx: Ctx, call_id: str, body: CallUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for key in ("pin", "caller_device_location"):
        value = getattr(body, key)
        if key in changes:
            changes[key] = value.to_point() if value is not None else None
    with about_field("pin"):
        ctx.service.update_call(call_id, actor=current_actor(DISPATCHER), **changes)
    return call_json(ctx, call_id)


@router.post("/{call_id}/cancel", summary="Cancel a call with a reason")
def cancel_call(ctx: Ctx, call_id: str, body: CallCancel) -> dict[str, Any]:
    ctx.service.cancel_call(
        call_id, reason=body.reason, note=body.note, actor=current_actor(DISPATCHER)
    )
    return call_json(ctx, call_id)


@router.get("/{call_id}/recommendations", summary="Units ranked by ETA to the call, now")
def recommend(ctx: Ctx, call_id: str) -> list[dict[str, Any]]:
    return recommendation_json(ctx.service.recommend(call_id))


@router.post("/{call_id}/assign", summary="Send a unit (409 if it is no longer free)")
def assign(ctx: Ctx, call_id: str, body: AssignUnit) -> dict[str, Any]:
    with about_field("unit_id"):
        ctx.service.assign(call_id, body.unit_id, actor=current_actor(DISPATCHER))
    return call_json(ctx, call_id)


@router.post("/{call_id}/hospital", summary="Override the destination hospital")
def choose_hospital(ctx: Ctx, call_id: str, body: HospitalChoice) -> dict[str, Any]:
    choice = ctx.service.choose_hospital(
        call_id, actor=current_actor(DISPATCHER), hospital_id=body.hospital_id
    )
    out = call_json(ctx, choice.call.call_id)
    out["hospital_options"] = [
        {"hospital_id": o.hospital_id, "name": o.name, "eta_s": o.eta_s, "rank": o.rank}
        for o in choice.options
    ]
    return out


@router.get("/{call_id}/timeline", summary="Milestones, intervals and every event of a call")
def call_timeline(ctx: Ctx, call_id: str) -> dict[str, Any]:
    view = call_json(ctx, call_id)
    history = [
        event_message(s)
        for s in ctx.service.events_since(0)
        if call_id in s.event.call_ids() or getattr(s.event, "call_id", None) == call_id
    ]
    return {
        "call_id": call_id,
        "status": view["status"],
        "timeline": view["timeline"],
        "intervals": view["intervals"],
        "assignments": view["assignments"],
        "events": history,
    }
