"""Accounts, sessions and the audit log in the store.

Passwords are hashed with argon2id (argon2-cffi's defaults); only the hash is stored, and a
password never reaches a log or the audit. A session is a random id kept by the browser (see
web.auth); the store keeps its SHA-256. Disabling an account or resetting its password ends its
sessions (their `generation` no longer matches the account's).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from config import Config
from monitor.store import Store
from web.models import web_audit, web_sessions, web_users
from web.roles import SITE_SCOPED, Role, User

MIN_PASSWORD = 12
SESSION_IDLE = 8 * 3600.0  # a session unused for 8 hours ends
SESSION_MAX = 24 * 3600.0  # and any session after a day
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,62}")
_HASHER = PasswordHasher()


class AccountError(Exception):
    """A bad account request; the message says what to fix."""


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password has {len(password)} characters; use at least "
                           f"{MIN_PASSWORD}")


def _check_scope(config: Config, role: Role, sites: Sequence[str], caller: str) -> str:
    unknown = [s for s in sites if s not in config.site_ids]
    if unknown:
        raise AccountError(f'site "{unknown[0]}" is not in {config.directory / "sites.toml"}; '
                           f"known sites: {', '.join(config.site_ids)}")
    if role in SITE_SCOPED and not sites:
        raise AccountError(f'role "{role}" sees only its sites: give at least one --site ID')
    if role is Role.CALLER and not caller:
        raise AccountError('role "caller" needs --caller ID (the [[caller]] id of the campaign, '
                           'e.g. "appelant-a")')
    return ",".join(dict.fromkeys(sites)) if role in SITE_SCOPED else ""


def add_user(store: Store, config: Config, username: str, role: Role, password: str, *,
             sites: Sequence[str] = (), caller: str = "", display_name: str = "",
             must_change: bool = False) -> int:
    """Create an account; returns its id."""
    if not USERNAME.fullmatch(username):
        raise AccountError(f'user name "{username}" must be 2 to 63 lower-case letters, digits, '
                           '".", "_" or "-", starting with a letter or digit')
    check_password(password)
    scope = _check_scope(config, role, sites, caller)
    now = time.time()
    with store.engine.begin() as conn:
        if conn.execute(sa.select(web_users.c.id).where(web_users.c.username == username)).first():
            raise AccountError(f'user "{username}" already exists; use: qualiphone users reset '
                               f"{username}")
        return int(conn.execute(sa.insert(web_users).values(
            username=username, display_name=display_name, role=role.value, sites=scope,
            caller=caller if role is Role.CALLER else "", password_hash=_HASHER.hash(password),
            must_change=must_change, active=True, generation=0, created_at=now, updated_at=now,
        ).returning(web_users.c.id)).scalar_one())


def _row(conn: sa.Connection, username: str) -> sa.Row:
    row = conn.execute(sa.select(web_users).where(web_users.c.username == username)).first()
    if row is None:
        raise AccountError(f'user "{username}" does not exist; list them with: qualiphone users list')
    return row


def set_password(store: Store, username: str, password: str, *, must_change: bool = False) -> None:
    """Reset an account's password (and re-enable it); its sessions end."""
    check_password(password)
    with store.engine.begin() as conn:
        row = _row(conn, username)
        conn.execute(sa.update(web_users).where(web_users.c.id == row.id).values(
            password_hash=_HASHER.hash(password), must_change=must_change, active=True,
            generation=row.generation + 1, updated_at=time.time()))


def set_active(store: Store, username: str, active: bool) -> None:
    """Disable (its sessions end) or enable an account."""
    with store.engine.begin() as conn:
        row = _row(conn, username)
        conn.execute(sa.update(web_users).where(web_users.c.id == row.id).values(
            active=active, generation=row.generation + (0 if active else 1),
            updated_at=time.time()))


def list_users(store: Store) -> list[sa.Row]:
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(web_users).order_by(web_users.c.username)))


def user_exists(store: Store, username: str) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(web_users.c.id)
                            .where(web_users.c.username == username)).first() is not None


def _user(row: sa.Row) -> User:
    return User(row.id, row.username, row.display_name, Role(row.role),
                tuple(s for s in row.sites.split(",") if s), row.caller, bool(row.must_change))


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The active account whose password this is, else None (same time either way)."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(web_users).where(web_users.c.username == username)).first()
    hashed = row.password_hash if row is not None else _DUMMY
    try:
        _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    if _HASHER.check_needs_rehash(hashed):
        with store.engine.begin() as conn:
            conn.execute(sa.update(web_users).where(web_users.c.id == row.id)
                         .values(password_hash=_HASHER.hash(password)))
    return _user(row)


_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))  # verified for unknown names: no timing oracle


# ---- sessions -------------------------------------------------------------------------------

def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(store: Store, user: User) -> str:
    """A new session for the account; returns the id the browser keeps."""
    session_id = secrets.token_urlsafe(32)
    now = time.time()
    with store.engine.begin() as conn:
        generation = conn.execute(sa.select(web_users.c.generation)
                                  .where(web_users.c.id == user.id)).scalar_one()
        conn.execute(sa.insert(web_sessions).values(
            id_hash=_digest(session_id), user_id=user.id, generation=generation, created_at=now,
            last_seen=now))
    return session_id


def session_user(store: Store, session_id: str, now: float | None = None) -> User | None:
    """The account of a live session (and note it was seen), else None."""
    now = time.time() if now is None else now
    query = (sa.select(web_users, web_sessions.c.generation.label("session_generation"),
                       web_sessions.c.last_seen, web_sessions.c.created_at.label("opened"))
             .join(web_users, web_users.c.id == web_sessions.c.user_id)
             .where(web_sessions.c.id_hash == _digest(session_id),
                    web_sessions.c.ended_at.is_(None)))
    with store.engine.connect() as conn:
        row = conn.execute(query).first()
    if (row is None or not row.active or row.session_generation != row.generation
            or now - row.last_seen > SESSION_IDLE or now - row.opened > SESSION_MAX):
        return None
    if now - row.last_seen > 60:  # one write a minute at most
        with store.engine.begin() as conn:
            conn.execute(sa.update(web_sessions).where(web_sessions.c.id_hash == _digest(session_id))
                         .values(last_seen=now))
    return _user(row)


def end_session(store: Store, session_id: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.update(web_sessions).where(web_sessions.c.id_hash == _digest(session_id))
                     .values(ended_at=time.time()))


def change_own_password(store: Store, user: User, session_id: str, current: str, new: str) -> str:
    """The account's own change: checks the current password; returns a new session id (the
    others end)."""
    if authenticate(store, user.username, current) is None:
        raise AccountError("current password is wrong")
    if new == current:
        raise AccountError("the new password must differ from the current one")
    set_password(store, user.username, new)
    end_session(store, session_id)
    return open_session(store, user)


# ---- audit ----------------------------------------------------------------------------------

def audit(store: Store, actor: str, action: str, target: str = "", client: str = "",
          **detail: Any) -> None:
    """Record who did what. Never pass a password or a session id in `detail`."""
    with store.engine.begin() as conn:
        conn.execute(sa.insert(web_audit).values(
            at=time.time(), actor=actor[:64], action=action, target=target[:200],
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
            client=client[:64]))


def audit_entries(store: Store, *, target: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    query = sa.select(web_audit).order_by(web_audit.c.at.desc(), web_audit.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(web_audit.c.target == target)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{**r._mapping, "detail": json.loads(r.detail or "{}")} for r in rows]


def recent_failures(store: Store, username: str, client: str, window: float,
                    now: float | None = None) -> tuple[int, int]:
    """Failed logins in the last `window` seconds: (for this user name, from this client)."""
    since = (time.time() if now is None else now) - window
    base = sa.select(sa.func.count()).select_from(web_audit).where(
        web_audit.c.action == "login_failed", web_audit.c.at >= since)
    with store.engine.connect() as conn:
        by_name = conn.execute(base.where(web_audit.c.target == f"user:{username}")).scalar_one()
        by_client = conn.execute(base.where(web_audit.c.client == client)).scalar_one()
    return int(by_name), int(by_client)
