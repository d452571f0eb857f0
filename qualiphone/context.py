"""Shared CLI state and options: the store URL and the configuration directory."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from config import Config, ConfigError, load_config
from monitor.store import Store, default_db_url, open_store
from monitor.store.engine import StoreError, sqlite_file

# Commands that read calls: when their store holds none (a relative --db run from another
# directory opens or creates another store), they say so on stderr.
READS_CALLS = frozenset({"stats", "report monthly", "report synthesis", "afterhours check",
                         "afterhours report"})


@dataclass
class AppContext:
    db_url: str | None
    config_dir: str | None
    _config: Config | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_dir)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._config

    @property
    def store(self) -> Store:
        if self._store is None:
            url = self.db_url or default_db_url()
            try:
                self._store = open_store(url)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from None
            except Exception as exc:
                import sqlalchemy as sa  # loaded by now: open_store reports through the engine

                if not isinstance(exc, (sa.exc.DBAPIError, sa.exc.ArgumentError,
                                        ModuleNotFoundError)):
                    raise
                shown = sa.make_url(url).render_as_string(hide_password=True) \
                    if not isinstance(exc, sa.exc.ArgumentError) else url
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                raise click.ClickException(
                    f'cannot open the store "{shown}": {reason}; check --db or QUALIPHONE_DB '
                    "(sqlite:///PATH or postgresql+psycopg://USER@HOST/DB) and that the server runs"
                ) from None
            if _command_name() in READS_CALLS:
                self._warn_when_empty(self._store, url)
        return self._store

    @property
    def store_label(self) -> str:
        """Where the store is: the SQLite file's absolute path, or the URL without password."""
        url = self.db_url or default_db_url()
        path = sqlite_file(url)
        if path is not None:
            return str(path.resolve())
        return _shown(url)

    def _warn_when_empty(self, store: Store, url: str) -> None:
        if _holds_calls(store):
            return
        shown = _shown(url)
        what = (f'no store was at "{self.store_label}" (--db {shown}): created a new, empty one'
                if store.created else
                f'the store "{self.store_label}" (--db {shown}) holds no calls')
        click.echo(f"warning: {what}; check --db or QUALIPHONE_DB and the current directory, or "
                   "import calls first (qualiphone ingest …)", err=True)


def _shown(url: str) -> str:
    """The URL without its password (`***`), as SQLAlchemy shows it; without importing
    SQLAlchemy when the URL has no password (the label `stats` prints)."""
    from urllib.parse import urlsplit

    if urlsplit(url).password is None:
        return url
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def _holds_calls(store: Store) -> bool:
    """Whether the store holds a call: on a plain connection when it can (no SQLAlchemy
    import for `stats` on the month copies), else through the engine."""
    try:
        light = store.light()
    except Exception:  # the engine's path reports what is wrong
        light = None
    if light is not None:
        raw, _ = light
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1 FROM calls LIMIT 1")
            return cursor.fetchone() is not None
        finally:
            raw.close()
    import sqlalchemy as sa

    from monitor.store.models import calls

    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.literal(1)).select_from(calls).limit(1)).first() \
            is not None


def _command_name() -> str:
    """The running command below the root group, e.g. "report monthly"."""
    names = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


pass_app = click.make_pass_decorator(AppContext)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which pass every range check)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f'"{value}" is not a finite number', param, ctx)
        return number


def format_option(*choices: str, default: str = "table") -> Callable[[Callable[..., Any]], Any]:
    def decorator(func: Callable[..., Any]) -> Any:
        return click.option(
            "--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
            help="Output format.",
        )(func)
    return decorator


def friendly_errors(*kinds: type[Exception]) -> Callable[[Callable[..., Any]], Any]:
    """Turn the given narrow exceptions into `Error: …` and exit status 1."""
    def decorator(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except kinds as exc:
                raise click.ClickException(str(exc)) from None
        return wrapper
    return decorator
