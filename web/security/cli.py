"""`hanoi115 user create|passwd|role|disable|enable|list`: the admin command for users.

A new password, role or unit, and disabling a user, revoke the user's tokens on every server
process within `H115_TOKEN_RECHECK_S` (open sockets are closed too).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from web.security.accounts import AccountError, Role, UserStore

if TYPE_CHECKING:
    from web.settings import Settings


def register(sub: Any) -> None:
    """Add `user` (create, passwd, role, disable, enable, list) to the `hanoi115` parser."""
    parser = sub.add_parser("user", help="manage users (roles: dispatcher, crew, planner, admin)")
    verbs = parser.add_subparsers(dest="user_command", required=True)
    create = verbs.add_parser("create", help="add a user")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--unit", default=None, help="the unit a crew user is bound to")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(handler=create_user)
    passwd = verbs.add_parser("passwd", help="set a user's password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=set_password)
    role = verbs.add_parser("role", help="give a user another role or unit (signs it out)")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=[r.value for r in Role])
    role.add_argument("--unit", default=None, help="the unit a crew user is bound to")
    role.set_defaults(handler=set_role)
    for verb, help_text in (("disable", "refuse a user at once"), ("enable", "let a user in")):
        switch = verbs.add_parser(verb, help=f"{help_text} (signs it out everywhere)")
        switch.add_argument("username")
        switch.set_defaults(handler=set_active, active=verb == "enable")
    listing = verbs.add_parser("list", help="list users and roles")
    listing.set_defaults(handler=list_users)


def _store(settings: Settings) -> UserStore:
    from dispatch.db.engine import make_engine
    from dispatch.db.migrate import upgrade

    upgrade(settings.database_url)  # the users table comes with the schema
    return UserStore(make_engine(settings.database_url))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise AccountError("the two passwords differ")
    return first


def _account_change(verb: str, change: Callable[[], str]) -> int:
    """Run one change to an account: print what it did, or why it failed (exit status 2)."""
    try:
        message = change()
    except AccountError as exc:
        print(f"hanoi115 user {verb}: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


def create_user(args: argparse.Namespace, settings: Settings) -> int:
    """`hanoi115 user create NAME --role R [--unit U] [--password-stdin]`."""

    def change() -> str:
        store = _store(settings)
        user = store.create(args.username, _password(args), role=args.role, unit_id=args.unit)
        where = f" (unit {user.unit_id})" if user.unit_id else ""
        return f"created {user.role.value} {user.username}{where}"

    return _account_change("create", change)


def set_password(args: argparse.Namespace, settings: Settings) -> int:
    """`hanoi115 user passwd NAME [--password-stdin]`."""

    def change() -> str:
        _store(settings).set_password(args.username, _password(args))
        return f"password of {args.username} changed; signed out everywhere"

    return _account_change("passwd", change)


def set_role(args: argparse.Namespace, settings: Settings) -> int:
    """`hanoi115 user role NAME --role R [--unit U]`."""

    def change() -> str:
        _store(settings).set_role(args.username, args.role, args.unit)
        where = f" (unit {args.unit})" if args.unit else ""
        return f"{args.username} is now {args.role}{where}; signed out everywhere"

    return _account_change("role", change)


def set_active(args: argparse.Namespace, settings: Settings) -> int:
    """`hanoi115 user disable NAME`, `hanoi115 user enable NAME`."""
    verb = "enable" if args.active else "disable"

    def change() -> str:
        _store(settings).set_active(args.username, args.active)
        return f"{args.username} {verb}d; signed out everywhere"

    return _account_change(verb, change)


def list_users(args: argparse.Namespace, settings: Settings) -> int:
    """`hanoi115 user list`."""
    for row in _store(settings).list():
        unit = f" unit={row['unit_id']}" if row["unit_id"] else ""
        state = "" if row["active"] else " (disabled)"
        print(f"{row['username']}\t{row['role']}{unit}{state}")
    return 0
