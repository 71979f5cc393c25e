"""Browser hardening headers on the app's pages (dispatcher, crew, planner, sign-in).

A Content-Security-Policy that lets the pages run only our own scripts (every script is a
file under /static; no inline script, no eval), load images from here (and the optional tile
server) and talk only to this origin (REST and the websocket): text that slipped into markup
could not run even if it were not escaped (web/static/js/html.js escapes it first). The pages
may not be framed (clickjacking) and leak no referrer. Leaflet positions its layers with
inline style attributes, hence 'unsafe-inline' for styles only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGES = frozenset({"/", "/crew", "/planner", "/login"})


def tile_origin(tile_url: str | None) -> str | None:
    """The origin of a Leaflet tile URL template ({s} subdomains become a wildcard)."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def page_headers(tile_url: str | None) -> list[tuple[bytes, bytes]]:
    """The headers every page gets, as raw ASGI header pairs."""
    images = " ".join(filter(None, ["'self'", "data:", tile_origin(tile_url)]))
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]


class PageHeadersMiddleware:
    """Adds `page_headers` to the responses of `PAGES` (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, *, tile_url: str | None) -> None:
        self.app = app
        self.headers = page_headers(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
