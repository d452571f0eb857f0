"""Administration: accounts (add, disable, enable, reset), the audit log, the directory check."""

from __future__ import annotations

import secrets

from starlette.responses import Response

from web.accounts import AccountError, add_user, audit_entries, list_users, set_active, set_password
from web.console import Ctx, redirect, route
from web.roles import ROLE_LABELS, Cap, Role


def _accounts(ctx: Ctx, status: int = 200, error: str = "", shown: str = "") -> Response:
    return ctx.render("admin_users.html", status, users=list_users(ctx.store), roles=list(Role),
                      sites=ctx.config.sites, error=error, shown=shown, labels=ROLE_LABELS)


@route("/admin/comptes", Cap.ACCOUNTS)
def accounts(ctx: Ctx) -> Response:
    return _accounts(ctx)


@route("/admin/comptes/ajouter", Cap.ACCOUNTS, methods=("POST",))
def add_account(ctx: Ctx) -> Response:
    username = ctx.field("username").strip().lower()
    role = ctx.field("role")
    if role not in {r.value for r in Role}:
        return _accounts(ctx, 400, error="Rôle inconnu.")
    sites = [s for s in ctx.form.getlist("sites") if isinstance(s, str)] if ctx.form else []
    password = secrets.token_urlsafe(12)
    try:
        add_user(ctx.store, ctx.config, username, Role(role), password, sites=sites,
                 caller=ctx.field("caller").strip(), display_name=ctx.field("display_name").strip(),
                 must_change=True)
    except AccountError as exc:
        return _accounts(ctx, 400, error=f"Compte non créé : {exc}.")
    ctx.audit("user_added", f"user:{username}", role=role, sites=sites)
    return _accounts(ctx, shown=f"Compte « {username} » créé. Mot de passe à usage unique, "
                                f"affiché une seule fois : {password}")


@route("/admin/comptes/{username}/{change:str}", Cap.ACCOUNTS, methods=("POST",))
def change_account(ctx: Ctx) -> Response:
    username = ctx.request.path_params["username"]
    change = ctx.request.path_params["change"]
    password = secrets.token_urlsafe(12)
    try:
        if change == "desactiver":
            if username == ctx.user.username:
                return _accounts(ctx, 400, error="Vous ne pouvez pas désactiver votre propre compte.")
            set_active(ctx.store, username, False)
        elif change == "activer":
            set_active(ctx.store, username, True)
        elif change == "reinitialiser":
            set_password(ctx.store, username, password, must_change=True)
        else:
            return _accounts(ctx, 404, error="Opération inconnue.")
    except AccountError:
        return _accounts(ctx, 404, error=f"Le compte « {username} » n'existe pas.")
    action = {"desactiver": "user_disabled", "activer": "user_enabled",
              "reinitialiser": "password_reset"}[change]
    ctx.audit(action, f"user:{username}")
    if change == "reinitialiser":
        return _accounts(ctx, shown=f"Nouveau mot de passe à usage unique de « {username} », "
                                    f"affiché une seule fois : {password}")
    return redirect("/admin/comptes")


@route("/admin/journal", Cap.ACCOUNTS)
def audit_log(ctx: Ctx) -> Response:
    return ctx.render("admin_audit.html", entries=audit_entries(ctx.store, limit=500))


GAP_LABELS = {
    "device": "poste inconnu de staff_devices", "machine": "réponse d'une machine hors contexte",
    "did": "numéro composé sans site", "queue": "file sans site", "context": "contexte sans site",
    "silent_site": "aucun appel reçu",
}


@route("/admin/annuaire", Cap.ACCOUNTS)
def directory(ctx: Ctx) -> Response:
    """The site directory with what still needs filling in (placeholder numbers), and the
    directory check of the last 30 days (`qualiphone sites check`: the same function)."""
    import datetime as dt

    from monitor.directory_gaps import check_store

    rows = []
    for s in ctx.config.sites:
        problems = []
        if s.placeholder:
            problems.append("numéro provisoire, à remplacer par le numéro réel")
        if not s.numbers:
            problems.append("aucun numéro")
        rows.append({"site": s, "problems": problems})
    last = dt.date.today()
    report = check_store(ctx.store.engine, last - dt.timedelta(days=30), last,
                         ctx.config.site_ids, ctx.config.targets.threshold_seconds)
    failing = report.failing()
    gaps = [{"label": GAP_LABELS[g.kind], "site": g.site or "—", "value": g.value,
             "calls": g.calls, "effect": _effect(g), "failing": g in failing}
            for g in report.gaps]
    return ctx.render("admin_directory.html", rows=rows, gaps=gaps, report=report)


def _effect(g: object) -> str:
    from monitor.directory_gaps import Gap

    assert isinstance(g, Gap)
    if g.kind == "silent_site":
        return "aucun chiffre publiable sur la période"
    if g.impact is None:
        return "appels écartés (autre service ?)"
    if g.kind in ("device", "machine"):
        return _site_effect(g)
    return f"jusqu'à {_fr(g.impact)} points (appels rejetés, site inconnu)"


def _calls(n: int) -> str:
    return f"{n} appel" if n == 1 else f"{n} appels"


def _fr(points: float) -> str:
    return f"{points:.1f}".replace(".", ",")


def _site_effect(g: object) -> str:
    """In opening hours the effect on the pickup rate, after hours on the share of calls taken
    by the message (the same reading as `qualiphone sites check`)."""
    from monitor.directory_gaps import Gap

    assert isinstance(g, Gap)
    parts = []
    if g.calls > g.after_hours:
        reading = ("si une personne a décroché sur ce poste" if g.kind == "device"
                   else "si compté non décroché")
        parts.append(f"{_fr(g.rate_impact or 0.0)} points du taux de décroché {reading}")
    if g.after_hours and g.after_hours_impact is not None:
        parts.append(f"hors horaires : {_calls(g.after_hours)}, {_fr(g.after_hours_impact)} "
                     "points de la part prise par le message")
    elif g.after_hours:
        parts.append(f"hors horaires : {_calls(g.after_hours)} (sans effet sur la part prise par "
                     "le message)")
    return " ; ".join(parts)
