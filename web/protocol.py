"""The live websocket protocol (version 1): message shapes shared by the hub and its clients.

Documented in docs/protocol/asyncapi.yaml. Every server message is a JSON object with `v`
(the protocol version) and `type`; a frame is one message or a JSON array of messages (the hub
batches a backlog into one frame). Domain events carry the event log's global `seq`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

PROTOCOL_VERSION = 1

# Close codes (4000-4999 are for applications).
CLOSE_LAGGING = 4008  # the client fell too far behind: reconnect with its last seq
CLOSE_BAD_REQUEST = 4400  # malformed query or frame
CLOSE_FORBIDDEN = 4403  # not allowed (room for roles and tokens)
CLOSE_SHUTDOWN = 1001  # the server is going away

ROLES = ("dispatcher", "crew", "planner")


def dumps(message: dict[str, Any]) -> str:
    """Serialise compactly (orjson: several times faster than `json` for the hub's fan-out);
    NaN and infinities become null (browsers reject them in JSON)."""
    try:
        return orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # rare (e.g. an int beyond 64 bits): the standard library copes
        return _json_dumps(message)


def _json_dumps(message: dict[str, Any]) -> str:
    try:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # rare: walk the message only when it holds a non-finite float
        return json.dumps(_finite(message), separators=(",", ":"), ensure_ascii=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def hello(*, client_id: str, role: str, server_time_s: float, heartbeat_s: float) -> dict[str, Any]:
    """The first message on every connection."""
    return {
        "v": PROTOCOL_VERSION,
        "type": "hello",
        "client_id": client_id,
        "role": role,
        "server_time_s": server_time_s,
        "heartbeat_timeout_s": heartbeat_s,
    }


def snapshot(*, seq: int, state: dict[str, Any], reason: str) -> dict[str, Any]:
    """Whole live state as of `seq`; events that follow have a larger seq."""
    return {"v": PROTOCOL_VERSION, "type": "snapshot", "seq": seq, "reason": reason, "state": state}


def resumed(*, from_seq: int, to_seq: int, count: int) -> dict[str, Any]:
    """Sent before the replay of missed events when a resume succeeds."""
    return {
        "v": PROTOCOL_VERSION,
        "type": "resumed",
        "from_seq": from_seq,
        "to_seq": to_seq,
        "count": count,
    }


def event(
    *, seq: int, kind: str, at_s: float, data: dict[str, Any], unit_id: str | None = None
) -> dict[str, Any]:
    """A domain event from the event log (call created, unit assigned, status changed, ...)."""
    return {
        "v": PROTOCOL_VERSION,
        "type": "event",
        "seq": seq,
        "kind": kind,
        "at_s": at_s,
        "unit_id": unit_id,
        "data": data,
    }


def presence(*, unit_id: str, connected: bool, last_seen_s: float | None) -> dict[str, Any]:
    """A crew device connected or lost (no heartbeat within the timeout). Not in the event log."""
    return {
        "v": PROTOCOL_VERSION,
        "type": "presence",
        "unit_id": unit_id,
        "connected": connected,
        "last_seen_s": last_seen_s,
    }


def error(*, code: str, message: str) -> dict[str, Any]:
    """A problem with something the client sent; the connection stays open."""
    return {"v": PROTOCOL_VERSION, "type": "error", "code": code, "message": message}


def pong(*, server_time_s: float, device_time_s: float | None) -> dict[str, Any]:
    """Answer to a heartbeat or ping, for clock-offset estimates."""
    return {
        "v": PROTOCOL_VERSION,
        "type": "pong",
        "server_time_s": server_time_s,
        "device_time_s": device_time_s,
    }


def planner_job(
    *,
    job_id: str,
    scenario: str,
    owner: str,
    state: str,
    fraction: float,
    message: str,
    at_s: float,
    error: str | None = None,
) -> dict[str, Any]:
    """Progress of a planner's simulation job (planner clients only; not in the event log)."""
    return {
        "v": PROTOCOL_VERSION,
        "type": "planner_job",
        "job_id": job_id,
        "scenario": scenario,
        "owner": owner,
        "state": state,
        "fraction": fraction,
        "message": message,
        "at_s": at_s,
        "error": error,
    }
