"""Erlang C (M/M/c) queue formulas: the yardstick for the simulator's honesty check."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arriving call waits, for `servers` units and load a = lambda / mu.

    Computed through the Erlang B recursion, which stays stable for large `servers`.
    Raises ValueError when the queue is unstable (a >= c).
    """
    if servers < 1:
        raise ValueError("servers must be at least 1")
    if offered_load < 0 or offered_load >= servers:
        raise ValueError(f"unstable or invalid load {offered_load} for {servers} servers")
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    rho = offered_load / servers
    return blocking / (1.0 - rho + rho * blocking)


def mean_wait_s(servers: int, arrival_rate_per_s: float, mean_service_s: float) -> float:
    """Mean time in queue (seconds) of all calls in an M/M/c queue."""
    load = arrival_rate_per_s * mean_service_s
    p_wait = erlang_c(servers, load)
    return p_wait * mean_service_s / (servers - load)


def wait_exceeds(
    servers: int, arrival_rate_per_s: float, mean_service_s: float, wait_s: float
) -> float:
    """P(queue wait > wait_s) in an M/M/c queue (first come, first served)."""
    load = arrival_rate_per_s * mean_service_s
    p_wait = erlang_c(servers, load)
    return p_wait * math.exp(-(servers - load) * wait_s / mean_service_s)
