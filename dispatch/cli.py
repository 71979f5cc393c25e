"""Subcommands of the `dispatch` package for the `hanoi115` command (`db upgrade`, `db current`)."""

from __future__ import annotations

import argparse
from typing import Any

from dispatch.simulation.cli import register_simulate


def register(sub: Any) -> None:
    """Add this package's subcommands to the `hanoi115` parser."""
    db = sub.add_parser("db", help="the dispatch database (event log, read models)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="create or migrate the schema to the newest revision")
    up.add_argument("--url", help="database URL (default: settings.database_url)")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(handler=_db_upgrade)
    cur = db_sub.add_parser("current", help="print the schema revision of the database")
    cur.add_argument("--url", help="database URL (default: settings.database_url)")
    cur.set_defaults(handler=_db_current)
    register_simulate(sub)


def _db_upgrade(args: argparse.Namespace, settings: Any) -> int:
    from dispatch.db.migrate import upgrade

    url = args.url or settings.database_url
    reached = upgrade(url, revision=args.revision)
    print(f"database at revision {reached}")
    return 0


def _db_current(args: argparse.Namespace, settings: Any) -> int:
    from dispatch.db.engine import make_engine
    from dispatch.db.migrate import current_revision, head_revision

    engine = make_engine(args.url or settings.database_url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    print(f"database at revision {current or 'none'} (newest: {head_revision()})")
    return 0 if current == head_revision() else 1
