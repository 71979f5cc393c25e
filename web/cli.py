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


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input (a file, a scenario, a setting, a graph), told in one
    line; anything else is a bug and keeps its traceback."""
    from pydantic import ValidationError as SettingsError

    from dispatch.errors import DispatchError
    from dispatch.simulation.errors import SimulationError
    from routing.errors import RoutingError
    from stations.loaders import DataError
    from web.commands import GraphMissing

    files = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)
    return (DispatchError, SimulationError, RoutingError, DataError, GraphMissing, SettingsError,
            *files)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, create settings, run the chosen command; returns the exit code
    (2 with a one-line message on stderr for bad input; `-v` adds the traceback)."""
    from web.settings import Settings

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        settings = Settings()
        result: int = args.handler(args, settings)
    except user_errors() as exc:
        if args.verbose:
            logging.getLogger(__name__).exception("hanoi115 %s failed", args.command)
        text = " ".join(str(exc).split()) or type(exc).__name__
        print(f"hanoi115 {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hanoi115 {args.command}: interrupted", file=sys.stderr)
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
