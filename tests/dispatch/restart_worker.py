"""A dispatch process for the kill-and-restart tests (run with `python -m`; not a test module).

Usage: python -m tests.dispatch.restart_worker URL SEED STEPS MODE

On start it rebuilds its state from the event log and prints `START <seq> <digest>`; then
it appends STEPS legal batches, printing `ACK <seq> <digest>` after each commit. In `step`
mode it waits for a line on stdin before each next step (so a kill lands between
operations); in `burst` mode it runs flat out (so a kill lands anywhere).
"""

from __future__ import annotations

import random
import sys

from dispatch import transitions
from dispatch.repository import SqlRepository
from tests.dispatch.persistence_driver import digest, next_batch, register_units

T0 = 1_700_000_000.0


def main(url: str, seed: int, steps: int, mode: str) -> int:
    repo = SqlRepository.open(url)
    if repo.last_seq() == 0:
        setup = register_units(4)
        repo.append(setup.events, expected_versions=setup.expected_versions)
    state = repo.replay_state()
    print(f"START {state.last_seq} {digest(state)}", flush=True)
    rng = random.Random(seed * 1_000_003 + state.last_seq)
    for _ in range(steps):
        if mode == "step" and not sys.stdin.readline():
            break
        batch = next_batch(state, rng, T0 + state.last_seq)
        stored = repo.append(batch.events, expected_versions=batch.expected_versions)
        state = transitions.replay(stored, state)
        print(f"ACK {state.last_seq} {digest(state)}", flush=True)
    repo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
