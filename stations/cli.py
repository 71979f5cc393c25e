"""Subcommands of the `stations` package for the `hanoi115` command: `site pmedian|mclp`.

Either on an OR-Library p-median file (`--instance`), or on Hanoi (`--hanoi`): candidates are
the existing stations (fixed), emergency hospitals and a grid of road nodes; demand is the
district population on the road graph, or calls from a CSV (`--demand-calls`, e.g. the
`calls.csv` of `hanoi115 simulate`); costs are the routing engine's travel times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from stations.siting.problem import SitingProblem, SitingResult


def register(sub: Any) -> None:
    """Add this package's subcommands to the `hanoi115` parser."""
    site = sub.add_parser("site", help="station siting: p-median and maximal covering (MCLP)")
    site_sub = site.add_subparsers(dest="site_command", required=True)
    pmed = site_sub.add_parser("pmedian", help="minimise the demand-weighted travel cost")
    _common(pmed)
    pmed.set_defaults(handler=_pmedian)
    mclp = site_sub.add_parser("mclp", help="maximise the demand covered within a radius")
    _common(mclp)
    mclp.add_argument("--radius", type=float, help="coverage radius in the instance's cost unit")
    mclp.add_argument("--radius-min", type=float, default=8.0, help="Hanoi: minutes (default 8)")
    mclp.set_defaults(handler=_mclp)


def _common(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--instance", type=Path, help="an OR-Library p-median file")
    source.add_argument("--hanoi", action="store_true", help="site stations on the road graph")
    parser.add_argument("--p", type=int, help="instance: sites to open (default: the file's p)")
    parser.add_argument("--fixed", default="", help="instance: 1-based sites kept open, e.g. 3,17")
    parser.add_argument("--p-new", type=int, default=3, help="Hanoi: new sites besides fixed")
    parser.add_argument("--stations", help="Hanoi: station set file (default: the core seven)")
    parser.add_argument("--no-fix-stations", action="store_true", help="Hanoi: may move them")
    parser.add_argument("--hour", type=float, default=18.0, help="Hanoi: departure hour, local")
    parser.add_argument("--date", default="2026-11-23", help="Hanoi: departure day (congestion)")
    parser.add_argument("--grid-m", type=float, default=1000.0, help="Hanoi: candidate grid (m)")
    parser.add_argument("--demand-cell-m", type=float, default=300.0, help="Hanoi: demand pool")
    parser.add_argument(
        "--demand-calls",
        type=Path,
        metavar="CSV",
        help="Hanoi: demand from calls (lon, lat, optional weight), e.g. a simulate calls.csv; "
        "only served calls count unless --all-calls (default: district population)",
    )
    parser.add_argument(
        "--all-calls", action="store_true", help="with --demand-calls: keep unserved calls too"
    )
    parser.add_argument("--graph-dir", type=Path, help="compiled graph (default: settings)")
    parser.add_argument("--out", type=Path, help="Hanoi: write chosen sites as GeoJSON here")
    parser.add_argument("--method", choices=("auto", "exact", "heuristic"), default="auto")
    parser.add_argument(
        "--time-limit", type=float, default=7.0, help="s: heuristic CPU, MILP wall (default 7)"
    )
    parser.add_argument("--seed", type=int, default=0, help="heuristic seed (default 0)")


def _instance_problem(args: argparse.Namespace) -> SitingProblem:
    from stations.siting.orlib import read_orlib

    problem = read_orlib(args.instance)
    fixed = tuple(int(v) - 1 for v in args.fixed.split(",") if v.strip())
    p = args.p if args.p is not None else problem.p
    return SitingProblem(cost=problem.cost, p=p, weights=problem.weights, fixed=fixed)


def _hanoi(args: argparse.Namespace, settings: Any) -> Any:
    from routing.engine import Router
    from routing.places import place_file
    from stations.coverage import local_time_s
    from stations.loaders import load_hospitals, load_stations
    from stations.siting.hanoi import build_hanoi_siting

    router = Router.load(args.graph_dir or settings.graph_dir)
    stations = load_stations(args.stations or settings.stations_file)
    hospitals = load_hospitals(settings.hospitals_file or place_file(router, "hospitals"))
    at_s = local_time_s(dt.date.fromisoformat(args.date), args.hour)
    return build_hanoi_siting(
        router,
        _demand(args, settings, router),
        p_new=args.p_new,
        stations=stations,
        hospitals=hospitals,
        at_s=at_s,
        grid_m=args.grid_m,
        demand_cell_m=args.demand_cell_m,
        fix_stations=not args.no_fix_stations,
    )


def _demand(args: argparse.Namespace, settings: Any, router: Any) -> Any:
    """The district population on the road nodes, or the calls of `--demand-calls` there;
    a bad calls file ends the command with its reason, not a traceback."""
    from routing.places import place_file
    from stations.loaders import DataError
    from stations.population import node_population
    from stations.siting.hanoi import call_demand, population_demand, read_calls_csv

    if args.demand_calls is None:
        districts = settings.districts_file or place_file(router, "districts")
        return population_demand(node_population(router.node_lonlat, boundaries_file=districts))
    try:
        calls = read_calls_csv(args.demand_calls, all_calls=args.all_calls)
        label = f"simulated calls ({calls.weight.sum():.10g} calls from {args.demand_calls})"
        return call_demand(router, calls, label=label)
    except DataError as exc:
        raise SystemExit(f"hanoi115 site: --demand-calls: {exc}") from exc


def _report(args: argparse.Namespace, result: SitingResult, siting: Any) -> int:
    if siting is None:
        out = result.to_dict()
        out["sites"] = [j + 1 for j in result.sites]  # OR-Library numbering is 1-based
    else:
        out = siting.describe(result)
        if args.out:
            args.out.write_text(json.dumps(siting.geojson(result), ensure_ascii=False))
    print(json.dumps(out, ensure_ascii=False))
    return 0


def _pmedian(args: argparse.Namespace, settings: Any) -> int:
    from stations.siting.solve import solve_pmedian

    siting = _hanoi(args, settings) if args.hanoi else None
    problem = siting.problem if siting is not None else _instance_problem(args)
    result = solve_pmedian(
        problem, method=args.method, time_limit_s=args.time_limit, seed=args.seed
    )
    return _report(args, result, siting)


def _mclp(args: argparse.Namespace, settings: Any) -> int:
    from stations.siting.solve import solve_mclp

    siting = _hanoi(args, settings) if args.hanoi else None
    problem = siting.problem if siting is not None else _instance_problem(args)
    if siting is not None:
        radius = args.radius_min * 60.0
    elif args.radius is None:
        print("--radius is required with --instance")
        return 2
    else:
        radius = args.radius
    result = solve_mclp(
        problem, radius, method=args.method, time_limit_s=args.time_limit, seed=args.seed
    )
    return _report(args, result, siting)
