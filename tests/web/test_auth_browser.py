"""The sign-in page in Chromium: no token sends the dispatcher to /login; a wrong password
says so; the right one opens the live map with personal-data rights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.web.authkit import PASSWORD, make_user
from tests.web.conftest import LiveServer, shot

pytestmark = [pytest.mark.browser, pytest.mark.server]


def test_dispatcher_signs_in_through_the_login_page(
    browser: Any, serve: Callable[..., LiveServer]
) -> None:
    server = serve()
    make_user(server.app, "dana", "dispatcher")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base + "/")
    page.wait_for_url("**/login?next=%2F")
    errors.clear()  # requests the map page began before it was sent away are moot
    page.fill("#username", "dana")
    page.fill("#password", "not the password")
    page.click("#login-button")
    page.wait_for_function("document.getElementById('login-error').textContent.length > 0")
    assert page.locator("#login-error").inner_text() == "wrong username or password"
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url(server.base + "/")
    page.wait_for_selector("#conn.on")  # the live socket accepted the token
    shot(page, "login_then_dispatcher")
    assert page.evaluate("sessionStorage.getItem('h115.role')") == "dispatcher"
    me = page.evaluate(
        "fetch('/api/v1/auth/me', {headers: {Authorization: 'Bearer ' +"
        " sessionStorage.getItem('h115.token')}}).then(r => r.json())"
    )
    assert me == {"username": "dana", "role": "dispatcher", "unit_id": None, "personal_data": True}
    assert errors == []
