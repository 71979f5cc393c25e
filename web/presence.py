"""Crew device presence: last heartbeat per unit, and who counts as disconnected."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web import protocol


@dataclass
class DeviceState:
    """What the hub knows of one crew device."""

    last_seen_s: float
    connected: bool


class Presence:
    """Heartbeat bookkeeping; a device silent for `timeout_s` seconds is disconnected."""

    def __init__(self, *, timeout_s: float, clock: Callable[[], float]) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self._devices: dict[str, DeviceState] = {}

    def beat(self, unit_id: str) -> bool:
        """Record a heartbeat; True when this (re)connects the device (worth announcing)."""
        device = self._devices.get(unit_id)
        now = self._clock()
        if device is None:
            self._devices[unit_id] = DeviceState(last_seen_s=now, connected=True)
            return True
        device.last_seen_s = now
        if device.connected:
            return False
        device.connected = True
        return True

    def expire(self) -> list[str]:
        """Mark devices silent for longer than the timeout; returns the newly disconnected."""
        now = self._clock()
        lost = []
        for unit_id, device in self._devices.items():
            if device.connected and now - device.last_seen_s > self.timeout_s:
                device.connected = False
                lost.append(unit_id)
        return lost

    def is_connected(self, unit_id: str) -> bool:
        device = self._devices.get(unit_id)
        return device is not None and device.connected

    def message(self, unit_id: str) -> dict[str, Any]:
        """The presence message announcing this device's current state."""
        device = self._devices[unit_id]
        return protocol.presence(
            unit_id=unit_id, connected=device.connected, last_seen_s=device.last_seen_s
        )

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Every known device, for snapshots."""
        return {
            unit_id: {"connected": d.connected, "last_seen_s": d.last_seen_s}
            for unit_id, d in self._devices.items()
        }
