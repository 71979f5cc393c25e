"""REST: units (list, status changes, AVL positions, acknowledgement, current job and route), KPIs.

Crew actions carry the device's own time (`device_time_s`); the service records it beside the
server time, so an action queued offline keeps the time it happened.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends

from dispatch.model import Call, CallStatus, EventSource, Point, Unit, UnitStatus
from dispatch.timeline import intervals
from dispatch.views import unit_view
from web import protocol
from web.context import Context, get_context
from web.errors import about_field
from web.live import geojsonify
from web.positions import Fix
from web.schemas import Acknowledge, PositionReport, StatusChange
from web.security.accounts import current_actor

router = APIRouter(prefix="/api/v1", tags=["units"])
Ctx = Annotated[Context, Depends(get_context)]
HANOI = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving
TO_SCENE = frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE})


def unit_json(unit: Unit) -> dict[str, Any]:
    return geojsonify(unit_view(unit))


@router.get("/units", summary="Every unit as a GeoJSON FeatureCollection (live positions)")
def list_units(ctx: Ctx) -> dict[str, Any]:
    units = sorted(ctx.service.state.units.values(), key=lambda u: u.unit_id)
    features = []
    for unit in units:
        props = unit_json(unit)
        props["connected"] = ctx.hub.presence.is_connected(unit.unit_id)
        features.append({"type": "Feature", "geometry": props["position"], "properties": props})
    return {"type": "FeatureCollection", "features": features}


@router.get("/units/{unit_id}", summary="One unit")
def get_unit(ctx: Ctx, unit_id: str) -> dict[str, Any]:
    return unit_json(ctx.service.get_unit(unit_id))


@router.post("/units/{unit_id}/status", summary="Change a unit's status (crew button)")
def change_status(ctx: Ctx, unit_id: str, body: StatusChange) -> dict[str, Any]:
    with about_field("status"):
        unit = ctx.service.change_unit_status(
            unit_id,
            body.status,
            actor=current_actor(f"crew:{unit_id}"),
            source=EventSource.CREW,
            device_at_s=body.device_time_s,
            hospital_id=body.hospital_id,
        )
    return unit_json(unit)


@router.post("/units/{unit_id}/position", summary="Report an AVL position")
def report_position(ctx: Ctx, unit_id: str, body: PositionReport) -> dict[str, Any]:
    return unit_json(_report(ctx, unit_id, body))


def _report(ctx: Context, unit_id: str, body: PositionReport) -> Unit:
    return ctx.service.report_position(
        unit_id,
        body.position.to_point(),
        actor=current_actor(f"crew:{unit_id}"),
        source=EventSource.AVL,
        device_at_s=body.device_time_s,
        speed_kph=body.speed_kph,
        heading_deg=body.heading_deg,
    )


async def position_from_socket(
    ctx: Context, unit_id: str, message: dict[str, Any]
) -> dict[str, Any] | None:
    """A `position` message on a crew socket: validated now, committed by the AVL writer."""
    try:
        body = PositionReport.model_validate(
            {
                "position": {
                    "type": "Point",
                    "coordinates": [message.get("lon"), message.get("lat")],
                },
                "speed_kph": message.get("speed_kph"),
                "heading_deg": message.get("heading_deg"),
                "device_time_s": message.get("device_time_s"),
            }
        )
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return protocol.error(code="invalid_position", message=f"{where}: {first['msg']}")
    fix = Fix(
        position=body.position.to_point(),
        device_time_s=body.device_time_s,
        speed_kph=body.speed_kph,
        heading_deg=body.heading_deg,
    )
    ctx.positions.submit(unit_id, fix)
    return None


@router.post("/units/{unit_id}/ack", summary="The crew acknowledges its job (stops the timer)")
def acknowledge(ctx: Ctx, unit_id: str, body: Acknowledge) -> dict[str, Any]:
    call_id = acknowledge_job(
        ctx,
        unit_id,
        device_time_s=body.device_time_s,
        actor=current_actor(f"crew:{unit_id}"),
    )
    unit = ctx.service.get_unit(unit_id)
    return {
        "unit_id": unit_id,
        "call_id": unit.call_id,
        "acknowledged": call_id is not None,
        "acknowledged_s": time.time(),
        "device_time_s": body.device_time_s,
    }


def acknowledge_job(
    ctx: Context, unit_id: str, *, device_time_s: float | None = None, actor: str | None = None
) -> str | None:
    """Commit the crew's acknowledgement (`UnitAcknowledged`, which stops the timer), then
    tell every dispatcher; returns the call id (None: no unacknowledged job, nothing done)."""
    call_id = ctx.service.acknowledge(
        unit_id,
        actor=actor or f"crew:{unit_id}",
        source=EventSource.CREW,
        device_at_s=device_time_s,
    )
    if call_id is not None:
        asg = ctx.service.get_call(call_id).current_assignment
        now = time.time()
        ctx.hub.publish_threadsafe(
            {
                "v": protocol.PROTOCOL_VERSION,
                "type": "ack",
                "unit_id": unit_id,
                "call_id": call_id,
                "after_seq": ctx.service.state.last_seq,  # after its unit_acknowledged event
                "acknowledged_s": now,
                "device_time_s": device_time_s,
                "after_s": now - asg.dispatched_s if asg is not None else None,
            }
        )
    return call_id


@router.get("/units/{unit_id}/job", summary="The unit's current job: call, route, turns, ETA")
def current_job(ctx: Ctx, unit_id: str) -> dict[str, Any]:
    unit = ctx.service.get_unit(unit_id)
    call = ctx.service.get_call(unit.call_id) if unit.call_id else None
    job: dict[str, Any] = {"unit": unit_json(unit), "call": None, "route": None}
    job["acknowledged"] = unit_id not in ctx.acks.pending()
    if call is not None:
        job["call"] = {
            "call_id": call.call_id,
            "address_text": call.address_text,
            # Only this unit's crew (and dispatchers) reach this route (web.security.policy):
            # the crew may need to call back to find the patient in an alley.
            "caller_phone": call.caller_phone,
            "priority": call.priority.value if call.priority else None,
            "complaint": call.complaint,
            "status": call.status.value,
            "pin": {"type": "Point", "coordinates": [call.pin.lon, call.pin.lat]},
            "hospital_id": call.hospital_id,
        }
        job["route"] = job_route(ctx, unit, call)
    return job


@router.get("/units/{unit_id}/route", summary="Route of the unit's active job (or null)")
def unit_route(ctx: Ctx, unit_id: str) -> dict[str, Any] | None:
    unit = ctx.service.get_unit(unit_id)
    if unit.call_id is None:
        return None
    return job_route(ctx, unit, ctx.service.get_call(unit.call_id))


def job_route(ctx: Context, unit: Unit, call: Call) -> dict[str, Any] | None:
    """From the unit to the scene (to the hospital when transporting); None if no route."""
    dest = _destination(ctx, unit, call)
    if dest is None:
        return None
    with about_field("position"):
        route = ctx.router.route(
            ctx.router.snap(unit.position.lon, unit.position.lat),
            ctx.router.snap(dest.lon, dest.lat),
            at_s=time.time(),
        )
    return route.to_geojson() if route is not None else None


def _destination(ctx: Context, unit: Unit, call: Call) -> Point | None:
    if unit.status in TO_SCENE:
        return call.pin
    hospital_id = unit.hospital_id or call.hospital_id
    if unit.status == UnitStatus.TRANSPORTING and hospital_id:
        hospital = next((h for h in ctx.hospitals if h.hospital_id == hospital_id), None)
        return hospital.point if hospital is not None else None
    return None


@router.get("/kpi", summary="Today's figures (Hanoi time): calls, mean and p90 response")
def kpi(ctx: Ctx) -> dict[str, Any]:
    now = datetime.now(UTC) + HANOI
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) - HANOI
    since_s = midnight.timestamp()
    calls = [c for c in list(ctx.service.state.calls.values()) if c.received_s >= since_s]
    responses = sorted(r for c in calls if (r := intervals(c).get("response_s")) is not None)
    return {
        "since_s": since_s,
        "calls_today": len(calls),
        "open_calls": sum(1 for c in calls if c.is_open),
        "cancelled_today": sum(1 for c in calls if c.status == CallStatus.CANCELLED),
        "responses": len(responses),
        "mean_response_s": sum(responses) / len(responses) if responses else None,
        "p90_response_s": _p90(responses),
    }


def _p90(ordered: list[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
