"""Users, roles and tokens: argon2 password hashes in the `users` table, JWT bearer tokens.

Tokens are HS256 signed with `settings.secret_key` and expire after `settings.token_ttl_s`.
Each carries its user's token generation (`gen`): disabling a user, a new password, role or
unit, and "sign out everywhere" bump the generation, which revokes every earlier token
(checked by `web.security.revocation`).
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dispatch.db.engine import storage_errors
from dispatch.db.schema import users

TOKEN_ALGORITHM = "HS256"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LEN = 8
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _HASHER.hash("not-a-real-password-used-for-constant-time-misses")


class Role(StrEnum):
    """What a user may do: dispatch, crew one unit, plan, or administer."""

    DISPATCHER = "dispatcher"
    CREW = "crew"
    PLANNER = "planner"
    ADMIN = "admin"


class AuthError(Exception):
    """Missing, malformed, expired or forged credentials (HTTP 401)."""


class AccountError(ValueError):
    """A user cannot be created as asked (bad name, weak password, crew without unit)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request or socket."""

    username: str
    role: Role
    unit_id: str | None = None
    generation: int = 0  # the user's token generation the token was issued at

    @property
    def actor(self) -> str:
        """How the event log names this caller: `dispatcher:dana`, `crew:carl@hq-A1`."""
        where = f"@{self.unit_id}" if self.unit_id else ""
        return f"{self.role.value}:{self.username}{where}"

    def sees_personal_data(self) -> bool:
        """Caller phone and citizen ID: dispatchers and admins only."""
        return self.role in (Role.DISPATCHER, Role.ADMIN)


# The caller of the request being served (set by the security middleware).
current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "h115_principal", default=None
)


def current_actor(default: str = "system") -> str:
    """The actor name of the request being served (for the event log)."""
    principal = current_principal.get()
    return principal.actor if principal is not None else default


def hash_password(password: str) -> str:
    """An argon2id hash (with its own salt and parameters) of `password`."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches `password_hash` (constant-time, never raises)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(
    principal: Principal, *, secret_key: str, ttl_s: float, now_s: float | None = None
) -> str:
    """A signed bearer token for `principal`, valid for `ttl_s` seconds."""
    now = time.time() if now_s is None else now_s
    claims: dict[str, Any] = {
        "sub": principal.username,
        "role": principal.role.value,
        "iat": int(now),
        "exp": int(now + ttl_s),
        "gen": principal.generation,
    }
    if principal.unit_id is not None:
        claims["unit"] = principal.unit_id
    return jwt.encode(claims, secret_key, algorithm=TOKEN_ALGORITHM)


def decode_token(token: str, *, secret_key: str) -> Principal:
    """The principal a token names; AuthError if it is expired, forged or malformed."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["sub", "role", "exp", "iat", "gen"]},
        )
        role = Role(claims["role"])
        generation = claims["gen"]
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired: sign in again") from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise AuthError("invalid token") from exc
    unit = claims.get("unit")
    if role == Role.CREW and not isinstance(unit, str):
        raise AuthError("invalid token: a crew token names its unit")
    if not isinstance(generation, int) or isinstance(generation, bool):
        raise AuthError("invalid token: bad generation")
    return Principal(username=str(claims["sub"]), role=role, unit_id=unit, generation=generation)


@dataclass(frozen=True, slots=True)
class UserStatus:
    """What decides whether a user's tokens are still good."""

    active: bool
    generation: int


class UserStore:
    """The `users` table: create, list and authenticate users."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(
        self, username: str, password: str, *, role: Role | str, unit_id: str | None = None
    ) -> Principal:
        """Add a user (AccountError if the name is taken or the input is unfit)."""
        principal = _check_new_user(username, password, Role(role), unit_id)
        row = {
            "username": username,
            "role": principal.role.value,
            "unit_id": unit_id,
            "password_hash": hash_password(password),
            "active": True,
            "created_at": time.time(),
        }
        try:
            with storage_errors(self.engine.url), self.engine.begin() as conn:
                conn.execute(sa.insert(users), [row])
        except sa.exc.IntegrityError as exc:
            raise AccountError(f"user {username!r} already exists") from exc
        return principal

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password and revoke the user's tokens."""
        if len(password) < MIN_PASSWORD_LEN:
            raise AccountError(f"a password has at least {MIN_PASSWORD_LEN} characters")
        self._change(username, password_hash=hash_password(password))

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable a user; either way the user's earlier tokens are revoked."""
        self._change(username, active=active)

    def set_role(self, username: str, role: Role | str, unit_id: str | None = None) -> None:
        """Give a user another role or unit (a crew: exactly one unit) and revoke its tokens."""
        _check_binding(Role(role), unit_id)
        self._change(username, role=Role(role).value, unit_id=unit_id)

    def revoke_tokens(self, username: str) -> int:
        """Sign a user out everywhere; returns the new token generation."""
        return self._change(username)

    def status(self, username: str) -> UserStatus | None:
        """Whether the user is active and its token generation (None: no such user)."""
        return self.statuses([username]).get(username)

    def statuses(self, usernames: Sequence[str]) -> dict[str, UserStatus]:
        """`status` of many users in one query (users that do not exist are left out)."""
        query = sa.select(users.c.username, users.c.active, users.c.token_generation)
        with storage_errors(self.engine.url), self.engine.connect() as conn:
            rows = conn.execute(query.where(users.c.username.in_(sorted(set(usernames)))))
            return {
                name: UserStatus(active=bool(active), generation=int(generation))
                for name, active, generation in rows
            }

    def _change(self, username: str, **values: Any) -> int:
        """Update a user and bump its token generation; the new generation."""
        bumped = {"token_generation": users.c.token_generation + 1}
        query = sa.update(users).where(users.c.username == username).values(**values, **bumped)
        with storage_errors(self.engine.url), self.engine.begin() as conn:
            row = conn.execute(query.returning(users.c.token_generation)).first()
        if row is None:
            raise AccountError(f"no user {username!r}")
        return int(row[0])

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The user if the password matches and the account is active, else None."""
        query = sa.select(users).where(users.c.username == username)
        with storage_errors(self.engine.url), self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            verify_password(_DUMMY_HASH, password)  # same work as a real miss: no user oracle
            return None
        if not verify_password(row["password_hash"], password) or not row["active"]:
            return None
        return Principal(
            username=row["username"],
            role=Role(row["role"]),
            unit_id=row["unit_id"],
            generation=row["token_generation"],
        )

    def list(self) -> list[dict[str, Any]]:
        """Every user without the hash, by name."""
        cols = [users.c.username, users.c.role, users.c.unit_id, users.c.active]
        query = sa.select(*cols).order_by(users.c.username)
        with storage_errors(self.engine.url), self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]


def _check_new_user(username: str, password: str, role: Role, unit_id: str | None) -> Principal:
    if not USERNAME_RE.match(username):
        raise AccountError("a username is 1-64 letters, digits or _ . @ -")
    if len(password) < MIN_PASSWORD_LEN:
        raise AccountError(f"a password has at least {MIN_PASSWORD_LEN} characters")
    _check_binding(role, unit_id)
    return Principal(username=username, role=role, unit_id=unit_id)


def _check_binding(role: Role, unit_id: str | None) -> None:
    if (role == Role.CREW) != (unit_id is not None):
        raise AccountError("a crew user is bound to exactly one unit (--unit); others to none")
