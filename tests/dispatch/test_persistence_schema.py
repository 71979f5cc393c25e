"""The migrated schema: equal to the shared table definitions, spatial on PostGIS, WAL on SQLite."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dispatch.db.engine import make_engine
from dispatch.db.errors import StorageUnavailable
from dispatch.db.migrate import head_revision, upgrade
from dispatch.db.schema import metadata
from dispatch.repository import SqlRepository
from tests.dispatch.persistence_driver import register_units
from web.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]


def _diff(engine: sa.Engine) -> list[object]:
    def keep(obj: object, name: str | None, kind: str, reflected: bool, _: object) -> bool:
        # PostGIS-only extras made by the migration on purpose (see dispatch.db.schema).
        if (kind == "column" and name == "geom") or (kind == "table" and name == "spatial_ref_sys"):
            return False
        return not (kind == "index" and name in {"ix_calls_geog"} | _geom_indexes())

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": keep})
        return list(compare_metadata(ctx, metadata))


def _geom_indexes() -> set[str]:
    return {"ix_calls_geom", "ix_units_geom", "ix_districts_geom"}


def test_sqlite_migration_matches_metadata_and_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'h115.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        assert _diff(engine) == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("SELECT h115_haversine_m(0, 0, 1, 0)").scalar() == (
                pytest.approx(111_195.1, abs=1.0)
            )
    finally:
        engine.dispose()


@pytest.mark.postgis
def test_postgis_migration_has_geometry_gist_and_matches_metadata(postgis_url: str) -> None:
    upgrade(postgis_url)
    engine = make_engine(postgis_url)
    try:
        assert _diff(engine) == []
        with engine.connect() as conn:
            types: dict[str, str] = dict(
                conn.execute(
                    sa.text(
                        "SELECT f_table_name, type || ':' || srid FROM geometry_columns "
                        "WHERE f_geometry_column = 'geom'"
                    )
                ).all()
            )
            gist = set(
                conn.execute(
                    sa.text("SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")
                ).scalars()
            )
        assert types == {
            "calls": "POINT:4326",
            "units": "POINT:4326",
            "districts": "MULTIPOLYGON:4326",
        }
        assert gist == _geom_indexes() | {"ix_calls_geog"}
    finally:
        engine.dispose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def test_unreachable_database_raises_storage_unavailable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/nowhere?connect_timeout=2"
    repo = SqlRepository(make_engine(url))
    with pytest.raises(StorageUnavailable, match="unavailable"):
        repo.last_seq()
    with pytest.raises(StorageUnavailable):
        repo.append(register_units(1).events, expected_versions={})
    with pytest.raises(StorageUnavailable):
        SqlRepository.open(url)


def test_cli_db_upgrade_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "current", "--url", url]) == 1
    assert main(["db", "upgrade", "--url", url]) == 0
    assert main(["db", "current", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "database at revision none" in out
    head = head_revision()
    assert f"database at revision {head} (newest: {head})" in out


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_servers_starting_together_migrate_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    if backend == "postgis":
        url = request.getfixturevalue("postgis_url")
    script = "import sys; from dispatch.db.migrate import upgrade; print(upgrade(sys.argv[1]))"
    command = [sys.executable, "-c", script, url]
    procs = [
        subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert [out.strip() for out in outputs] == [head_revision()] * 3
    engine = make_engine(url)
    try:
        assert _diff(engine) == []
    finally:
        engine.dispose()
