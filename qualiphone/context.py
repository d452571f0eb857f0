"""Shared CLI state and options: the store URL and the configuration directory."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from config import Config, ConfigError, load_config
from monitor.store import Store, default_db_url, open_store


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
            except Exception as exc:
                import sqlalchemy as sa  # loaded by now: open_store reports through the engine

                if not isinstance(exc, (sa.exc.OperationalError, sa.exc.ArgumentError,
                                        ModuleNotFoundError)):
                    raise
                shown = sa.make_url(url).render_as_string(hide_password=True) \
                    if not isinstance(exc, sa.exc.ArgumentError) else url
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                raise click.ClickException(
                    f'cannot open the store "{shown}": {reason}; check --db or QUALIPHONE_DB '
                    "(sqlite:///PATH or postgresql+psycopg://USER@HOST/DB) and that the server runs"
                ) from None
        return self._store


pass_app = click.make_pass_decorator(AppContext)


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
