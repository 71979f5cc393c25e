"""Address search on the REST API: our street names, plus Nominatim when enabled."""

from __future__ import annotations

from typing import Any

from tests.routing.test_geocode import nominatim  # noqa: F401  (the stand-in Nominatim fixture)


def test_address_search_adds_the_online_hit_when_enabled(
    nominatim: list[str],  # noqa: F811
    make_settings: Any,
    hoankiem_router: Any,
) -> None:
    from fastapi.testclient import TestClient

    from tests.web.conftest import token_for
    from web.app import create_app

    for online, expected_sources in ((False, {"streets"}), (True, {"streets", "nominatim"})):
        app = create_app(make_settings(geocode_online=online), router=hoankiem_router)
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {token_for(app, 'dispatcher')}"
            hits = client.get("/api/v1/streets", params={"q": "11 phan chu trinh"}).json()
        assert {h["source"] for h in hits} == expected_sources
    online_hit = hits[-1]
    assert online_hit["location"]["coordinates"] == [105.8565, 21.0245]
