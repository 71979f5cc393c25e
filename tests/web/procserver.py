"""Real server processes for fault tests: `hanoi115 serve` under uvicorn, killed for real,
and a private throwaway PostgreSQL cluster that a test may stop and start."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRET = "fault-tests-secret-" + "x" * 24


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One `hanoi115 serve` process on loopback."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, *, timeout_s: float = 60.0) -> ServerProcess:
        """Start and wait until /readyz says ready."""
        log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115 - the child keeps it
        cmd = [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready in {timeout_s} s: {self.log()}")

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), then kill if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self, *, tail_chars: int | None = 4000) -> str:
        """What the process wrote (the end of it, or all with `tail_chars=None`)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if tail_chars is None else text[-tail_chars:]


def server_env(
    database_url: str, settings_files: Mapping[str, Path], **extra: str
) -> dict[str, str]:
    """The environment of a server process (and of `hanoi115 user` commands)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("H115_")}
    env.update(
        {
            "H115_ENV": "test",
            "H115_SECRET_KEY": SECRET,
            "H115_DATABASE_URL": database_url,
            "H115_GRAPH_DIR": str(settings_files["graph_dir"]),
            "H115_STATIONS_FILE": str(settings_files["stations_file"]),
            "H115_FLEET_FILE": str(settings_files["fleet_file"]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if "H115_SHARED_OSM" in os.environ:
        env["H115_SHARED_OSM"] = os.environ["H115_SHARED_OSM"]
    env.update(extra)
    return env


def create_user(
    env: Mapping[str, str], username: str, role: str, password: str, unit: str | None = None
) -> None:
    """The real admin command: `hanoi115 user create ... --password-stdin`."""
    cmd = [sys.executable, "-m", "web.cli", "user", "create", username, "--role", role]
    cmd += ["--password-stdin"] + (["--unit", unit] if unit else [])
    done = subprocess.run(
        cmd, input=password + "\n", env=dict(env), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def login(base: str, username: str, password: str) -> str:
    res = httpx.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password})
    assert res.status_code == 200, res.text
    token: str = res.json()["access_token"]
    return token


class PrivateCluster:
    """A throwaway PostgreSQL 15 cluster (with PostGIS available) on a free loopback port,
    owned by the `postgres` user, that a test may stop and start at will."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="h115-pg-"))
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self._as_postgres(
            PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"
        )

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            PG_BIN / "pg_ctl", "-D", self.data, "-o", opts, "-l", self.dir / "log", "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _as_postgres(self, *args: Any) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *map(str, args)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60, cwd="/")
