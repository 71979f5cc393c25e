"""Named random streams split from one master seed, so every purpose draws its own numbers."""

from __future__ import annotations

import hashlib

import numpy as np

STREAM_NAMES = (
    "arrivals",
    "locations",
    "priorities",
    "outcomes",
    "processing",
    "turnout",
    "on_scene",
    "handover",
    "transport",
    "cancel_delay",
)


def stream_key(name: str) -> int:
    """A stable 32-bit key for a stream name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def stream(seed: int, name: str, *, replication: int = 0) -> np.random.Generator:
    """The generator for one purpose in one replication of a scenario seeded with `seed`.

    The same (seed, name, replication) always gives the same numbers, whatever else the
    scenario draws: adding a stream or changing the station set never shifts the calls.
    """
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(replication, stream_key(name)))
    return np.random.Generator(np.random.PCG64(sequence))
