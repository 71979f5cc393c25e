"""The repository contract, run against the embedded SQLite file and against PostGIS."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dispatch import events as ev
from dispatch import transitions
from dispatch.db import schema
from dispatch.db.errors import IdempotencyKeyReused
from dispatch.db.migrate import current_revision, head_revision, upgrade
from dispatch.errors import ConcurrencyConflict, InvalidTransition
from dispatch.livelog import LiveLog
from dispatch.model import CallStatus, EventSource, UnitStatus
from dispatch.ports import EventRepository
from dispatch.repository import SqlRepository
from tests.dispatch.persistence_driver import call_created, digest, next_batch, register_units

_VERSIONS = Path(__file__).resolve().parents[2] / "dispatch" / "migrations" / "versions"
_MIGRATION_IDS = [p.stem for p in _VERSIONS.glob("0*.py")]

T0 = 1_700_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'h115.db'}"
    url: str = request.getfixturevalue("postgis_url")
    return url


@pytest.fixture()
def repo(db_url: str) -> Iterator[SqlRepository]:
    repository = SqlRepository.open(db_url)
    yield repository
    repository.close()


def _append(repo: SqlRepository, batch: transitions.Batch) -> list[ev.StoredEvent]:
    return repo.append(batch.events, expected_versions=batch.expected_versions)


def _drive(repo: SqlRepository, steps: int, seed: int = 7) -> None:
    _append(repo, register_units(3))
    state, rng = repo.replay_state(), random.Random(seed)
    for i in range(steps):
        stored = _append(repo, next_batch(state, rng, T0 + 10 + i))
        state = transitions.replay(stored, state)


def test_satisfies_the_domain_protocol(repo: SqlRepository) -> None:
    port: EventRepository = repo
    assert port.last_seq() == 0
    assert port.load_events() == []


def test_migrations_reach_head_and_are_idempotent(db_url: str, repo: SqlRepository) -> None:
    assert current_revision(repo.engine) == head_revision()
    assert head_revision() == sorted(_MIGRATION_IDS)[-1]
    assert upgrade(db_url) == head_revision()


def test_append_round_trip_with_gap_free_seq(repo: SqlRepository) -> None:
    batch = register_units(2)
    stored = _append(repo, batch)
    assert [s.seq for s in stored] == [1, 2]
    created = call_created("C1", 105.85, 21.03, T0 + 5)
    more = repo.append([created], expected_versions={"call:C1": 0})
    assert more[0].seq == 3
    loaded = repo.load_events()
    assert [s.event for s in loaded] == [*batch.events, created]
    assert [s.seq for s in repo.load_events(after_seq=1, limit=1)] == [2]
    assert repo.last_seq() == 3


def test_stale_version_is_a_conflict_and_stores_nothing(repo: SqlRepository) -> None:
    _append(repo, register_units(1))
    before = repo.read_model_state()
    moved = ev.UnitStatusChanged(
        at_s=T0 + 1, actor="crew", source=EventSource.CREW, unit_id="U00",
        from_status=UnitStatus.AVAILABLE_AT_STATION, to_status=UnitStatus.AVAILABLE_ON_ROAD,
    )  # fmt: skip
    with pytest.raises(ConcurrencyConflict, match="unit:U00 is at version 1, not 0"):
        repo.append([moved], expected_versions={"unit:U00": 0})
    assert repo.last_seq() == 1
    assert digest(repo.read_model_state()) == digest(before)
    assert repo.append([moved], expected_versions={"unit:U00": 1})[0].seq == 2
    assert repo.read_model_state().units["U00"].status == UnitStatus.AVAILABLE_ON_ROAD


def test_illegal_batch_is_rejected_whole(repo: SqlRepository) -> None:
    _append(repo, register_units(1))
    created = call_created("C1", 105.85, 21.03, T0 + 5)
    on_scene = ev.UnitStatusChanged(
        at_s=T0 + 6, actor="crew", source=EventSource.CREW, unit_id="U00",
        from_status=UnitStatus.AVAILABLE_AT_STATION, to_status=UnitStatus.ON_SCENE,
    )  # fmt: skip
    with pytest.raises(InvalidTransition):
        repo.append([created, on_scene], expected_versions={})
    assert repo.last_seq() == 1
    assert repo.read_model_state().calls == {}
    assert repo.append([created], expected_versions={})[0].seq == 2  # no seq was burnt


def test_read_models_equal_replay(repo: SqlRepository) -> None:
    _drive(repo, steps=120)
    replayed, read_model = repo.replay_state(), repo.read_model_state()
    assert replayed.last_seq == read_model.last_seq == repo.last_seq() >= 121
    assert replayed.units == read_model.units
    assert replayed.calls == read_model.calls
    statuses = {c.status for c in replayed.calls.values()}
    assert CallStatus.CLOSED in statuses  # the drive went through whole jobs
    with repo.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT call_id, status, version FROM calls")).all()
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        c.call_id: (c.status.value, c.version) for c in replayed.calls.values()
    }


def _tables(repo: SqlRepository) -> dict[str, list[tuple[object, ...]]]:
    with repo.engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key))]
            for name, table in (("calls", schema.calls), ("units", schema.units))
        }


def test_rebuild_read_models_reproduces_every_column(repo: SqlRepository) -> None:
    _drive(repo, steps=80, seed=5)
    keyed = call_created("CK", 105.85, 21.03, T0 + 999)
    repo.append([keyed], expected_versions={}, idempotency_key="req-k")
    before = _tables(repo)
    with repo.engine.begin() as conn:  # damage the read model; the log is untouched
        conn.execute(sa.text("UPDATE units SET status = 'off_duty', version = 0"))
        conn.execute(sa.text("DELETE FROM calls WHERE call_id = 'CK'"))
    assert _tables(repo) != before
    assert repo.rebuild_read_models() == repo.last_seq()
    assert _tables(repo) == before
    assert repo.call_id_for_idempotency_key("req-k") == "CK"


def test_event_log_is_append_only(repo: SqlRepository) -> None:
    _append(repo, register_units(1))
    for statement in ("UPDATE events SET actor = 'mallory'", "DELETE FROM events"):
        with pytest.raises(sa_exc.DBAPIError, match="append-only"), repo.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert repo.load_events()[0].event.actor == "system"


def test_subscribers_hear_of_events_only_after_commit(repo: SqlRepository) -> None:
    heard: list[tuple[list[int], int]] = []
    other = SqlRepository(sa.create_engine(repo.engine.url)) if repo.is_postgis else repo

    def listener(stored: object) -> None:
        seqs = [s.seq for s in stored]  # type: ignore[attr-defined]
        heard.append((seqs, other.last_seq()))  # read on another connection: committed?

    unsubscribe = repo.subscribe(listener)
    _append(repo, register_units(2))
    unsubscribe()
    repo.append([call_created("C1", 105.85, 21.03, T0)], expected_versions={})
    assert heard == [([1, 2], 2)]


def test_idempotency_key_creates_one_call(repo: SqlRepository) -> None:
    first = call_created("C1", 105.85, 21.03, T0)
    repo.append([first], expected_versions={"call:C1": 0}, idempotency_key="req-1")
    retry = call_created("C2", 105.85, 21.03, T0 + 1)
    with pytest.raises(IdempotencyKeyReused) as info:
        repo.append([retry], expected_versions={"call:C2": 0}, idempotency_key="req-1")
    assert info.value.call_id == "C1"
    assert repo.call_id_for_idempotency_key("req-1") == "C1"
    assert repo.call_id_for_idempotency_key("req-2") is None
    assert sorted(repo.read_model_state().calls) == ["C1"]
    assert repo.last_seq() == 1


def test_state_survives_reopening(db_url: str, repo: SqlRepository) -> None:
    _drive(repo, steps=60, seed=3)
    expected = digest(repo.replay_state())
    repo.close()
    reopened = SqlRepository.open(db_url)
    try:
        assert digest(reopened.replay_state()) == expected
        assert digest(reopened.read_model_state()) == expected
    finally:
        reopened.close()


@pytest.mark.postgis
def test_postgres_notifies_other_processes_of_commits(postgis_url: str) -> None:
    import psycopg

    repo = SqlRepository.open(postgis_url)
    dsn = sa.make_url(postgis_url).set(drivername="postgresql").render_as_string(False)
    try:
        with psycopg.connect(dsn, autocommit=True) as listener:
            listener.execute("LISTEN h115_events")
            _append(repo, register_units(3))
            got = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
        assert got == ["3"]
    finally:
        repo.close()


@pytest.mark.postgis
def test_pool_heals_after_server_drops_connections(postgis_url: str) -> None:
    repo = SqlRepository.open(postgis_url)
    admin = sa.create_engine(postgis_url, isolation_level="AUTOCOMMIT")
    try:
        _append(repo, register_units(1))
        with admin.connect() as conn:  # what a PostgreSQL restart does to pooled connections
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed >= 1
        assert repo.last_seq() == 1  # pre-ping replaced the dead connection
        repo.append([call_created("C1", 105.85, 21.03, T0)], expected_versions={})
        assert repo.last_seq() == 2
    finally:
        admin.dispose()
        repo.close()


class _CountingRepository(SqlRepository):
    """Records from which seq each `load_events` call read the log."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__(engine)
        self.reads_after: list[int] = []

    def load_events(self, after_seq: int = 0, *, limit: int | None = None) -> list[ev.StoredEvent]:
        self.reads_after.append(after_seq)
        return super().load_events(after_seq, limit=limit)


def test_a_restarting_service_loads_the_read_models_not_the_whole_log(
    db_url: str, repo: SqlRepository
) -> None:
    _drive(repo, steps=150, seed=5)
    counting = _CountingRepository(repo.engine)
    restarted = LiveLog(counting)
    assert 0 not in counting.reads_after  # months of AVL fixes are never replayed at start
    assert restarted.state == repo.replay_state()
    _append(repo, next_batch(repo.replay_state(), random.Random(1), T0 + 10_000))
    restarted._catch_up()  # later commits still arrive through the log
    assert restarted.state == repo.replay_state()


def test_read_model_state_is_one_snapshot_while_others_write(
    db_url: str, repo: SqlRepository
) -> None:
    _append(repo, register_units(4))
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        state, rng, i = repo.replay_state(), random.Random(11), 0
        try:
            while not stop.is_set() and i < 400:
                state = transitions.replay(_append(repo, next_batch(state, rng, T0 + i)), state)
                i += 1
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    checked = 0
    try:
        while writer.is_alive() and checked < 25:
            state = repo.read_model_state()
            upto = repo.load_events(limit=state.last_seq)
            assert state == transitions.replay(upto), f"read models and seq {state.last_seq} differ"
            checked += 1
    finally:
        stop.set()
        writer.join()
    assert not failures, failures
    assert checked >= 5
