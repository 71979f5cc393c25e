"""Simulation output files: KPIs as JSON, calls and KPIs as CSV, plots, one HTML comparison."""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dispatch.simulation.results import RunResult
from dispatch.timeline import INTERVALS as INTERVAL_NAMES

CALL_COLUMNS = (
    "replication",
    "arrival_s",
    "priority",
    "district",
    "outcome",
    "queue_wait_s",
    "response_s",
    "no_unit_free",
    "lon",
    "lat",
)
COORD_COLUMNS = frozenset({"lon", "lat"})  # degrees, to 6 decimals (~0.1 m); the rest seconds


def write_calls_csv(runs: Sequence[RunResult], path: Path) -> None:
    """One row per call of every replication (times in seconds from the scenario start, the
    call's place in degrees)."""
    digits = [6 if name in COORD_COLUMNS else 1 for name in CALL_COLUMNS[1:]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CALL_COLUMNS)
        for run in runs:
            columns = [run.calls[name] for name in CALL_COLUMNS[1:]]
            for row in zip(*columns, strict=True):
                cells = (_cell(v, d) for v, d in zip(row, digits, strict=True))
                writer.writerow([run.replication, *cells])


def _cell(value: Any, digits: int) -> Any:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else round(float(value), digits)
    if isinstance(value, np.bool_ | bool):
        return int(value)
    return value


def kpi_rows(kpis: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows (group, key, n, mean, median, p90, shares) of one scenario's response KPIs."""
    rows = [{"group": "all", "key": "all", **kpis["response"]}]
    for group in ("priority", "district"):
        for key, summary in kpis[f"response_by_{group}"].items():
            rows.append({"group": group, "key": key, **summary})
    return [{"scenario": kpis["scenario"], **row} for row in rows]


def write_kpis(kpis: dict[str, Any], out_dir: Path) -> None:
    """`kpis.json` (everything) and `kpis.csv` (response by group)."""
    (out_dir / "kpis.json").write_text(json.dumps(kpis, indent=2, ensure_ascii=False), "utf-8")
    rows = kpi_rows(kpis)
    fields = list(dict.fromkeys(k for row in rows for k in row))
    with (out_dir / "kpis.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def plot_scenarios(
    results: dict[str, list[RunResult]], kpis: dict[str, Any], out_dir: Path
) -> list[str]:
    """Response-time distributions and utilisation by hour; returns the PNG file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in results.items():
        minutes = np.concatenate([r.calls["response_s"] for r in runs]) / 60.0
        minutes = np.sort(minutes[~np.isnan(minutes)])
        if len(minutes):
            ax.plot(minutes, np.arange(1, len(minutes) + 1) / len(minutes), label=name)
    for target in (8, 15):
        ax.axvline(target, color="grey", linestyle=":")
    ax.set(xlabel="response time (min)", ylabel="share of calls reached", xlim=(0, 60))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "response_cdf.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for name in results:
        ax.plot(range(24), kpis[name]["utilisation"]["by_local_hour"], marker="o", label=name)
    ax.set(xlabel="hour of day (Hanoi)", ylabel="mean unit utilisation", ylim=(0, 1))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "utilisation_by_hour.png", dpi=100)
    plt.close(fig)
    return ["response_cdf.png", "utilisation_by_hour.png"]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return html.escape(str(value))


def _table(
    title: str, rows: list[str], columns: dict[str, dict[str, Any]], *, prefix: str = ""
) -> str:
    """Scenarios as columns; `rows` are dotted paths into each scenario's KPIs (shown without
    `prefix`)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        f"<tr><th>{html.escape(row.removeprefix(prefix))}</th>"
        + "".join(f"<td>{_fmt(_dig(col, row))}</td>" for col in columns.values())
        + "</tr>"
        for row in rows
    )
    return f"<h2>{html.escape(title)}</h2><table><tr><th></th>{head}</tr>{body}</table>"


def _dig(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


HEADLINE = [
    "calls",
    "simulated_days",
    "response.mean_min",
    "response.median_min",
    "response.p90_min",
    "response.within_8_min",
    "response.within_15_min",
    "response_mean_ci95_min",
    "queue.no_unit_free_share",
    "queue.mean_wait_s",
    "queue.p90_wait_s",
    "utilisation.mean",
]


def write_html(kpis: dict[str, Any], images: list[str], path: Path, *, extra: str = "") -> None:
    """One page comparing scenarios side by side (columns), with the plots underneath."""
    sections = [_table("Headline", HEADLINE, kpis)]
    for group in ("priority", "district"):
        keys = sorted({k for s in kpis.values() for k in s[f"response_by_{group}"]})
        for stat in ("mean_min", "p90_min", "within_8_min", "within_15_min"):
            rows = [f"response_by_{group}.{k}.{stat}" for k in keys]
            sections.append(
                _table(f"Response by {group}: {stat}", rows, kpis, prefix=f"response_by_{group}.")
            )
    keys = sorted({k for s in kpis.values() for k in s.get("intervals_by_priority_s", {})})
    for stat in ("mean", "p90"):
        rows = [
            f"intervals_by_priority_s.{k}.{name}.{stat}" for k in keys for name in INTERVAL_NAMES
        ]
        title = f"EMS intervals per priority (seconds): {stat}"
        sections.append(_table(title, rows, kpis, prefix="intervals_by_priority_s."))
    pictures = "".join(
        f'<img src="{html.escape(name)}" alt="{html.escape(name)}">' for name in images
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hanoi115 simulation report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}th{{background:#f4f4f4}}
img{{max-width:48%;margin:4px}}</style></head><body>
<h1>hanoi115 simulation report</h1>
<p>Response = call received to first unit on scene (minutes). Scenarios side by side.</p>
{"".join(sections)}{pictures}{extra}</body></html>"""
    path.write_text(page, encoding="utf-8")
