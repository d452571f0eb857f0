"""The Starlette application: routes of every page module, the session cookie, security headers,
French error pages."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.auth import SessionCookie
from web.console import HERE, ROUTES, Console, render

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; "
       "form-action 'self'; base-uri 'none'; object-src 'none'")
ERRORS = {
    401: ("Connexion requise", "Connectez-vous pour voir cette page."),
    403: ("Accès refusé", "Votre compte ne donne pas accès à cette page, ou le formulaire a "
                          "expiré : rechargez la page et recommencez."),
    404: ("Page introuvable", "Cette page n'existe pas ou ne concerne pas vos sites."),
    405: ("Méthode non permise", "Cette adresse ne s'utilise pas ainsi."),
    429: ("Trop de tentatives", "Trop d'essais de connexion infructueux : réessayez dans "
                                "15 minutes."),
}


class SecurityHeaders:
    """CSP, no sniffing, no caching of pages, no framing by other sites (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if not static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, sending)


async def _error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    title, text = ERRORS.get(status, ("Erreur", "La page n'a pas pu être affichée."))
    console: Console = request.app.state.console
    return render(console, request, "error.html", status, title=title, text=text)


def create_app(console: Console) -> Starlette:
    """The console as an ASGI application."""
    from web.pages import load_pages

    load_pages()
    app = Starlette(routes=[*ROUTES, Mount("/static", StaticFiles(directory=HERE / "static"),
                                           name="static")],
                    exception_handlers={HTTPException: _error})
    app.state.console = console
    app.add_middleware(SessionCookie, signer=console.signer, secure=console.secure_cookie)
    app.add_middleware(SecurityHeaders)
    return app
