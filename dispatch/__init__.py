"""Dispatch: calls, units, status machine, assignment policy, event log, simulator."""

from dispatch import native

native.install()  # before any compiled module loads: stale or unwanted builds run interpreted
