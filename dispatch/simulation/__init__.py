"""The planners' discrete-event simulator: the live dispatch service on a virtual clock.

Modules: `scenario` (data/scenarios/*.toml), `demand` (seeded calls), `engine` (the event
loop driving `dispatch.service`), `runner` (replications, processes), `results` (KPIs),
`report`/`outputs` (files), `planner` (what the planner web page calls), `cli`.
"""
