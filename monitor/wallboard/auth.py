"""Who may see the wallboard: the binding rule and the token.

Rule: the wallboard serves without a token only when bound to 127.0.0.1, ::1 or localhost (the
default). Bound to any other address — 0.0.0.0, a LAN address, and also any other 127.x
address — it needs a token: from $QUALIPHONE_WALLBOARD_TOKEN or a file readable only by its
owner (mode 600), at least 16 characters; never on the command line, never logged, never in
the database. A browser presents it once as `/?token=…`: the server answers with a cookie
(`qp_wallboard`, HttpOnly, SameSite=Strict) holding an HMAC of the token, not the token, and
redirects to `/` so the token leaves the address bar. Scripts (and `qualiphone top`) send
`Authorization: Bearer <token>` instead.

A wallboard without a token (on loopback) answers only requests whose Host header names it:
localhost, 127.0.0.1, [::1], the address it is bound to, or a name listed in
$QUALIPHONE_WALLBOARD_HOSTS (comma-separated). Otherwise a web page from any site could read it
through DNS rebinding (its name re-pointed to 127.0.0.1 after the page loaded).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from monitor.private_file import read_private_file

TOKEN_ENV = "QUALIPHONE_WALLBOARD_TOKEN"
HOSTS_ENV = "QUALIPHONE_WALLBOARD_HOSTS"
COOKIE = "qp_wallboard"
MIN_LENGTH = 16
OPEN_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class TokenError(Exception):
    """The token is missing, too short, or its file is not private."""


def token_required(host: str) -> bool:
    """Whether a wallboard bound to `host` needs a token (see the module's rule)."""
    return host.strip("[]") not in OPEN_HOSTS


def load_token(path: Path | None = None, env: str = TOKEN_ENV) -> str | None:
    """The token from a private file, else from the environment; None when neither is set."""
    if path is not None:
        token = read_private_file(path, "token file", TokenError).strip()
    else:
        token = os.environ.get(env, "").strip()
    if not token:
        return None
    if len(token) < MIN_LENGTH:
        raise TokenError(f"the wallboard token is {len(token)} characters long; use at least "
                         f"{MIN_LENGTH}, e.g. from: python3 -c 'import secrets; "
                         "print(secrets.token_urlsafe(24))'")
    return token


def cookie_value(token: str) -> str:
    """What the browser keeps: an HMAC of the token (the token itself never goes in a cookie)."""
    return hmac.new(token.encode(), b"qualiphone-wallboard-cookie", hashlib.sha256).hexdigest()


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def authorized(token: str | None, headers: dict[str, str]) -> bool:
    """Whether a request (lower-case header names) carries the token or its cookie."""
    if token is None:
        return True
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer ") and hmac.compare_digest(
            bearer[7:].strip().encode(), token.encode()):
        return True
    cookie = _cookies(headers.get("cookie", "")).get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), cookie_value(token).encode())


def token_matches(token: str | None, offered: str) -> bool:
    return token is not None and hmac.compare_digest(offered.encode(), token.encode())


def host_name(header: str) -> str:
    """The name in a Host header, lower case, without port, brackets or final dot."""
    text = header.strip().lower()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    else:
        name, colon, port = text.rpartition(":")
        text = name if colon and port.isdigit() else text
    return text.rstrip(".")


def allowed_hosts(bound: str, extra: str | None = None) -> frozenset[str]:
    """Host names a loopback wallboard answers to (see the module's rule)."""
    listed = os.environ.get(HOSTS_ENV, "") if extra is None else extra
    names = {host_name(n) for n in listed.split(",") if n.strip()}
    return frozenset({*OPEN_HOSTS, host_name(f"[{bound}]" if ":" in bound else bound), *names})
