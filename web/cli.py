"""The `hanoi115` console command: one entry point, subcommands registered by each package."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Collect the subcommands of every package into one parser."""
    from dispatch import cli as dispatch_cli
    from routing import cli as routing_cli
    from stations import cli as stations_cli
    from web import commands as web_commands

    parser = argparse.ArgumentParser(prog="hanoi115", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (routing_cli, dispatch_cli, stations_cli, web_commands):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, create settings, run the chosen command; returns the exit code."""
    from web.settings import Settings

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings = Settings()
    result: int = args.handler(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
