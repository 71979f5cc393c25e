"""Dispatch: calls, units, status machine, assignment policy, event log, simulator."""
