"""Errors of the dispatch core; the web layer maps them to HTTP status codes in one place.

NotFound -> 404, Conflict (and ConcurrencyConflict, InvalidTransition) -> 409,
ValidationError -> 422.
"""

from __future__ import annotations


class DispatchError(Exception):
    """Base of every error the dispatch core raises on purpose."""


class NotFound(DispatchError):
    """An unknown call, unit, station or hospital id."""


class Conflict(DispatchError):
    """The request clashes with the current state (e.g. the unit already serves a call)."""


class ConcurrencyConflict(Conflict):
    """Another writer changed the same unit or call first (optimistic check failed)."""


class InvalidTransition(Conflict):
    """A status change not in the table of legal transitions."""


class ValidationError(DispatchError):
    """Malformed or impossible input (bad field value, missing priority, ...)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RollbackImpossible(RuntimeError):
    """An untracked batch failed after changing the state; the state no longer matches the
    log (only a single-writer log, the simulator's, runs untracked batches)."""
