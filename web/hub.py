"""The websocket hub: one fan-out for dispatchers, crews and planners, in event-log order.

Every committed domain event reaches the hub (from any thread) with its global `seq`, one
hand-off per commit. The hub delivers events in strict seq order (a late event is waited for,
then fetched from the database); the events drained together (a commit's, e.g. a group of AVL
fixes) go to each client as one frame, a JSON array, so a group costs one send per client.
It keeps the most recent events in a bounded ring and serves reconnecting clients exactly the
events they missed: from the ring, else from the database, else a fresh snapshot. Advice
about an event (`after_seq`) waits for it. Crew devices send heartbeats; a device silent for
longer than the timeout is announced as disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from web import protocol
from web.presence import Presence
from web.security.policy import PLANNER_ONLY, crew_may_see, crew_snapshot

log = logging.getLogger(__name__)

Message = dict[str, Any]
SnapshotFn = Callable[[], tuple[int, Message]]
ReplayFn = Callable[[int, int], list[Message]]
MessageHandler = Callable[["Client", Message], Awaitable[Message | None]]


@dataclass(eq=False)
class Client:
    """One websocket connection and its outgoing queue of (seq or None, text) frames."""

    client_id: str
    role: str
    unit_id: str | None
    websocket: WebSocket
    queue: asyncio.Queue[tuple[int | None, str]]
    sent_seq: int = 0
    lagging: bool = False
    sender: asyncio.Task[None] | None = field(default=None, repr=False)

    def wants(self, message: Message) -> bool:
        """Crews get only what concerns their own unit (web.security); planner jobs go to
        planner sockets only; others everything."""
        if message.get("type") in PLANNER_ONLY:
            return self.role == "planner"
        return self.role != "crew" or crew_may_see(self.unit_id, message)


class Hub:
    """Fan-out of events and presence to websocket clients, with resume by sequence number."""

    def __init__(
        self,
        *,
        snapshot_fn: SnapshotFn,
        replay_fn: ReplayFn,
        ring_size: int = 5000,
        max_replay: int = 20000,
        queue_max: int = 20000,
        heartbeat_timeout_s: float = 90.0,
        gap_wait_s: float = 0.25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshot_fn = snapshot_fn
        self._replay_fn = replay_fn
        self._ring: deque[tuple[int, str, Message]] = deque(maxlen=ring_size)
        self._max_replay = max_replay
        self._queue_max = queue_max
        self._gap_wait_s = gap_wait_s
        self._clock = clock
        self.presence = Presence(timeout_s=heartbeat_timeout_s, clock=clock)
        self._clients: set[Client] = set()
        self._pending: dict[int, Message] = {}
        self._held: list[Message] = []  # seq-less messages waiting for their `after_seq`
        self._last_seq = 0
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._gap_task: asyncio.Task[None] | None = None
        self.on_message: MessageHandler | None = None

    # ----- lifecycle -------------------------------------------------------------------------
    async def start(self, *, last_seq: int) -> None:
        """Start after the events up to `last_seq` (already committed before the hub existed)."""
        self._loop = asyncio.get_running_loop()
        self._last_seq = last_seq
        self._tasks.append(asyncio.create_task(self._watch_heartbeats()))

    async def stop(self) -> None:
        """Close every client and stop the background tasks."""
        for task in self._tasks:
            task.cancel()
        for client in list(self._clients):
            await self._close(client, protocol.CLOSE_SHUTDOWN, "server shutting down")
        self._tasks.clear()

    @property
    def last_seq(self) -> int:
        """The seq of the last event delivered to clients."""
        return self._last_seq

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # ----- publishing -------------------------------------------------------------------------
    def publish_threadsafe(self, message: Message) -> None:
        """Hand an event (or presence) to the hub from any thread, e.g. a service subscriber."""
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self.publish, message)

    def publish_many_threadsafe(self, messages: list[Message]) -> None:
        """Hand one commit's events (and advice about them) to the hub in one loop callback,
        so every client gets them in one frame."""
        if self._loop is None or self._loop.is_closed() or not messages:
            return
        self._loop.call_soon_threadsafe(self.publish_many, messages)

    def publish(self, message: Message) -> None:
        """Deliver an event in seq order; messages without a seq are delivered at once (or,
        with an `after_seq`, right after that event)."""
        self.publish_many([message])

    def publish_many(self, messages: list[Message]) -> None:
        """`publish` for several messages; the events among them go out as one frame."""
        for message in messages:
            seq = message.get("seq")
            if seq is None:
                after = message.get("after_seq")
                if isinstance(after, int) and after > self._last_seq:
                    self._held.append(message)  # advice about an event not delivered yet
                else:
                    self._fan_out(None, protocol.dumps(message), message)
            elif seq > self._last_seq:  # else already delivered: a duplicate
                self._pending[seq] = message
        self._drain_pending()
        if self._pending and (self._gap_task is None or self._gap_task.done()):
            self._gap_task = asyncio.get_running_loop().create_task(self._fill_gap())

    def _drain_pending(self) -> None:
        group: list[tuple[int, str, Message]] = []
        while (nxt := self._pending.pop(self._last_seq + 1, None)) is not None:
            self._last_seq += 1
            entry = (self._last_seq, protocol.dumps(nxt), nxt)
            self._ring.append(entry)
            group.append(entry)
        if len(group) == 1:
            self._fan_out(*group[0])
        elif group:
            self._fan_out_group(group)
        if self._held and group:
            ready = [m for m in self._held if m["after_seq"] <= self._last_seq]
            self._held = [m for m in self._held if m["after_seq"] > self._last_seq]
            for message in ready:
                self._fan_out(None, protocol.dumps(message), message)

    def _fan_out_group(self, group: list[tuple[int, str, Message]]) -> None:
        """Consecutive events as one JSON array frame per client (filtered for crews; the
        frame of every other role is built once per role)."""
        last_seq = group[-1][0]
        frames: dict[str, str] = {}
        for client in list(self._clients):
            if client.lagging:
                continue
            frame = frames.get(client.role) if client.role != "crew" else None
            if frame is None:
                texts = [text for _, text, message in group if client.wants(message)]
                if not texts:
                    continue
                frame = "[" + ",".join(texts) + "]"
                if client.role != "crew":
                    frames[client.role] = frame
            self._put(client, last_seq, frame)

    async def _fill_gap(self) -> None:
        """A later event arrived before an earlier one: wait briefly, then read the log."""
        await asyncio.sleep(self._gap_wait_s)
        while self._pending:
            missing_from = self._last_seq
            upto = min(self._pending)
            found = await asyncio.to_thread(self._replay_fn, missing_from, upto - missing_from)
            for message in found:
                if message["seq"] > self._last_seq:
                    self._pending.setdefault(message["seq"], message)
            self._drain_pending()
            if self._pending and self._last_seq == missing_from:
                # The log has no such events (not broadcast): skip to the next one we hold.
                log.warning("event seq %d..%d not in the log; skipping", missing_from + 1, upto - 1)
                self._last_seq = min(self._pending) - 1
                self._drain_pending()

    def _fan_out(self, seq: int | None, text: str, message: Message) -> None:
        for client in list(self._clients):
            if client.lagging or not client.wants(message):
                continue
            self._put(client, seq, text)

    def _put(self, client: Client, seq: int | None, text: str) -> None:
        try:
            client.queue.put_nowait((seq, text))
        except asyncio.QueueFull:
            client.lagging = True
            asyncio.get_running_loop().create_task(
                self._close(client, protocol.CLOSE_LAGGING, "too far behind: resume")
            )

    # ----- connections ------------------------------------------------------------------------
    async def serve(
        self, websocket: WebSocket, *, role: str, unit_id: str | None, last_seq: int | None
    ) -> None:
        """Run one accepted connection until it closes."""
        client = Client(
            client_id=f"c{next(self._ids)}",
            role=role,
            unit_id=unit_id,
            websocket=websocket,
            queue=asyncio.Queue(maxsize=self._queue_max),
        )
        self._clients.add(client)  # before catching up, so nothing published now is lost
        try:
            await self._send(client, self._hello(client))
            await self._catch_up(client, last_seq)
            client.sender = asyncio.create_task(self._send_loop(client))
            await self._receive_loop(client)
        except (WebSocketDisconnect, RuntimeError, ConnectionError):
            pass
        finally:
            self._clients.discard(client)
            if client.sender is not None:
                client.sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await client.sender

    def _hello(self, client: Client) -> Message:
        return protocol.hello(
            client_id=client.client_id,
            role=client.role,
            server_time_s=self._clock(),
            heartbeat_s=self.presence.timeout_s,
        )

    async def _catch_up(self, client: Client, last_seq: int | None) -> None:
        """Send the events after `last_seq` (ring, then database), or a snapshot."""
        head = self._last_seq
        if last_seq is not None and 0 <= last_seq <= head:
            missed = await self._missed_since(last_seq, head)
            if missed is not None:
                await self._send(
                    client, protocol.resumed(from_seq=last_seq, to_seq=head, count=len(missed))
                )
                frames = [t for s, t, m in missed if client.wants(m)]
                for start in range(0, len(frames), 500):
                    await client.websocket.send_text(
                        "[" + ",".join(frames[start : start + 500]) + "]"
                    )
                client.sent_seq = head
                return
        reason = "connect" if last_seq is None else "too_far_behind"
        seq, state = await asyncio.to_thread(self._snapshot_fn)
        state["presence"] = self.presence.as_dict()
        if client.role == "crew":
            state = crew_snapshot(client.unit_id, state)
        client.sent_seq = seq
        await self._send(client, protocol.snapshot(seq=seq, state=state, reason=reason))

    async def _missed_since(
        self, last_seq: int, head: int
    ) -> list[tuple[int, str, Message]] | None:
        if last_seq == head:
            return []
        if self._ring and self._ring[0][0] <= last_seq + 1:
            return [entry for entry in self._ring if last_seq < entry[0] <= head]
        if head - last_seq > self._max_replay:
            return None
        found = await asyncio.to_thread(self._replay_fn, last_seq, head - last_seq)
        entries = [(m["seq"], protocol.dumps(m), m) for m in found if last_seq < m["seq"] <= head]
        if [s for s, _, _ in entries] != list(range(last_seq + 1, last_seq + 1 + len(entries))):
            return None  # the log cannot fill the gap exactly: a snapshot is the honest answer
        return entries

    async def _send_loop(self, client: Client) -> None:
        """Send queued frames in order, skipping what the catch-up already sent; batch backlogs."""
        queue = client.queue
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < 500:
                batch.append(queue.get_nowait())
            texts = []
            for seq, text in batch:
                if seq is not None:
                    if seq <= client.sent_seq:
                        continue
                    client.sent_seq = seq
                texts.append(text)
            if len(texts) == 1:
                await client.websocket.send_text(texts[0])
            elif texts:  # a queued group is itself an array: splice its items in
                items = [t[1:-1] if t.startswith("[") else t for t in texts]
                await client.websocket.send_text("[" + ",".join(items) + "]")

    async def _receive_loop(self, client: Client) -> None:
        while True:
            try:
                text = await client.websocket.receive_text()
            except KeyError:  # a binary frame: the protocol is JSON text (web.security tests)
                await self._close(client, 1003, "binary frames are not supported")
                return
            reply = await self._handle_frame(client, text)
            if reply is not None:
                await client.queue.put((None, protocol.dumps(reply)))

    async def _handle_frame(self, client: Client, text: str) -> Message | None:
        try:
            message = json.loads(text)
        except ValueError:
            return protocol.error(code="bad_json", message="frame is not JSON")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return protocol.error(code="bad_message", message="a message is an object with type")
        kind = message["type"]
        device_time = message.get("device_time_s")
        device_time_s = float(device_time) if isinstance(device_time, int | float) else None
        if kind in ("heartbeat", "ping"):
            if kind == "heartbeat" and client.role == "crew" and client.unit_id:
                self.heartbeat(client.unit_id)
            return protocol.pong(server_time_s=self._clock(), device_time_s=device_time_s)
        if self.on_message is not None:
            return await self.on_message(client, message)
        return protocol.error(code="unknown_type", message=f"unknown message type {kind!r}")

    async def _send(self, client: Client, message: Message) -> None:
        await client.websocket.send_text(protocol.dumps(message))

    async def _close(self, client: Client, code: int, reason: str) -> None:
        self._clients.discard(client)
        if client.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await client.websocket.close(code=code, reason=reason)

    # ----- presence ----------------------------------------------------------------------------
    def heartbeat(self, unit_id: str) -> None:
        """Record a crew device heartbeat; announce it if the device was disconnected."""
        if self.presence.beat(unit_id):
            self.publish(self.presence.message(unit_id))

    async def _watch_heartbeats(self) -> None:
        period_s = max(0.05, min(1.0, self.presence.timeout_s / 4))
        while True:
            await asyncio.sleep(period_s)
            for unit_id in self.presence.expire():
                self.publish(self.presence.message(unit_id))
