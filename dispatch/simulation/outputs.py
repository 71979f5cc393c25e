"""Write a comparison of simulated scenarios to a folder: JSON, CSV, plots and one HTML page."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dispatch.simulation.report import (
    plot_scenarios,
    write_calls_csv,
    write_html,
    write_kpis,
)
from dispatch.simulation.runner import ScenarioResult
from dispatch.simulation.world import select_stations

COVERAGE_HOURS = ((8, "08:00 weekday (morning peak)"), (3, "03:00 (free flow)"))


def write_outputs(
    results: Sequence[ScenarioResult], out_dir: Path, *, router: Any | None = None
) -> Path:
    """Everything for `results` under `out_dir`; returns the HTML report's path.

    Per scenario `<name>/kpis.json`, `kpis.csv`, `calls.csv`; at the top `comparison.json`,
    the plots and `report.html`; with a `router`, coverage maps of each station set too.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    by_name = {r.scenario.name: r for r in results}
    for name, result in by_name.items():
        folder = out_dir / name
        folder.mkdir(exist_ok=True)
        write_kpis(result.kpis, folder)
        write_calls_csv(result.runs, folder / "calls.csv")
    kpis = {name: r.kpis for name, r in by_name.items()}
    (out_dir / "comparison.json").write_text(
        json.dumps(kpis, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    images = plot_scenarios({n: r.runs for n, r in by_name.items()}, kpis, out_dir)
    extra = _coverage_section(results, out_dir, router) if router is not None else ""
    page = out_dir / "report.html"
    write_html(kpis, images, page, extra=extra)
    return page


def _coverage_section(results: Sequence[ScenarioResult], out_dir: Path, router: Any) -> str:
    """Coverage maps and shares for each distinct station set of the simulated scenarios."""
    from routing.places import place_file
    from stations.coverage import local_time_s, plot_coverage, station_coverage
    from stations.population import node_population

    people = node_population(router.node_lonlat, boundaries_file=place_file(router, "districts"))
    day = dt.date(2025, 3, 4)  # a Tuesday
    rows, images, seen = [], [], set()
    for result in results:
        stations = select_stations(result.scenario)
        key = tuple(sorted(s.station_id for s in stations))
        if key in seen or result.scenario.fixed_travel_s is not None:
            continue
        seen.add(key)
        for hour, label in COVERAGE_HOURS:
            cov = station_coverage(
                router, stations, at_s=local_time_s(day, hour), population=people
            )
            name = f"coverage_{result.scenario.name}_{hour:02d}h.png"
            plot_coverage(cov, router.node_lonlat, stations, out_dir / name)
            images.append(name)
            rows.append(
                f"<tr><th>{html.escape(result.scenario.name)}</th><td>{html.escape(label)}</td>"
                f"<td>{cov.share_within(8):.1%}</td><td>{cov.share_within(15):.1%}</td></tr>"
            )
    if not rows:
        return ""
    pictures = "".join(f'<img src="{html.escape(n)}" alt="{html.escape(n)}">' for n in images)
    return (
        "<h2>Coverage of the station sets (people within reach of the nearest station, "
        "travel time only)</h2><table><tr><th>station set of</th><th>departure</th>"
        "<th>within 8 min</th><th>within 15 min</th></tr>" + "".join(rows) + "</table>" + pictures
    )
