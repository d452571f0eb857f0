"""The session cookie, CSRF tokens and the login rate limit.

The browser keeps one cookie, `qp_session`: a random session id signed with itsdangerous (a
forged or altered cookie is ignored). Visitors who are not signed in get an anonymous id too, so
that the login form has a CSRF token; signing in and out gives a new id (no session fixation).
The cookie is HttpOnly, SameSite=Lax, Path=/, and Secure when the request came over TLS
(directly, or through a trusted proxy's X-Forwarded-Proto, see `qualiphone serve
--trusted-proxy`) or when `secure_cookie` is set.

Every form carries a CSRF token: an HMAC of the session id with the console's secret key
(never the session id itself). `check_csrf` compares in constant time.

Failed logins are counted from the audit log: 5 per user name or 20 per client address in 15
minutes, and further attempts are refused (even with the right password) until the window ends.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "qp_session"
SECRET_ENV = "QUALIPHONE_WEB_SECRET"
LOGIN_WINDOW = 15 * 60.0
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_CLIENT = 20


def load_secret(key_file: Path) -> bytes:
    """$QUALIPHONE_WEB_SECRET, else the key file (created with mode 600 when absent)."""
    value = os.environ.get(SECRET_ENV, "")
    if value:
        return value.encode()
    if key_file.exists():
        if key_file.stat().st_mode & 0o077:
            raise PermissionError(f'web secret file "{key_file}" is readable by group or others; '
                                  f"run: chmod 600 {key_file}")
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    return key_file.read_bytes().strip()


class Signer:
    """Signs session ids for the cookie and derives their CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._cookie = URLSafeSerializer(secret, salt="qualiphone-session")

    def dumps(self, session_id: str) -> str:
        return str(self._cookie.dumps(session_id))

    def loads(self, value: str) -> str | None:
        try:
            loaded = self._cookie.loads(value)
        except BadSignature:
            return None
        return loaded if isinstance(loaded, str) and len(loaded) >= 32 else None

    def csrf(self, session_id: str) -> str:
        return hmac.new(self._secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_id: str, offered: str) -> bool:
        return hmac.compare_digest(self.csrf(session_id).encode(), offered.encode())


def _cookie_value(header: str) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


class SessionCookie:
    """ASGI middleware: puts the session id in scope["state"]["sid"] and (re)sets the cookie
    when it is new or when an endpoint set scope["state"]["new_sid"]."""

    def __init__(self, app: ASGIApp, signer: Signer, *, secure: bool = False) -> None:
        self.app, self.signer, self.secure = app, signer, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        sid = self.signer.loads(_cookie_value(headers.get("cookie", "")))
        state = scope.setdefault("state", {})
        fresh = sid is None
        state["sid"] = sid or secrets.token_urlsafe(32)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                new = state.get("new_sid")
                if new or fresh:
                    MutableHeaders(scope=message).append("Set-Cookie", self._cookie(
                        new or state["sid"], scope.get("scheme") == "https"))
            await send(message)

        await self.app(scope, receive, sending)

    def _cookie(self, sid: str, tls: bool) -> str:
        secure = "; Secure" if self.secure or tls else ""
        return f"{COOKIE}={self.signer.dumps(sid)}; Path=/; HttpOnly; SameSite=Lax{secure}"
