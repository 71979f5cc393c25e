"""Hub ordering in-process: late events are waited for, missing ones read from the log."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from web import protocol
from web.hub import Client, Hub


def event(seq: int) -> dict[str, Any]:
    return protocol.event(seq=seq, kind="call_created", at_s=float(seq), data={"call_id": str(seq)})


def make_hub(log: list[dict[str, Any]]) -> tuple[Hub, Client]:
    hub = Hub(
        snapshot_fn=lambda: (0, {}),
        replay_fn=lambda after, limit: [m for m in log if m["seq"] > after][:limit],
        ring_size=3,
        gap_wait_s=0.05,
    )
    client = Client(client_id="c", role="dispatcher", unit_id=None, websocket=None,  # type: ignore[arg-type]
                    queue=asyncio.Queue())  # fmt: skip
    hub._clients.add(client)
    return hub, client


def frames(client: Client) -> list[list[dict[str, Any]]]:
    """The client's queued frames, each as its list of messages."""
    out = []
    while not client.queue.empty():
        data = json.loads(client.queue.get_nowait()[1])
        out.append(data if isinstance(data, list) else [data])
    return out


def seqs(client: Client) -> list[int | None]:
    return [m.get("seq") for frame in frames(client) for m in frame]


def test_out_of_order_events_are_delivered_in_order() -> None:
    async def scenario() -> list[int | None]:
        hub, client = make_hub([])
        await hub.start(last_seq=0)
        for seq in (1, 3, 2, 2, 4):  # 3 before 2, and 2 twice
            hub.publish(event(seq))
        return seqs(client)

    assert asyncio.run(scenario()) == [1, 2, 3, 4]


def test_a_missing_event_is_read_from_the_log() -> None:
    log = [event(s) for s in range(1, 6)]

    async def scenario() -> tuple[list[int | None], int]:
        hub, client = make_hub(log)
        await hub.start(last_seq=0)
        hub.publish(log[0])
        hub.publish(log[2])  # seq 2 never reaches the hub directly
        await asyncio.sleep(0.3)
        return seqs(client), hub.last_seq

    delivered, last = asyncio.run(scenario())
    assert delivered == [1, 2, 3] and last == 3


def test_presence_messages_bypass_the_sequence() -> None:
    async def scenario() -> list[int | None]:
        hub, client = make_hub([])
        await hub.start(last_seq=0)
        hub.publish(event(2))  # waits for 1
        hub.publish(protocol.presence(unit_id="u", connected=False, last_seen_s=1.0))
        hub.publish(event(1))
        return seqs(client)

    assert asyncio.run(scenario()) == [None, 1, 2]


def test_a_commits_events_go_out_as_one_frame_per_client() -> None:
    async def scenario() -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
        hub, desk = make_hub([])
        crew = Client(client_id="k", role="crew", unit_id="u2", websocket=None,  # type: ignore[arg-type]
                      queue=asyncio.Queue())  # fmt: skip
        hub._clients.add(crew)
        await hub.start(last_seq=0)
        group = [
            protocol.event(
                seq=s, kind="unit_position", at_s=1.0, data={"unit_id": f"u{s}"}, unit_id=f"u{s}"
            )
            for s in (1, 2, 3)
        ]
        hub.publish_many(group)
        return frames(desk), frames(crew)

    desk, crew = asyncio.run(scenario())
    assert [[m["seq"] for m in f] for f in desk] == [[1, 2, 3]]
    assert [[m["seq"] for m in f] for f in crew] == [[2]]  # a crew sees its own unit only


def test_advice_waits_for_the_event_it_follows() -> None:
    async def scenario() -> list[list[Any]]:
        hub, client = make_hub([])
        await hub.start(last_seq=0)
        advice = {"v": 1, "type": "recommendation", "call_id": "2", "after_seq": 2, "units": []}
        hub.publish(event(1))
        hub.publish(advice)  # its call's event (seq 2) has not been delivered yet
        hub.publish(event(2))
        return [[m.get("seq") or m["type"] for m in f] for f in frames(client)]

    assert asyncio.run(scenario()) == [[1], [2], ["recommendation"]]
