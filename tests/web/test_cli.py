"""`hanoi115 ...`: bad input is one line on stderr and exit code 2, never a traceback; a bug
keeps its traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from web import cli


def test_a_missing_scenario_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "no_such_scenario.toml", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == "hanoi115 simulate: error: scenario not found: no_such_scenario.toml\n"


def test_a_missing_osm_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.osm.bz2"
    assert cli.main(["graph", "build", "--osm", str(missing), "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hanoi115 graph: error: ") and str(missing) in err
    assert "Traceback" not in err


def test_a_bad_database_url_names_what_is_accepted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("H115_DATABASE_URL", "bogus://somewhere")
    assert cli.main(["user", "create", "someone", "--role", "dispatcher"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("hanoi115 user: error: unsupported database URL")
    assert "postgresql+psycopg://" in err


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatch.simulation import cli as simulation_cli

    def broken(args: argparse.Namespace, settings: object) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setattr(simulation_cli, "_simulate", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["simulate", "no_such_scenario.toml"])
