"""The simulator drives the live dispatch service with a virtual clock: consistent, seeded,
and honest against queueing theory (Erlang C)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dispatch.model import UnitStatus
from dispatch.simulation import runner
from dispatch.simulation.demand import generate_calls, start_epoch_s
from dispatch.simulation.engine import Simulation, simulate
from dispatch.simulation.erlang import erlang_c, mean_wait_s
from dispatch.simulation.runner import run_scenario, world_for
from dispatch.simulation.scenario import Scenario, load_scenario, scenario_from_mapping
from dispatch.transitions import replay

TRAVEL_S = 300.0


def fixed_scenario(**changes: Any) -> Scenario:
    """HQ with 2 units, every trip 5 minutes, fixed call-taking and turnout times."""
    data: dict[str, Any] = {
        "name": "fixed",
        "seed": 11,
        "days": 3,
        "only_stations": ["hq"],
        "units": {"hq": 2},
        "traffic": {"fixed_travel_s": TRAVEL_S},
        "demand": {
            "calls_per_day": 40,
            "priority_mix": {"P1": 0.3, "P2": 0.3, "P3": 0.4},
            "cancelled_share": 0.1,
            "nuisance_share": 0.1,
        },
        "durations": {
            "processing": {"dist": "fixed", "value_s": 60},
            "turnout": {"dist": "fixed", "value_s": 90},
            "transport_share": {"P1": 0.0, "P2": 0.0, "P3": 0.0},
        },
    }
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return scenario_from_mapping(data, base_dir=Path("."))


def run_sim(scenario: Scenario, *, keep_events: bool = False, router: Any = None) -> Simulation:
    world = world_for(scenario, None, router=router)
    start = start_epoch_s(scenario.start_local)
    plan = generate_calls(scenario, world.location_weight, replication=0)
    sim = Simulation(scenario, world, plan, start_s=start, keep_events=keep_events)
    sim.run()
    return sim


def test_unqueued_calls_take_exactly_call_taking_turnout_and_travel() -> None:
    scenario = fixed_scenario()
    sim = run_sim(scenario)
    table = sim.table.columns()
    served = (table["outcome"] == "served") & ~np.isnan(table["response_s"])
    prompt = served & (table["queue_wait_s"] == 0) & (table["dispatches"] == 1)
    assert prompt.sum() > 50
    # From the station: call-taking + turnout + trip; a unit on its way home has no turnout.
    values = set(np.round(table["response_s"][prompt], 6))
    assert values == {60 + 90 + TRAVEL_S, 60 + TRAVEL_S}
    assert np.allclose(table["travel_s"][prompt], TRAVEL_S)
    nuisance = table["outcome"] == "nuisance"
    assert nuisance.sum() > 5
    assert np.all(np.isnan(table["call_to_dispatch_s"][nuisance]))


def test_the_call_table_says_where_each_call_was(hoankiem_router: Any) -> None:
    golden = Path(__file__).parent / "simulation_data" / "golden_hoankiem.toml"
    scenario = load_scenario(golden).with_overrides(days=1)
    sim = run_sim(scenario, keep_events=True, router=hoankiem_router)
    table = sim.table.columns()
    calls = replay(sim.repository.load_events()).calls
    pins = [calls[str(i)].pin for i in range(len(sim.plan))]
    assert len(pins) > 10
    got = np.column_stack([table["lon"], table["lat"]])
    assert np.array_equal(got, [[p.lon, p.lat] for p in pins])  # the pin the service got
    assert len(np.unique(got, axis=0)) > 5  # spread over the graph's places


def test_the_event_log_replays_to_the_simulated_state() -> None:
    sim = run_sim(fixed_scenario(), keep_events=True)
    rebuilt = replay(sim.repository.load_events())
    live = sim.service.state
    assert rebuilt.units.keys() == live.units.keys()
    for unit_id, unit in live.units.items():
        assert rebuilt.units[unit_id] == unit
    # Every job is finished: units home, every call closed or cancelled and archived.
    assert all(u.status == UnitStatus.AVAILABLE_AT_STATION for u in live.units.values())
    assert live.calls == {}
    assert all(not c.is_open for c in rebuilt.calls.values())
    assert len(rebuilt.calls) == len(sim.plan)


def test_same_seed_same_results_and_another_seed_differs() -> None:
    scenario = fixed_scenario()
    world = world_for(scenario, None)
    a = simulate(scenario, world)
    b = simulate(scenario, world)
    c = simulate(scenario.with_overrides(seed=12), world)
    for name in ("arrival_s", "response_s", "queue_wait_s"):
        assert np.array_equal(a.calls[name], b.calls[name], equal_nan=True), name
    assert a.events == b.events
    assert not np.array_equal(a.calls["arrival_s"], c.calls["arrival_s"])


def test_p1_diversion_takes_units_from_p3_calls_only_when_on() -> None:
    busy = {"demand": {"calls_per_day": 150}, "units": {"hq": 3}, "days": 4}
    on = simulate(fixed_scenario(**busy, policy={"p1_diversion": True}), world_for(
        fixed_scenario(**busy), None))  # fmt: skip
    off = simulate(fixed_scenario(**busy, policy={"p1_diversion": False}), world_for(
        fixed_scenario(**busy), None))  # fmt: skip
    redispatched_on = on.calls["dispatches"] > 1
    assert redispatched_on.sum() > 0
    assert set(on.calls["priority"][redispatched_on]) <= {"P3"}
    assert (off.calls["dispatches"] > 1).sum() == 0
    p1_on = on.calls["priority"] == "P1"
    assert np.nanmean(on.calls["response_s"][p1_on]) < np.nanmean(off.calls["response_s"][p1_on])


def test_progress_is_reported_up_to_one() -> None:
    seen: list[float] = []
    run_scenario(fixed_scenario(days=3), progress=lambda f, _m: seen.append(f))
    assert seen == sorted(seen)
    assert seen[-1] == 1.0 and len(seen) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("fork", [True, False], ids=["forked", "spawned"])
def test_replications_in_processes_equal_those_in_process(
    fork: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = fixed_scenario(replications=2, days=2)
    here = run_scenario(scenario, workers=1)
    monkeypatch.setattr(runner, "_fork_ok", lambda: fork)
    methods: list[str] = []
    pool = runner._run_pool

    def recorded(scenario: Any, method: str, *args: Any) -> Any:
        methods.append(method)
        return pool(scenario, method, *args)

    monkeypatch.setattr(runner, "_run_pool", recorded)
    seen: list[float] = []
    there = run_scenario(scenario, workers=2, progress=lambda f, _m: seen.append(f))
    assert methods == ["fork" if fork else "spawn"]
    assert [r.replication for r in there.runs] == [0, 1]
    for a, b in zip(here.runs, there.runs, strict=True):
        assert np.array_equal(a.calls["response_s"], b.calls["response_s"], equal_nan=True)
    assert here.kpis["response"] == there.kpis["response"]
    assert seen and seen[-1] == 1.0  # progress crosses the process boundary


@pytest.mark.slow
def test_degenerate_scenario_matches_erlang_c() -> None:
    """One station, 3 units, a fixed 30 s trip and Exp(1770 s) on scene: M/M/3 at 2.1 Erlang.

    Busy time per call is 30 s + Exp(1770 s) (a returning unit is free at once), so the waits
    are those of M/M/3 with mean service 1800 s up to the small fixed part (Allen-Cunneen puts
    the mean wait ~2 % under Erlang C). Tolerances cover the sampling noise of 2 x 150 days.
    """
    scenario = load_scenario("erlang_check").with_overrides(days=150, replications=2)
    result = run_scenario(scenario, workers=2)
    lam = scenario.demand.calls_per_day / 86400.0
    wait = np.concatenate([r.calls["queue_wait_s"] for r in result.runs])
    assert np.mean(wait > 0) == pytest.approx(erlang_c(3, lam * 1800), abs=0.03)
    assert np.mean(wait) == pytest.approx(mean_wait_s(3, lam, 1800), rel=0.10)
    # The check has teeth: one unit fewer (or more) is far outside the tolerance.
    assert abs(np.mean(wait) - mean_wait_s(3, lam, 1800)) < 0.1 * mean_wait_s(3, lam, 1800)
    assert mean_wait_s(4, lam, 1800) < 0.5 * mean_wait_s(3, lam, 1800)


def test_archive_drops_only_finished_calls() -> None:
    from dispatch.errors import Conflict
    from dispatch.model import CancelReason, EventSource, Point

    sim = run_sim(fixed_scenario(days=0.01))
    service = sim.service
    pin = Point(105.8565, 21.0245)
    call = service.create_call(actor="t", caller_phone="", address_text="", pin=pin, call_id="x")
    with pytest.raises(Conflict):
        service.archive(call.call_id)
    service.cancel_call("x", reason=CancelReason.OTHER, actor="t", source=EventSource.DISPATCHER)
    assert service.archive("x").call_id == "x"
    assert "x" not in service.state.calls
