"""Sliding-window limits on login attempts, per (username, client address) and per address."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """At most `limit` events per key in any `window_s` seconds."""

    def __init__(
        self, *, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count an attempt; returns 0 if allowed, else the seconds until one will be."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.001, hits[0] + self.window_s - now)
            hits.append(now)
            if len(self._hits) > 100_000:  # bounded memory under a flood of distinct keys
                self._purge(now)
            return 0.0

    def _purge(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
            del self._hits[key]


class LoginLimiter:
    """Login attempts: per user and address (guessing one password) and per address (spraying)."""

    def __init__(
        self,
        *,
        per_user_ip: int = 5,
        per_ip: int = 30,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user_ip = SlidingWindow(limit=per_user_ip, window_s=window_s, clock=clock)
        self._ip = SlidingWindow(limit=per_ip, window_s=window_s, clock=clock)

    def check(self, username: str, ip: str) -> float:
        """Count an attempt; 0 when it may proceed, else seconds to wait (answer 429)."""
        wait_s = self._ip.hit(ip)
        if wait_s:
            return wait_s
        return self._user_ip.hit(f"{username.lower()}\x00{ip}")
