"""Online geocoding through osmnx's Nominatim client, against a local stand-in server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import osmnx as ox
import pytest

from routing import geocode


class _Nominatim(BaseHTTPRequestHandler):
    """Answers /search like Nominatim's jsonv2 format: one hit for Phan Chu Trinh, else none."""

    queries: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query).get("q", [""])[0]
        self.queries.append(query)
        hits: list[dict[str, Any]] = []
        if "phan chu trinh" in query.casefold():
            hits = [{"lat": "21.0245", "lon": "105.8565", "display_name": query}]
        body = json.dumps(hits).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def nominatim(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    server = HTTPServer(("127.0.0.1", 0), _Nominatim)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "requests_timeout", ox.settings.requests_timeout)
    geocode._lookup.cache_clear()
    _Nominatim.queries = []
    yield _Nominatim.queries
    server.shutdown()
    geocode._lookup.cache_clear()


def test_an_address_is_biased_to_hanoi_and_found(nominatim: list[str]) -> None:
    assert geocode.geocode_online("11 Phan Chu Trinh") == (105.8565, 21.0245)
    assert nominatim == ["11 Phan Chu Trinh, Hà Nội, Việt Nam"]
    assert geocode.geocode_online("11 Phan Chu Trinh") == (105.8565, 21.0245)
    assert len(nominatim) == 1  # answered from the cache: Nominatim's usage policy


def test_nothing_found_is_none(nominatim: list[str]) -> None:
    assert geocode.geocode_online("Phố Không Có, Hà Nội") is None
    assert nominatim == ["Phố Không Có, Hà Nội"]


def test_an_outage_is_none_and_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(ox.settings, "nominatim_url", f"http://127.0.0.1:{port}/")
    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "requests_timeout", ox.settings.requests_timeout)
    geocode._lookup.cache_clear()
    assert geocode.geocode_online("11 Phan Chu Trinh", timeout_s=2) is None
    assert geocode._lookup.cache_info().currsize == 0
