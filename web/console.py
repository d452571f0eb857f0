"""What every page shares: the console's state, the page decorator (session, role, CSRF), and
rendering with the French templates.

A page is a plain function `handler(ctx) -> Response`, registered with `@route(path, cap)`:
the decorator finds the signed-in account (else redirects to the login page, or answers 401 for
a download), refuses a role without `cap` (403), parses a POST form and refuses it without the
session's CSRF token (403), then runs the handler in a worker thread (the store is synchronous;
the event loop also runs the live feeds).
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from config import Config
from monitor.store import Store
from web.accounts import audit, session_user
from web.auth import Signer
from web.roles import ROLE_LABELS, Cap, User

HERE = Path(__file__).resolve().parent
ROUTES: list[Route] = []
Handler = Callable[["Ctx"], Response | Awaitable[Response]]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Console:
    """The running console: configuration, store, where statements are, the live boards."""

    config: Config
    store: Store
    signer: Signer
    reports_dir: Path
    boards: Any = None  # web.live.LiveBoards
    secure_cookie: bool = False
    templates: jinja2.Environment = field(init=False)

    def __post_init__(self) -> None:
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.templates.filters.update(pct=pct, sec=sec, num=num, when=when)
        self.templates.globals.update(Cap=Cap, ROLE_LABELS=ROLE_LABELS)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: Any, digits: int = 1) -> str:
    """0.823 -> "82,3 %"; "—" when unknown."""
    return "—" if _missing(value) else f"{value * 100:.{digits}f} %".replace(".", ",")


def sec(value: Any) -> str:
    return "—" if _missing(value) else f"{value:.1f} s".replace(".", ",")


def num(value: Any, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{value:.{digits}f}".replace(".", ",")


def when(epoch: Any) -> str:
    """A UTC epoch as Paris local time."""
    if _missing(epoch):
        return "—"
    from zoneinfo import ZoneInfo

    return dt.datetime.fromtimestamp(float(epoch), ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M")


@dataclass
class Ctx:
    """One request as a page sees it."""

    request: Request
    user: User
    console: Console
    form: FormData | None = None

    @property
    def store(self) -> Store:
        return self.console.store

    @property
    def config(self) -> Config:
        return self.console.config

    @property
    def sid(self) -> str:
        return str(self.request.state.sid)

    @property
    def client(self) -> str:
        return self.request.client.host if self.request.client else ""

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default) if self.form is not None else default
        return value if isinstance(value, str) else default

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return render(self.console, self.request, template, status, user=self.user, **values)

    def audit(self, action: str, target: str = "", **detail: Any) -> None:
        audit(self.store, self.user.username, action, target, self.client, **detail)

    def require_site(self, site: str) -> None:
        """404 for a site this account may not see (as for one that does not exist)."""
        if site not in self.config.site_ids or not self.user.sees(site):
            raise HTTPException(404)


def render(console: Console, request: Request, template: str, status: int = 200,
           **values: Any) -> HTMLResponse:
    values.setdefault("user", None)
    page = console.templates.get_template(template).render(
        csrf=console.signer.csrf(str(request.state.sid)), path=request.url.path, **values)
    return HTMLResponse(page, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request, console: Console) -> FormData:
    form = await request.form()
    token = form.get("csrf", "")
    if not isinstance(token, str) or not console.signer.check_csrf(str(request.state.sid), token):
        raise HTTPException(403, "csrf")
    return form


async def _call(handler: Handler, ctx: Ctx) -> Response:
    if inspect.iscoroutinefunction(handler):
        return await handler(ctx)  # type: ignore[no-any-return]
    return await run_in_threadpool(handler, ctx)  # type: ignore[arg-type]


def route(path: str, cap: Cap | None = None, *, methods: tuple[str, ...] = ("GET",),
          download: bool = False) -> Callable[[F], F]:
    """Register a page for signed-in accounts with `cap` (any account when None)."""
    def decorator(handler: F) -> F:
        async def endpoint(request: Request) -> Response:
            console: Console = request.app.state.console
            user = await run_in_threadpool(session_user, console.store, str(request.state.sid))
            if user is None:
                if download or request.method != "GET":
                    raise HTTPException(401)
                return redirect(f"/login?next={quote(request.url.path)}")
            if user.must_change and path != "/compte/mot-de-passe":
                return redirect("/compte/mot-de-passe")
            if cap is not None and not user.can(cap):
                raise HTTPException(403)
            form = await _form(request, console) if request.method == "POST" else None
            return await _call(handler, Ctx(request, user, console, form))

        ROUTES.append(Route(path, endpoint, methods=list(methods), name=handler.__name__))
        return handler
    return decorator


def public(path: str, *, methods: tuple[str, ...] = ("GET",)) -> Callable[[Any], Any]:
    """Register a page open without a session (the login page): CSRF still checked."""
    def decorator(handler: Callable[[Request, Console, FormData | None], Any]) -> Any:
        async def endpoint(request: Request) -> Response:
            console: Console = request.app.state.console
            form = await _form(request, console) if request.method == "POST" else None
            return await run_in_threadpool(handler, request, console, form)  # type: ignore[no-any-return]

        ROUTES.append(Route(path, endpoint, methods=list(methods), name=handler.__name__))
        return handler
    return decorator


def download(data: bytes, filename: str, media_type: str) -> Response:
    """A file to save, with a safe Content-Disposition."""
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "._-") or "fichier"
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{safe}"'})
