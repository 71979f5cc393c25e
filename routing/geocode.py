"""Online address geocoding through OpenStreetMap's Nominatim (via osmnx), where the internet is
reachable; the local street search (`routing.streets`) needs no network and always comes first."""

from __future__ import annotations

import logging
from functools import lru_cache

log = logging.getLogger(__name__)

HANOI_SUFFIX = "Hà Nội, Việt Nam"


def _with_city(text: str) -> str:
    """Bias a free-text address to Hanoi unless the caller already named the city."""
    folded = text.casefold()
    if "hà nội" in folded or "ha noi" in folded or "hanoi" in folded:
        return text
    return f"{text}, {HANOI_SUFFIX}"


class GeocoderUnavailable(RuntimeError):
    """Nominatim could not be reached (offline machine, timeout, HTTP error)."""


@lru_cache(maxsize=512)
def _lookup(query: str, timeout_s: float) -> tuple[float, float] | None:
    """Cached answers, "not found" included; an outage raises and so is never cached."""
    import osmnx as ox

    ox.settings.requests_timeout = timeout_s
    try:
        lat, lon = ox.geocode(query)
    except ox._errors.InsufficientResponseError:
        return None
    except Exception as exc:  # requests' connection errors, timeouts, HTTP errors
        raise GeocoderUnavailable(type(exc).__name__) from exc
    return float(lon), float(lat)


def geocode_online(text: str, *, timeout_s: float = 4.0) -> tuple[float, float] | None:
    """The (lon, lat) Nominatim gives for `text`, or None when it finds nothing or is unreachable.

    Parameters: `text` free-text address (biased to Hanoi); `timeout_s` seconds to wait for
    Nominatim. Answers are cached per process, as Nominatim's usage policy asks.
    """
    query = _with_city(text)
    try:
        return _lookup(query, timeout_s)
    except GeocoderUnavailable as exc:
        log.warning("online geocoding unavailable for %r: %s", query, exc)
        return None
