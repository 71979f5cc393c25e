"""Operations: probes, Prometheus metrics with real values, logs without personal data."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.authkit import bearer, login, make_user
from tests.web.conftest import PIN_HOAN_KIEM
from web.app import create_app
from web.ops import JsonFormatter, RedactingFilter, redact
from web.settings import Settings

PHONE = "0912 345 678"
PHONE_DIGITS = "0912345678"
CITIZEN_ID = "001203004567"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)"
    found = re.search(r"^" + pattern + "$", text, re.MULTILINE)
    assert found is not None, f"{name} {labels} not in metrics"
    return float(found.group(1))


def test_probes_and_metrics(make_settings: Callable[..., Settings], hoankiem_router: Any) -> None:
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["checks"]["graph"]["ok"]
        assert ready["checks"]["database"]["ok"]
        assert ready["checks"]["graph"]["detail"] == f"{hoankiem_router.node_count} road nodes"
        make_user(app, "dana", "dispatcher")
        token = login(client, "dana")
        pin = {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}
        for _ in range(3):
            client.post("/api/v1/calls", json={"pin": pin, "priority": "P2"}, headers=bearer(token))
        call_id = client.get("/api/v1/calls", headers=bearer(token)).json()[0]["call_id"]
        client.post(
            f"/api/v1/calls/{call_id}/assign", json={"unit_id": "hq-A1"}, headers=bearer(token)
        )
        with client.websocket_connect(f"/ws?token={token}") as ws:
            ws.receive_json()
            text = client.get("/metrics").text
            assert metric(text, "h115_websocket_clients") == 1.0
        units = app.state.ctx.service.state.units
        assert metric(text, "h115_open_calls") == 3.0
        assert metric(text, "h115_units", status="dispatched") == 1.0
        assert metric(text, "h115_units", status="available_at_station") == len(units) - 1
        route = {"method": "POST", "route": "/api/v1/calls", "status": "201"}
        assert metric(text, "h115_http_request_duration_seconds_count", **route) == 3.0
        assigned = {"method": "POST", "route": "/api/v1/calls/{call_id}/assign", "status": "200"}
        assert metric(text, "h115_http_request_duration_seconds_count", **assigned) == 1.0
        assert metric(text, "h115_recommendation_duration_seconds_count") >= 3.0
        assert 0 < metric(text, "h115_recommendation_duration_seconds_sum") < 3.0


def test_personal_data_never_reaches_the_logs(
    make_settings: Callable[..., Settings],
    hoankiem_router: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(make_settings(), router=hoankiem_router)
    with TestClient(app) as client:
        make_user(app, "dana", "dispatcher")
        token = login(client, "dana")
        pin = {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}
        body = {"pin": pin, "caller_phone": PHONE, "citizen_id": CITIZEN_ID, "priority": "P1"}
        call_id = client.post("/api/v1/calls", json=body, headers=bearer(token)).json()["call"][
            "call_id"
        ]
        client.patch(
            f"/api/v1/calls/{call_id}",
            json={"caller_phone": "+84 912 345 679"},
            headers=bearer(token),
        )
        client.post("/api/v1/calls", json=body | {"citizen_id": "x"}, headers=bearer(token))  # 422
        with client.websocket_connect(f"/ws?token={token}") as ws:
            ws.receive_json()
        # Code that carelessly logs personal data or secrets is caught by the filter too.
        logging.getLogger("web.careless").warning(
            "caller %s id=%s token=%s", PHONE, CITIZEN_ID, token
        )
        try:
            raise ValueError(f"bad phone {PHONE_DIGITS}")
        except ValueError:
            logging.getLogger("web.careless").exception("failed for citizen_id=%s", CITIZEN_ID)
    logged = "\n".join(
        [r.getMessage() + (r.exc_text or "") for r in caplog.records] + [caplog.text]
    )
    assert "web.careless" in caplog.text and "[phone]" in logged  # the lines were captured
    for secret in (PHONE, PHONE_DIGITS, "912 345 679", CITIZEN_ID, token):
        assert secret not in logged


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("call from 0912345678 now", "call from [phone] now"),
        ("call from +84 912 345 678", "call from [phone]"),
        ("cccd 001203004567.", "cccd [id]."),
        ('{"caller_phone": "12"}', '{"caller_phone": "[redacted]"}'),
        ("GET /ws?token=abc.def&role=crew", "GET /ws?token=[redacted]&role=crew"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: Bearer [redacted]"),
        ("at_s=1795396011.48 seq=12345", "at_s=1795396011.48 seq=12345"),  # times stay
        ("lon 105.8522 lat 21.0285", "lon 105.8522 lat 21.0285"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_json_lines() -> None:
    record = logging.LogRecord(
        "web.x", logging.INFO, __file__, 1, "phone %s", ("0912345678",), None
    )
    RedactingFilter().filter(record)
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "phone [phone]" and doc["level"] == "INFO" and doc["logger"] == "web.x"


def test_uvicorn_access_records_keep_their_arguments() -> None:
    args = ("127.0.0.1:5000", "GET", "/ws?token=abc.def.ghi&role=crew", "1.1", 101)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    RedactingFilter().filter(record)
    assert record.args == ("127.0.0.1:5000", "GET", "/ws?token=[redacted]&role=crew", "1.1", 101)
    assert (
        record.getMessage() == '127.0.0.1:5000 - "GET /ws?token=[redacted]&role=crew HTTP/1.1" 101'
    )
