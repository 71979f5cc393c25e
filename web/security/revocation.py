"""Token revocation: a token is good while its user is active and still at the token
generation the token was issued at.

Each process remembers (active, generation) per user for `recheck_s` seconds, so disabling a
user or "sign out everywhere" reaches every server process within that time, at the cost of
about one small read per period rather than one per request: when a user's entry has to be
read, every entry that would expire within the next period is read with it, in one query,
so the many crews' open sockets of a process share their reads. While the database cannot be
reached, the last status read is used (nobody can disable a user then either); a user this
process has never read is refused with 503 until it returns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dispatch.db.errors import StorageUnavailable
from web.security.accounts import AuthError, Principal, UserStatus, UserStore, decode_token

log = logging.getLogger(__name__)
REVOKED = "token revoked: sign in again"
KEEP_IDLE_S = 60.0  # a user not asked about for this long is no longer read ahead
DISABLED = "account disabled"


@dataclass(frozen=True, slots=True)
class _Seen:
    status: UserStatus | None  # None: no such user
    until_s: float  # monotonic time after which it is read again


class Revocation:
    """Checks tokens against their user's status, read at most once per `recheck_s`."""

    def __init__(
        self,
        users: UserStore,
        *,
        recheck_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.recheck_s = recheck_s
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._used: dict[str, float] = {}  # user -> when its status was last asked for
        self._reading: asyncio.Task[None] | None = None  # the read in flight, shared
        self.reads = 0  # queries made (read by tests)

    async def check(self, principal: Principal) -> Principal:
        """`principal` if its token still holds; AuthError (account disabled, token revoked)."""
        status = await self._status(principal)
        if status is None:
            raise AuthError(REVOKED)
        if not status.active:
            raise AuthError(DISABLED)
        if status.generation != principal.generation:
            raise AuthError(REVOKED)
        return principal

    def remember(self, username: str, status: UserStatus | None) -> None:
        """Record a status just read or written by this process."""
        self._seen[username] = _Seen(status, self._clock() + self.recheck_s)

    def forget(self, username: str) -> None:
        """Read the user's status again on its next request."""
        self._seen.pop(username, None)

    async def _status(self, principal: Principal) -> UserStatus | None:
        name = principal.username
        self._used[name] = self._clock()
        seen = self._seen.get(name)
        if seen is not None and self._clock() < seen.until_s and not _newer(principal, seen):
            return seen.status
        try:
            await self._read(principal)
        except StorageUnavailable:
            if seen is None:
                raise
            log.warning("user status of %s unavailable: using the last one", name)
            return seen.status
        return self._seen[name].status

    async def _read(self, principal: Principal) -> None:
        """Read the principal's user and every entry expiring within a period, in one query.
        A caller arriving while such a read runs waits for it, and reads again only if that
        left its user out or older than its token (a sign-in during the read)."""
        name = principal.username
        running = self._reading
        if running is not None:
            await asyncio.shield(running)
            seen = self._seen.get(name)
            if seen is not None and self._clock() < seen.until_s and not _newer(principal, seen):
                return
        now = self._clock()
        idle = now - max(KEEP_IDLE_S, 10 * self.recheck_s)
        for gone in [n for n, used in self._used.items() if used < idle]:  # signed out, gone
            self._used.pop(gone)
            self._seen.pop(gone, None)
        horizon = now + self.recheck_s
        names = {name} | {
            n for n in self._used if (s := self._seen.get(n)) and s.until_s <= horizon
        }
        task = self._reading = asyncio.ensure_future(self._read_now(sorted(names)))
        try:
            await asyncio.shield(task)
        finally:
            if self._reading is task:
                self._reading = None

    async def _read_now(self, names: list[str]) -> None:
        self.reads += 1
        found = await asyncio.to_thread(self.users.statuses, names)
        for name in names:
            self.remember(name, found.get(name))


def _newer(principal: Principal, seen: _Seen) -> bool:
    """A token newer than what this process saw: the user signed in again elsewhere."""
    return seen.status is not None and principal.generation > seen.status.generation


async def verify_token(app: Any, token: str) -> Principal:
    """The caller a bearer token names, if it is signed, unexpired and not revoked.

    AuthError for a bad or revoked token; StorageUnavailable when the user's status cannot
    be read (the database is down and this process has never seen the user).
    """
    security = getattr(app.state, "security", None)
    if security is None:
        raise StorageUnavailable("the service is starting")
    principal = decode_token(token, secret_key=security.secret_key)
    revocation: Revocation = security.revocation
    return await revocation.check(principal)
