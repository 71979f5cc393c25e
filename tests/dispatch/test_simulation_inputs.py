"""Simulation inputs: named random streams, scenario files, call generation, Erlang formulas."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dispatch.simulation.demand import (
    OUTCOME_CANCELLED,
    OUTCOME_NUISANCE,
    arrival_times,
    generate_calls,
    start_epoch_s,
)
from dispatch.simulation.distributions import Distribution
from dispatch.simulation.erlang import erlang_c, mean_wait_s, wait_exceeds
from dispatch.simulation.errors import ScenarioError
from dispatch.simulation.scenario import list_scenarios, load_scenario, scenario_from_mapping
from dispatch.simulation.streams import stream


def test_same_seed_and_name_give_the_same_numbers() -> None:
    a = stream(115, "arrivals").uniform(size=5)
    b = stream(115, "arrivals").uniform(size=5)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, stream(115, "locations").uniform(size=5))
    assert not np.array_equal(a, stream(116, "arrivals").uniform(size=5))
    assert not np.array_equal(a, stream(115, "arrivals", replication=1).uniform(size=5))


def test_every_packaged_scenario_loads() -> None:
    names = list_scenarios()
    assert {"baseline_core7", "demand_x10", "erlang_check", "no_congestion"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert math.isclose(sum(s for _, s in scenario.demand.priority_mix), 1.0)


def test_extends_merges_and_overrides() -> None:
    base, x10 = load_scenario("baseline_core7"), load_scenario("demand_x10")
    assert x10.demand.multiplier == 10.0 and base.demand.multiplier == 1.0
    assert x10.demand.hourly_profile == base.demand.hourly_profile
    assert x10.replications == 2 and base.replications == 4
    assert dict(load_scenario("no_diversion_x5").policy)["p1_diversion"] is False
    assert load_scenario("no_congestion").congestion is False


def test_bad_scenarios_are_rejected() -> None:
    with pytest.raises(ScenarioError, match="seed"):
        scenario_from_mapping({"name": "x"}, base_dir=Path("."))
    with pytest.raises(ScenarioError, match="hourly_profile"):
        scenario_from_mapping(
            {"name": "x", "seed": 1, "demand": {"hourly_profile": [1, 2]}}, base_dir=Path(".")
        )
    with pytest.raises(ScenarioError, match="unknown distribution"):
        Distribution.from_mapping({"dist": "cauchy"})
    with pytest.raises(ScenarioError, match="scenario not found"):
        load_scenario("no_such_scenario")


def test_distribution_means_match_their_draws() -> None:
    rng = np.random.default_rng(3)
    for spec in (
        {"dist": "lognormal", "median_s": 900, "sigma": 0.45},
        {"dist": "triangular", "low_s": 300, "mode_s": 600, "high_s": 1500},
        {"dist": "gamma", "mean_s": 600, "cv": 0.5},
        {"dist": "exponential", "mean_s": 1770},
    ):
        dist = Distribution.from_mapping(spec)
        assert dist.draw(rng, 200_000).mean() == pytest.approx(dist.mean_s, rel=0.01)


def test_start_is_local_midnight_in_hanoi() -> None:
    import datetime as dt

    # 2025-03-03 00:00 in Hanoi is 2025-03-02 17:00 UTC.
    expected = dt.datetime(2025, 3, 2, 17, tzinfo=dt.UTC).timestamp()
    assert start_epoch_s(dt.date(2025, 3, 3)) == expected


def test_arrivals_follow_the_rate_and_the_hourly_profile() -> None:
    scenario = load_scenario("baseline_core7").with_overrides(days=200)
    times = arrival_times(scenario, stream(1, "arrivals"))
    assert len(times) / 200 == pytest.approx(110, rel=0.02)
    assert np.all(np.diff(times) >= 0)
    hours = (times // 3600 % 24).astype(int)
    counts = np.bincount(hours, minlength=24)
    profile = np.asarray(scenario.demand.hourly_profile)
    # The 19:00 peak over the 03:00 trough, as the profile says (1.50 / 0.38), within noise.
    assert counts[19] / counts[3] == pytest.approx(profile[19] / profile[3], rel=0.1)


def test_two_scenarios_with_the_same_demand_see_the_same_calls() -> None:
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    a = generate_calls(load_scenario("baseline_core7"), weights, replication=0)
    b = generate_calls(load_scenario("no_congestion"), weights, replication=0)
    for name in ("arrival_s", "location", "priority", "outcome", "on_scene_s", "handover_s"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    c = generate_calls(load_scenario("baseline_core7"), weights, replication=1)
    assert len(c) != len(a) or not np.array_equal(c.arrival_s, a.arrival_s)


def test_call_mix_follows_the_scenario() -> None:
    scenario = load_scenario("baseline_core7").with_overrides(days=100)
    weights = np.array([1.0, 3.0])
    plan = generate_calls(scenario, weights, replication=0)
    assert np.mean(plan.location == 1) == pytest.approx(0.75, abs=0.01)
    assert np.mean(plan.outcome == OUTCOME_NUISANCE) == pytest.approx(0.15, abs=0.01)
    assert np.mean(plan.outcome == OUTCOME_CANCELLED) == pytest.approx(0.08, abs=0.01)
    p1 = plan.priority == 0
    assert np.mean(p1) == pytest.approx(0.15, abs=0.01)
    assert np.mean(plan.transported[p1]) == pytest.approx(0.95, abs=0.02)


def test_erlang_c_known_values() -> None:
    # M/M/1: P(wait) = rho and Wq = rho / (mu - lambda).
    assert erlang_c(1, 0.6) == pytest.approx(0.6)
    assert mean_wait_s(1, 0.6 / 100, 100) == pytest.approx(0.6 / (0.01 - 0.006))
    # Two servers, a = 1: P(wait) = 1/3 (textbook value).
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert wait_exceeds(2, 0.01, 100, 0.0) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        erlang_c(2, 2.0)
