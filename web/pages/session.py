"""Logging in and out, the home page, changing one's own password."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from web.accounts import (
    AccountError,
    audit,
    authenticate,
    change_own_password,
    end_session,
    open_session,
    recent_failures,
)
from web.auth import LOGIN_WINDOW, MAX_FAILURES_PER_CLIENT, MAX_FAILURES_PER_USER
from web.console import Console, Ctx, public, redirect, render, route


def _next(value: str) -> str:
    """Only a path of this site (no open redirect)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@public("/login", methods=("GET", "POST"))
def login(request: Request, console: Console, form: FormData | None) -> Response:
    target = _next(request.query_params.get("next", "/"))
    if form is None:
        return render(console, request, "login.html", next=target, error="", username="")
    username = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    client = request.client.host if request.client else ""
    by_name, by_client = recent_failures(console.store, username, client, LOGIN_WINDOW)
    if by_name >= MAX_FAILURES_PER_USER or by_client >= MAX_FAILURES_PER_CLIENT:
        audit(console.store, username or "-", "login_refused", f"user:{username}", client)
        raise HTTPException(429)
    user = authenticate(console.store, username, password)
    if user is None:
        audit(console.store, username or "-", "login_failed", f"user:{username}", client)
        return render(console, request, "login.html", 401, next=target, username=username,
                      error="Identifiant ou mot de passe incorrect.")
    request.state.new_sid = open_session(console.store, user)
    request.state.sid = request.state.new_sid  # the next page's CSRF token
    audit(console.store, user.username, "login", f"user:{user.username}", client)
    return redirect(target)


@route("/logout", methods=("POST",))
def logout(ctx: Ctx) -> Response:
    end_session(ctx.store, ctx.sid)
    ctx.audit("logout", f"user:{ctx.user.username}")
    ctx.request.state.new_sid = secrets.token_urlsafe(32)
    return redirect("/login")


@route("/")
def home(ctx: Ctx) -> Response:
    sites = [s for s in ctx.config.sites if ctx.user.sees(s.id)]
    return ctx.render("home.html", sites=sites)


@route("/compte/mot-de-passe", methods=("GET", "POST"))
def password(ctx: Ctx) -> Response:
    if ctx.form is None:
        return ctx.render("password.html", error="")
    new, again = ctx.field("new"), ctx.field("again")
    error = "Les deux nouveaux mots de passe diffèrent." if new != again else ""
    if not error:
        try:
            ctx.request.state.new_sid = change_own_password(ctx.store, ctx.user, ctx.sid,
                                                            ctx.field("current"), new)
        except AccountError as exc:
            error = _french(str(exc))
    if error:
        return ctx.render("password.html", 400, error=error)
    ctx.audit("password_changed", f"user:{ctx.user.username}")
    return redirect("/")


def _french(message: str) -> str:
    if message.startswith("current password"):
        return "Le mot de passe actuel est incorrect."
    if message.startswith("the new password must differ"):
        return "Le nouveau mot de passe doit être différent de l'actuel."
    return "Le nouveau mot de passe doit compter au moins 12 caractères."
