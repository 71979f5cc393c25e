"""Text from outside our code never runs in a dispatcher's or crew's browser.

A call whose address and complaint carry markup (as a careless paste or a hostile caller
could) shows that markup as text on the dispatcher map, in its lists and tooltips and on the
crew tablet; and the pages' Content-Security-Policy blocks inline script even where escaping
were missed. Also the crew tablet's scene pin and tap-to-call link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.web.conftest import PIN_HOAN_KIEM, LiveServer, shot

pytestmark = [pytest.mark.browser, pytest.mark.server]

ADDRESS = '<img src=x onerror="window.__xss=1">Hàng Bài'
COMPLAINT = "<script>window.__xss=2</script>khó thở"


def _call_assigned(server: LiveServer) -> tuple[str, str]:
    pin = {"type": "Point", "coordinates": list(PIN_HOAN_KIEM)}
    body = {"address_text": ADDRESS, "complaint": COMPLAINT, "caller_phone": "0912 345 678",
            "pin": pin, "priority": "P1"}  # fmt: skip
    res = httpx.post(f"{server.base}/api/v1/calls", json=body, headers=server.headers(), timeout=30)
    assert res.status_code == 201, res.text
    created = res.json()
    call_id, unit_id = created["call"]["call_id"], created["recommendations"][0]["unit_id"]
    res = httpx.post(
        f"{server.base}/api/v1/calls/{call_id}/assign",
        json={"unit_id": unit_id},
        headers=server.headers(),
        timeout=30,
    )
    assert res.status_code == 200, res.text
    return call_id, unit_id


def test_markup_in_call_text_is_shown_as_text_never_run(
    browser: Any, serve: Callable[..., LiveServer]
) -> None:
    server = serve()
    call_id, unit_id = _call_assigned(server)
    desk = browser.new_page(viewport={"width": 1400, "height": 900})
    desk.add_init_script(f"sessionStorage.setItem('h115.token', '{server.token()}')")
    desk.goto(server.base + "/")
    row = desk.locator(f"#active li[data-call='{call_id}']")
    row.wait_for()
    assert ADDRESS in row.inner_text()  # the markup, as text
    assert desk.locator("#active img").count() == 0
    desk.evaluate(f"void window.h115.layers.calls.get('{call_id}').openTooltip()")
    tooltip = desk.locator(".leaflet-tooltip").last
    tooltip.wait_for()
    assert ADDRESS in tooltip.inner_text()

    crew = browser.new_page(viewport={"width": 1100, "height": 800}, has_touch=True)
    crew.add_init_script(f"localStorage.setItem('h115.token', '{server.token('crew', unit_id)}')")
    crew.goto(f"{server.base}/crew")
    crew.wait_for_selector(".job-address")
    assert crew.locator(".job-address").inner_text() == ADDRESS
    assert crew.locator(".job-complaint").inner_text() == COMPLAINT
    assert crew.locator("#job img, #job script").count() == 0
    phone = crew.locator(".job-phone a")
    assert phone.get_attribute("href") == "tel:0912 345 678"
    scene = crew.evaluate("window.h115.scene()")  # the patient's pin on the map
    assert (scene["lng"], scene["lat"]) == pytest.approx(PIN_HOAN_KIEM)
    shot(crew, "8-crew-job-escaped")

    for page in (desk, crew):
        page.wait_for_timeout(300)  # an image error handler would have fired by now
        assert page.evaluate("window.__xss") is None


def test_pages_forbid_inline_script_and_framing(
    browser: Any, serve: Callable[..., LiveServer]
) -> None:
    server = serve()
    for path in ("/", "/crew", "/planner", "/login"):
        res = httpx.get(server.base + path, timeout=30)
        assert res.status_code == 200
        policy = res.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert res.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in httpx.get(server.base + "/healthz").headers

    page = browser.new_page(bypass_csp=False)  # the policy as users get it
    page.add_init_script(f"sessionStorage.setItem('h115.token', '{server.token()}')")
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text))
    page.goto(server.base + "/")
    page.wait_for_selector("#conn.on")  # our own module scripts and the websocket still work
    # Markup that bypassed escaping: the policy still refuses its inline handler.
    page.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__csp=1\">')"
    )
    page.wait_for_timeout(500)
    assert page.evaluate("window.__csp") is None
    assert any("Content Security Policy" in text for text in blocked), blocked
