"""Who may call what: one table of route rules, and what a crew may see on the websocket.

Rules are keyed by the route's path template, so a new route is covered by the default
(dispatchers and admins only) until it is given a rule here: closed by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web.security.accounts import Principal, Role

ANY = frozenset(Role)
OPS = frozenset({Role.DISPATCHER, Role.ADMIN})
ADMIN = frozenset({Role.ADMIN})
PLAN = frozenset({Role.PLANNER, Role.DISPATCHER, Role.ADMIN})
READ = frozenset({"GET", "HEAD"})

# Paths outside /api/ are pages, static files, docs and probes: public (the pages sign in).
PUBLIC_API = frozenset({("POST", "/api/v1/auth/login")})


@dataclass(frozen=True, slots=True)
class Rule:
    """Roles allowed; `own_unit`: a crew only on its own unit (`{unit_id}` in the path)."""

    roles: frozenset[Role]
    own_unit: bool = False


UNIT_RULE = Rule(OPS | {Role.CREW}, own_unit=True)
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/config"): Rule(ANY),
    ("GET", "/api/v1/network"): Rule(ANY),
    ("GET", "/api/v1/stations"): Rule(ANY),
    ("GET", "/api/v1/hospitals"): Rule(ANY),
    ("GET", "/api/v1/streets"): Rule(ANY),
    ("POST", "/api/v1/routes"): Rule(ANY),
    ("GET", "/api/v1/kpi"): Rule(PLAN),
    ("GET", "/api/v1/live"): Rule(ANY),
    ("GET", "/api/v1/auth/me"): Rule(ANY),
    ("POST", "/api/v1/auth/logout-all"): Rule(ANY),
    ("GET", "/api/v1/units"): Rule(PLAN),
    ("GET", "/api/v1/units/{unit_id}"): Rule(PLAN | {Role.CREW}, own_unit=True),
    ("GET", "/api/v1/units/{unit_id}/job"): UNIT_RULE,
    ("GET", "/api/v1/units/{unit_id}/route"): UNIT_RULE,
    ("POST", "/api/v1/units/{unit_id}/status"): UNIT_RULE,
    ("POST", "/api/v1/units/{unit_id}/position"): UNIT_RULE,
    ("POST", "/api/v1/units/{unit_id}/ack"): UNIT_RULE,
    ("GET", "/api/v1/audit"): Rule(ADMIN),
    ("GET", "/api/v1/users"): Rule(ADMIN),
}
# Planner pages (issue 5) live under these prefixes; reads and runs for planners.
PLANNER_PREFIXES = ("/api/v1/planner", "/api/v1/scenarios", "/api/v1/coverage", "/api/v1/siting")
# The planner page's simulation jobs (web.routes_planner): planners and admins only.
PLANNER_JOBS = ("/api/v1/planner/",)
PLANNERS = frozenset({Role.PLANNER, Role.ADMIN})
DEFAULT_RULE = Rule(OPS)


def is_public(method: str, path: str) -> bool:
    """Pages, static files, docs, probes and the login endpoint need no token."""
    return not path.startswith("/api/") or (method, path) in PUBLIC_API


def rule_for(method: str, template: str) -> Rule:
    """The rule of a route (by its path template); closed by default."""
    verb = "GET" if method == "HEAD" else method
    rule = RULES.get((verb, template))
    if rule is not None:
        return rule
    if template.startswith(PLANNER_JOBS):
        return Rule(PLANNERS)
    if template.startswith(PLANNER_PREFIXES):
        return Rule(PLAN)
    return DEFAULT_RULE


def denial(principal: Principal, rule: Rule, path_params: dict[str, Any]) -> str | None:
    """Why `principal` may not use a route with `rule`, or None if it may."""
    if principal.role not in rule.roles:
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        return f"role {principal.role.value} may not do this (allowed: {allowed})"
    if rule.own_unit and principal.role == Role.CREW:
        unit_id = path_params.get("unit_id")
        if unit_id != principal.unit_id:
            return f"a crew may act only on its own unit ({principal.unit_id})"
    return None


# ----- the websocket: roles on the hub, and a crew's view ---------------------------------

HUB_ROLE = {Role.DISPATCHER: "dispatcher", Role.ADMIN: "dispatcher", Role.PLANNER: "planner"}
ALWAYS = frozenset({"hello", "snapshot", "resumed", "pong", "error"})
PLANNER_ONLY = frozenset({"planner_job"})  # messages only planner sockets get


def hub_identity(
    principal: Principal, *, asked_role: str | None, asked_unit: str | None
) -> tuple[str, str | None] | str:
    """(hub role, unit) for a socket, or why it is refused.

    Crews are their own unit; planners are planners; dispatchers may also watch as planners;
    admins may connect as any role (support), naming the unit for a crew view.
    """
    if principal.role == Role.CREW:
        if asked_unit not in (None, principal.unit_id) or asked_role not in (None, "crew"):
            return f"a crew may connect only as its own unit ({principal.unit_id})"
        return "crew", principal.unit_id
    if principal.role == Role.PLANNER:
        if asked_role not in (None, "planner"):
            return "a planner connects as planner"
        return "planner", None
    if asked_role in (None, "dispatcher", "planner"):
        return asked_role or HUB_ROLE[principal.role], None
    if asked_role == "crew" and principal.role == Role.ADMIN and asked_unit:
        return "crew", asked_unit
    return f"role {principal.role.value} may not connect as {asked_role!r}"


def crew_may_see(unit_id: str | None, message: dict[str, Any]) -> bool:
    """A crew device gets protocol messages and what concerns its own unit, nothing else."""
    kind = message.get("type")
    if kind in ALWAYS:
        return True
    if kind in ("event", "presence", "ack"):
        data = message.get("data") or {}
        return unit_id is not None and unit_id in (message.get("unit_id"), data.get("unit_id"))
    return False


def crew_snapshot(unit_id: str | None, state: dict[str, Any]) -> dict[str, Any]:
    """The snapshot a crew gets: its own unit and its own job only."""
    units = [u for u in state.get("units", []) if u.get("unit_id") == unit_id]
    job = {u.get("call_id") for u in units if u.get("call_id")}
    scoped = dict(state)
    scoped["units"] = units
    scoped["calls"] = [c for c in state.get("calls", []) if c.get("call_id") in job]
    scoped["queue"] = []
    scoped["acks"] = {k: v for k, v in (state.get("acks") or {}).items() if k == unit_id}
    presence = state.get("presence") or {}
    scoped["presence"] = {k: v for k, v in presence.items() if k == unit_id}
    return scoped
