"""Shared test fixtures: where the shared OSM data lives, and a real PostGIS database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_osm_dir() -> Path:
    """The shared OSM folder: $H115_SHARED_OSM, default ../shared/osm beside the repo."""
    return Path(os.environ.get("H115_SHARED_OSM", REPO.parent / "shared" / "osm")).resolve()


@pytest.fixture(scope="session")
def osm_dir() -> Path:
    path = shared_osm_dir()
    if not (path / "hanoi_hoankiem_drive_small.osm.bz2").exists():
        pytest.fail(f"shared OSM data not found in {path}; set H115_SHARED_OSM")
    return path


def _pg_admin_url() -> str:
    return os.environ.get(
        "H115_TEST_PG_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
    )


@pytest.fixture()
def postgis_url() -> Iterator[str]:
    """A fresh PostGIS database for one test, dropped afterwards.

    Never skipped: a missing server is a failure (CI must start PostgreSQL with PostGIS).
    """
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"h115_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    eng.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---- Road graphs (routing): compiled once, cached on disk across runs and helpers ----------
# Folder: $H115_TEST_GRAPH_CACHE, default var/test-graphs in the repo, one sub-folder per
# (input sha256, profile sha256, build-code version, place files). Fixtures are session-scoped.
# Every test graph folder carries the shared hospitals and district polygons (routing.places),
# so code under test finds them in the graph folder as it does in production.


def graph_cache_root() -> Path:
    """Where compiled test graphs are cached ($H115_TEST_GRAPH_CACHE or var/test-graphs)."""
    return Path(os.environ.get("H115_TEST_GRAPH_CACHE", REPO / "var" / "test-graphs")).resolve()


def shared_place_files(osm_dir: Path) -> dict[str, Path]:
    """The shared hospitals and district polygons, as `build_graph` keyword arguments."""
    return {
        "hospitals_file": osm_dir / "hanoi_hospitals_osm.geojson",
        "districts_file": osm_dir / "hanoi_admin_boundaries_nominatim.geojson",
    }


@pytest.fixture(scope="session")
def hoankiem_graph_dir(osm_dir: Path) -> Path:
    """Compiled graph of the small Hoàn Kiếm extract (~775 nodes)."""
    from routing.cache import cached_build

    osm = osm_dir / "hanoi_hoankiem_drive_small.osm.bz2"
    return cached_build(osm, graph_cache_root(), **shared_place_files(osm_dir))


@pytest.fixture(scope="session")
def hoankiem_router(hoankiem_graph_dir: Path) -> Any:
    """A `routing.engine.Router` on the Hoàn Kiếm extract."""
    from routing.engine import Router

    return Router.load(hoankiem_graph_dir)


@pytest.fixture(scope="session")
def core_graph_dir(osm_dir: Path) -> Path:
    """Compiled graph of the urban-core extract (~28k nodes; ~35 s to build the first time)."""
    from routing.cache import cached_build

    osm = osm_dir / "hanoi_core_drive.osm.bz2"
    return cached_build(osm, graph_cache_root(), **shared_place_files(osm_dir))


@pytest.fixture(scope="session")
def core_router(core_graph_dir: Path) -> Any:
    """A `routing.engine.Router` on the urban-core extract."""
    from routing.engine import Router

    return Router.load(core_graph_dir)
