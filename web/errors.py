"""The one place where errors of the core packages become HTTP responses.

NotFound -> 404; Conflict (ConcurrencyConflict, InvalidTransition, IdempotencyKeyReused) ->
409; ValidationError and OutsideServiceArea -> 422 naming the field; database down -> 503.
422 bodies follow FastAPI's shape: `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dispatch.db.errors import StorageUnavailable
from dispatch.errors import Conflict, NotFound, ValidationError
from routing.errors import ArtifactError, OutsideServiceArea, RoutingError

log = logging.getLogger(__name__)
FIELD_ATTR = "h115_field"


@contextmanager
def about_field(*loc: str | int) -> Iterator[None]:
    """Tag a ValidationError or routing error raised inside with the request field it concerns."""
    try:
        yield
    except (ValidationError, RoutingError) as exc:
        if getattr(exc, FIELD_ATTR, None) is None:
            setattr(exc, FIELD_ATTR, list(loc))
        raise


def _loc(exc: Exception) -> list[str | int]:
    tagged = getattr(exc, FIELD_ATTR, None)
    if tagged:
        return ["body", *tagged]
    field = getattr(exc, "field", None)
    return ["body", field] if field else ["body"]


def unprocessable(exc: Exception, *, kind: str) -> JSONResponse:
    """A 422 in FastAPI's validation-error shape."""
    detail = [{"loc": _loc(exc), "msg": str(exc), "type": kind}]
    return JSONResponse(status_code=422, content={"detail": detail})


def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc)})


def _conflict(_: Request, exc: Exception) -> JSONResponse:
    content: dict[str, Any] = {"detail": str(exc), "type": type(exc).__name__}
    call_id = getattr(exc, "call_id", None)
    if call_id is not None:
        content["call_id"] = call_id
    return JSONResponse(status_code=409, content=content)


def _invalid(_: Request, exc: Exception) -> JSONResponse:
    return unprocessable(exc, kind="value_error")


def _outside(_: Request, exc: Exception) -> JSONResponse:
    return unprocessable(exc, kind="outside_service_area")


def _routing(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ArtifactError):
        return _unavailable(_, exc)
    return unprocessable(exc, kind="routing_error")


def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("service unavailable: %s", exc)
    return JSONResponse(
        status_code=503,
        content={"detail": f"temporarily unavailable: {exc}"},
        headers={"Retry-After": "2"},
    )


def install(app: FastAPI) -> None:
    """Register every mapping on the app (most specific classes first is not required:
    Starlette looks handlers up along the exception's MRO)."""
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(ValidationError, _invalid)
    app.add_exception_handler(OutsideServiceArea, _outside)
    app.add_exception_handler(RoutingError, _routing)
    app.add_exception_handler(StorageUnavailable, _unavailable)
