"""The AsyncAPI document matches the code: version, event kinds, message types; serialisation."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from dispatch.events import EVENT_TYPES
from web import protocol
from web.live import kind_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol" / "asyncapi.yaml"


def test_asyncapi_document_matches_the_code() -> None:
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    assert doc["info"]["version"] == str(protocol.PROTOCOL_VERSION)
    messages = doc["components"]["messages"]
    event = messages["event"]["payload"]["allOf"][1]["properties"]
    assert set(event["kind"]["enum"]) == {kind_of(name) for name in EVENT_TYPES}
    assert kind_of("PositionReported") == "unit_position"
    assert kind_of("UnitStatusChanged") == "unit_status_changed"
    for name in ("hello", "snapshot", "resumed", "presence", "ack", "recommendation", "error"):
        assert name in messages


def test_dumps_is_compact_and_never_emits_nan() -> None:
    text = protocol.dumps({"v": 1, "eta_s": math.inf, "list": [math.nan, 1.5], "name": "Hà Nội"})
    assert text == '{"v":1,"eta_s":null,"list":[null,1.5],"name":"Hà Nội"}'
