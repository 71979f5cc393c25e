"""Fixtures for the web tests: settings on the Hoàn Kiếm graph, a TestClient, a real uvicorn."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.authkit import minted_token
from web.app import create_app
from web.commands import uvicorn_options
from web.security.accounts import Role
from web.settings import Settings

# Stations inside the Hoàn Kiếm extract: the real HQ (11 Phan Chu Trinh, from
# ../shared/reference/hanoi115.md) and two test-only stations.
TEST_STATIONS = [
    ("hq", "Trạm Trung tâm", 105.8565, 21.0245, True),
    ("north", "Test station north", 105.8480, 21.0330, False),
    ("west", "Test station west", 105.8420, 21.0240, False),
]
# Points on roads inside the extract, for calls.
PIN_HOAN_KIEM = (105.8522, 21.0285)
PIN_SOUTH = (105.8500, 21.0180)


@pytest.fixture(scope="session")
def web_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web_data")
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": sid, "name": name, "source": "tests", "confidence": "test"}
            | {"is_hq": hq},
        }
        for sid, name, lon, lat, hq in TEST_STATIONS
    ]
    (folder / "stations.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    fleet = {
        "turnout_s": {"ambulance": 60, "motorbike": 30},
        "stations": {"hq": [{"type": "ambulance", "count": 2, "crew_size": 3, "shift": "24/7"}]},
        "default_station": [{"type": "ambulance", "count": 1, "crew_size": 3, "shift": "24/7"}],
    }
    (folder / "fleet.json").write_text(json.dumps(fleet), encoding="utf-8")
    return folder


@pytest.fixture()
def make_settings(
    tmp_path: Path, web_data_dir: Path, hoankiem_graph_dir: Path
) -> Callable[..., Settings]:
    """Settings for one test: a fresh SQLite file, the test stations, overrides as keywords."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "env": "test",
            "database_url": f"sqlite:///{tmp_path / 'h115.db'}",
            "graph_dir": hoankiem_graph_dir,
            "stations_file": web_data_dir / "stations.geojson",
            "fleet_file": web_data_dir / "fleet.json",
        }
        values.update(overrides)
        return Settings(**values)

    return make


def token_for(app: FastAPI, role: str, unit_id: str | None = None) -> str:
    """A signed bearer token for a test user (web.security checks role, unit and user)."""
    security = app.state.security
    username = f"test-{role}-{unit_id or 'x'}"
    return minted_token(security.users, username, Role(role), unit_id, security.secret_key)


@pytest.fixture()
def client(make_settings: Callable[..., Settings], hoankiem_router: Any) -> Iterator[TestClient]:
    """A TestClient signed in as a dispatcher."""
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token_for(app, 'dispatcher')}"
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real uvicorn server on loopback running the app in a background thread."""

    app: FastAPI
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def token(self, role: str = "dispatcher", unit_id: str | None = None) -> str:
        return token_for(self.app, role, unit_id)

    def headers(self, role: str = "dispatcher", unit_id: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, unit_id)}"}

    def socket(self, role: str = "dispatcher", unit_id: str | None = None, **query: Any) -> str:
        """The hub URL for a signed-in client of `role` (a crew: of `unit_id`)."""
        params = {"role": role, "token": self.token(role, unit_id)} | query
        if unit_id:
            params["unit_id"] = unit_id
        return f"{self.ws}?" + "&".join(f"{k}={v}" for k, v in params.items())


@pytest.fixture()
def serve(
    make_settings: Callable[..., Settings], hoankiem_router: Any
) -> Iterator[Callable[..., LiveServer]]:
    """Start a real uvicorn server with settings overrides; stopped after the test."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> LiveServer:
        app = create_app(make_settings(**overrides), router=hoankiem_router)
        port = free_port()
        config = uvicorn.Config(
            app, **uvicorn_options(host="127.0.0.1", port=port, log_level="warning")
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        started.append((server, thread))
        return LiveServer(app=app, port=port)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=15)


# -- browser (Debian's Chromium through Playwright; never `playwright install`) ----------------
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


class CspBypassingBrowser:
    """The launched Chromium. Its pages bypass the app's Content-Security-Policy unless a test
    passes `bypass_csp=False`: Playwright's polling `wait_for_function` evaluates its predicate
    with eval, which the policy (rightly) forbids; tests/web/test_browser_xss.py checks the
    policy itself."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def new_page(self, **options: Any) -> Any:
        options.setdefault("bypass_csp", True)
        return self.inner.new_page(**options)

    def new_context(self, **options: Any) -> Any:
        options.setdefault("bypass_csp", True)
        return self.inner.new_context(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (see CspBypassingBrowser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield CspBypassingBrowser(chromium)
        chromium.close()


def shot(page: Any, name: str) -> None:
    """Save a screenshot as a test artifact (artifacts/screenshots/NAME.png)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
