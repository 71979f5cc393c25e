"""Concurrent assignment for real, on both backends: exactly one winner per round.

Each round, 2-8 threads (each with its own engine, like separate dispatcher servers) decide
from the same snapshot and append at once behind a barrier. Even rounds: the same unit to
different calls. Odd rounds: different units to the same call. The database (version check
under the log lock, conditional UPDATE) must let exactly one win; the rest get
ConcurrencyConflict and store nothing.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch import events as ev
from dispatch import transitions
from dispatch.errors import ConcurrencyConflict
from dispatch.model import CallStatus, DispatchState, EventSource, UnitStatus
from dispatch.repository import SqlRepository
from tests.dispatch.persistence_driver import Meta, call_created, register_units

T0 = 1_700_000_000.0
ROUNDS = 50
MAX_RACERS = 8


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'race.db'}"
    url: str = request.getfixturevalue("postgis_url")
    return url


@pytest.fixture()
def racers(db_url: str) -> Iterator[list[SqlRepository]]:
    first = SqlRepository.open(db_url)
    others = [SqlRepository.open(db_url, migrate=False) for _ in range(MAX_RACERS - 1)]
    yield [first, *others]
    for repo in (first, *others):
        repo.close()


def _assign(state: DispatchState, call_id: str, unit_id: str, t: float) -> transitions.Batch:
    work, batch = copy.deepcopy(state), transitions.Batch()
    meta = Meta(at_s=t, actor=f"dispatcher-{call_id}-{unit_id}", source=EventSource.DISPATCHER)
    transitions.emit(work, ev.UnitAssigned(**meta, call_id=call_id, unit_id=unit_id), batch)
    return batch


def _race(repos: list[SqlRepository], batches: list[transitions.Batch]) -> list[object]:
    barrier = threading.Barrier(len(batches))
    outcome: list[object] = [None] * len(batches)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcome[i] = repos[i].append(
                batches[i].events, expected_versions=batches[i].expected_versions
            )
        except ConcurrencyConflict as exc:
            outcome[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


def _stand_down(repo: SqlRepository, state: DispatchState, t: float) -> DispatchState:
    batch = transitions.Batch()
    work = copy.deepcopy(state)
    for unit in sorted(work.units.values(), key=lambda u: u.unit_id):
        if unit.status == UnitStatus.DISPATCHED:
            change = ev.UnitStatusChanged(
                at_s=t, actor="dispatcher", source=EventSource.DISPATCHER,
                unit_id=unit.unit_id, from_status=unit.status,
                to_status=UnitStatus.AVAILABLE_AT_STATION, call_id=unit.call_id,
            )  # fmt: skip
            transitions.emit(work, change, batch)
    stored = repo.append(batch.events, expected_versions=batch.expected_versions)
    return transitions.replay(stored, state)


def test_exactly_one_winner_per_round(racers: list[SqlRepository]) -> None:
    repo, rng = racers[0], random.Random(2026)
    setup = register_units(MAX_RACERS)
    repo.append(setup.events, expected_versions=setup.expected_versions)
    state = repo.replay_state()
    wins: list[tuple[str, str]] = []
    for rnd in range(ROUNDS):
        n, t = rng.randint(2, MAX_RACERS), T0 + 100 * rnd
        call_ids = [f"R{rnd:02d}C{i}" for i in range(n if rnd % 2 == 0 else 1)]
        created = [call_created(c, 105.85, 21.03, t) for c in call_ids]
        state = transitions.replay(repo.append(created, expected_versions={}), state)
        if rnd % 2 == 0:  # one unit, n calls
            pairs = [(c, "U00") for c in call_ids]
        else:  # n units, one call
            pairs = [(call_ids[0], f"U{i:02d}") for i in range(n)]
        before = repo.last_seq()
        outcome = _race(racers, [_assign(state, c, u, t + 1) for c, u in pairs])
        won = [pairs[i] for i, o in enumerate(outcome) if isinstance(o, list)]
        lost = [o for o in outcome if isinstance(o, ConcurrencyConflict)]
        assert len(won) == 1, f"round {rnd}: {n} racers, outcomes {outcome}"
        assert len(lost) == n - 1
        assert repo.last_seq() == before + 1  # losers stored nothing, no seq was burnt
        (stored,) = [o for o in outcome if isinstance(o, list)]
        state = transitions.replay(stored, state)
        call_id, unit_id = won[0]
        assert state.units[unit_id].call_id == call_id
        assert state.calls[call_id].status == CallStatus.ASSIGNED
        assert [c.call_id for c in state.calls.values() if c.unit_id] == [call_id]
        wins.append(won[0])
        state = _stand_down(repo, state, t + 2)
    assert len(wins) == ROUNDS
    assert len({u for _, u in wins[1::2]}) > 1  # different racers won different rounds
    replayed = repo.replay_state()
    assert replayed.units == state.units
    assert replayed.calls == state.calls
    assert repo.read_model_state().units == replayed.units
