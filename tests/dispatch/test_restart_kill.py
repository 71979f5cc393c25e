"""Kill -9 a dispatch process and restart it: the state rebuilt from the log is identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dispatch import transitions
from dispatch.repository import SqlRepository
from tests.dispatch.persistence_driver import digest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'restart.db'}"
    url: str = request.getfixturevalue("postgis_url")
    return url


def _start(url: str, *, seed: int, steps: int, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dispatch.restart_worker", url, str(seed), str(steps), mode],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _line(proc: subprocess.Popen[str], word: str) -> tuple[int, str]:
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line and line[0] == word, f"expected {word}, got {line!r}"
    return int(line[1]), line[2]


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def test_kill_between_operations_then_restart(db_url: str) -> None:
    last: tuple[int, str] | None = None
    for cycle in range(3):
        proc = _start(db_url, seed=11, steps=1000, mode="step")
        start = _line(proc, "START")
        if last is not None:  # a fresh process rebuilt exactly what the killed one had
            assert start == last
        assert proc.stdin is not None
        for _ in range(25 + 10 * cycle):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            last = _line(proc, "ACK")
        _kill(proc)  # it is blocked reading stdin: between two operations
    assert last is not None
    repo = SqlRepository.open(db_url, migrate=False)
    try:
        assert (repo.last_seq(), digest(repo.replay_state())) == last
        assert digest(repo.read_model_state()) == last[1]
    finally:
        repo.close()


def test_kill_mid_burst_loses_nothing_acknowledged(db_url: str) -> None:
    acks: list[tuple[int, str]] = []
    for delay_s in (0.7, 1.3):
        proc = _start(db_url, seed=23, steps=100_000, mode="burst")
        _line(proc, "START")
        deadline = time.monotonic() + delay_s
        while time.monotonic() < deadline:
            acks.append(_line(proc, "ACK"))
        _kill(proc)  # anywhere: maybe inside a transaction, maybe between commit and print
    repo = SqlRepository.open(db_url, migrate=False)
    try:
        stored = repo.load_events()
        assert [s.seq for s in stored] == list(range(1, len(stored) + 1))  # gap-free
        assert stored[-1].seq >= acks[-1][0] > 20
        state = transitions.replay([])
        by_seq = dict(acks)
        for item in stored:  # every acknowledged state is exactly reproduced by replay
            transitions.replay([item], state)
            if item.seq in by_seq:
                assert digest(state) == by_seq.pop(item.seq)
        assert by_seq == {}
        assert digest(repo.read_model_state()) == digest(state)  # read models consistent
    finally:
        repo.close()
