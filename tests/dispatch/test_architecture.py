"""The domain stays pure: dispatch's core modules and the station models import no web
framework, database or OSM library (checked on the source with ast, not by running it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "geoalchemy2",
    "alembic",
    "psycopg",
    "osmnx",
    "uvicorn",
    "web",
)
# Adapters live elsewhere: dispatch/repository.py, dispatch/db/, dispatch/migrations/, and
# the command-line glue dispatch/cli.py.
NOT_CORE = {"repository.py", "cli.py"}
CORE = sorted(
    [p for p in (REPO / "dispatch").glob("*.py") if p.name not in NOT_CORE]
    + [REPO / "stations" / "models.py", REPO / "stations" / "loaders.py"]
)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_module_list_is_what_we_expect() -> None:
    names = {p.name for p in CORE}
    assert {"model.py", "events.py", "transitions.py", "policy.py", "service.py"} <= names


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_nothing_forbidden(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_detector_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import os\nfrom sqlalchemy.orm import Session\nimport osmnx as ox\n")
    assert {m for m in imported_modules(sample) if m.split(".")[0] in FORBIDDEN} == {
        "sqlalchemy.orm",
        "osmnx",
    }


def test_routing_import_is_only_the_error_class() -> None:
    """The domain reaches routing only through the port; ports.py names its error type."""
    for path in CORE:
        routing = {m for m in imported_modules(path) if m.split(".")[0] == "routing"}
        allowed = {"routing.errors"} if path.name == "ports.py" else set()
        assert routing <= allowed, f"{path.name} imports {sorted(routing)}"
