"""Routing: build Hanoi's road graph from OpenStreetMap once, then query it fast.

Build side (the only code that reads OSM): `build` (OSM -> prepared networkx graph),
`compile` (graph + `profile` -> arrays), `artifact` (the on-disk format, documented there),
`cache` (build once per input/profile/code version). Profile data: `profiles/ambulance.toml`.

Query side: `engine.Router` (snap, ETAs, routes, coverage, isochrones, street search, map
drawing) on `snapping`, `routes`, `coverage`, `areas`, `streets` and `geometry`.
Errors: `errors`. Command line: `cli` (`hanoi115 graph build|info`).
"""
