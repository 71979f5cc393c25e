"""Exceptions raised by the SQL repository (mapped to HTTP statuses by the web layer)."""

from __future__ import annotations

from dispatch.errors import Conflict


class StorageError(Exception):
    """Base class of persistence failures."""


class StorageUnavailable(StorageError):
    """The database cannot be reached now (down, restarting, locked too long): answer 503."""


class IdempotencyKeyReused(Conflict):
    """A call was already created with this idempotency key: answer with that call."""

    def __init__(self, key: str, *, call_id: str) -> None:
        super().__init__(f"idempotency key {key!r} already created call {call_id!r}")
        self.key = key
        self.call_id = call_id
