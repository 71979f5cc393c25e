"""Two dispatch servers (DispatchService over separate engines) race to send the same ambulance.

This is the product-level form of the race: each service catches up with the log, decides
with the real policy and commits through `SqlRepository`. Exactly one assignment wins each
round; every loser gets a Conflict (409): a ConcurrencyConflict when it decided before the
winner committed, a plain Conflict ("already serves a call") when it caught up first.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch.errors import ConcurrencyConflict, Conflict
from dispatch.model import EventSource, Priority, UnitStatus
from dispatch.policy import PolicyConfig
from dispatch.repository import SqlRepository
from dispatch.service import DispatchService
from dispatch.workflow import ServiceOptions
from tests.dispatch.fakes import FakeTravel
from tests.dispatch.helpers import FLEET, HOAN_KIEM, HOSPITALS, STATIONS, Clock

SERVERS = 4
ROUNDS = 30
UNIT = "hq-A1"


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[DispatchService]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'servers.db'}"
    else:
        url = request.getfixturevalue("postgis_url")
    repos = [SqlRepository.open(url, migrate=i == 0) for i in range(SERVERS)]
    services = [
        DispatchService(
            repo,
            FakeTravel(),
            stations=STATIONS,
            fleet=FLEET,
            hospitals=HOSPITALS,
            clock=Clock(),
            options=ServiceOptions(policy=PolicyConfig(), auto_arrive_m=None),
            new_id=lambda: uuid.uuid4().hex[:12],
        )
        for repo in repos
    ]
    yield services
    for repo in repos:
        repo.close()


def _race(services: list[DispatchService], call_ids: list[str]) -> list[object]:
    barrier = threading.Barrier(len(services))
    outcome: list[object] = [None] * len(services)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcome[i] = services[i].assign(call_ids[i], UNIT, actor=f"dispatcher-{i}")
        except Conflict as exc:
            outcome[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(services))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


def test_one_server_wins_each_round(servers: list[DispatchService]) -> None:
    winners, db_rejected = [], 0
    for rnd in range(ROUNDS):
        call_ids = [
            svc.create_call(
                actor=f"dispatcher-{i}", caller_phone="0912345678", address_text=f"round {rnd}",
                pin=HOAN_KIEM, priority=Priority.P2,
            ).call_id
            for i, svc in enumerate(servers)
        ]  # fmt: skip
        for svc in servers:
            svc.get_unit(UNIT)  # every server catches up: all see the unit free
        outcome = _race(servers, call_ids)
        won = [i for i, o in enumerate(outcome) if not isinstance(o, Conflict)]
        assert len(won) == 1, f"round {rnd}: {outcome}"
        winners.append(won[0])
        db_rejected += sum(isinstance(o, ConcurrencyConflict) for o in outcome)
        unit = servers[(won[0] + 1) % SERVERS].get_unit(UNIT)  # seen from another server
        assert unit.status == UnitStatus.DISPATCHED
        assert unit.call_id == call_ids[won[0]]
        servers[won[0]].change_unit_status(
            UNIT, UnitStatus.AVAILABLE_AT_STATION, actor="dispatcher", source=EventSource.DISPATCHER
        )
    assert len(set(winners)) > 1
    print(f"losers rejected by the database's version check: {db_rejected}")
    assert db_rejected > 0  # the servers really overlapped: the database, not luck, decided
    repo = servers[0]._repo
    assert isinstance(repo, SqlRepository)
    assert repo.read_model_state().units == repo.replay_state().units
