"""The wallboard's HTTP server: the page, its JSON and a server-sent event stream.

Standard library asyncio only, on the listener's own event loop: the live state is read where it
is written, with no lock and no thread, and the project gains no web framework (aiohttp or
starlette + uvicorn would bring a dozen packages for three GET routes). HTTP/1.1, GET and HEAD:

* `/` — the page (self-contained, strict Content-Security-Policy);
* `/state.json` — the current snapshot (what `qualiphone top` reads);
* `/events` — `text/event-stream`: one `data:` snapshot every `tick` seconds;
* `/?token=…` — see monitor.wallboard.auth: sets the cookie, redirects to `/`.

Requests are logged without their query string (the token never reaches a log). Bounded: 8 KiB
of request head read within 10 s, at most `max_streams` event streams at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.wallboard.auth import COOKIE, authorized, cookie_value, token_matches
from monitor.wallboard.page import CSP, page

log = logging.getLogger(__name__)
HEAD_LIMIT = 8192
HEAD_TIMEOUT = 10.0
REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
DENIED = ("<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>Accès refusé</title>"
          "<body style=\"font:2em sans-serif;background:#0d1117;color:#f0f3f6;padding:1em\">"
          "<h1>Accès refusé</h1><p>Ce tableau demande un jeton : ouvrez une fois "
          "<code>/?token=…</code> avec le jeton donné par l'exploitant.</p></body></html>")


class WallboardServer:
    """Serves `snapshot()` on host:port; `start()`, then `close()`."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], *, token: str | None = None,
                 threshold: float = 25.0, tick: float = 1.0, max_streams: int = 64) -> None:
        self.snapshot, self.token, self.tick = snapshot, token, tick
        self.max_streams = max_streams
        self.streams = 0
        self.requests = 0
        self._page = page(threshold)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in list(self._open):  # event streams never end by themselves
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            await self._handle(head, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError, asyncio.CancelledError):
            pass  # a client gone, or the server shutting down: nothing to report
        finally:
            writer.close()

    async def _handle(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        if len(head) > HEAD_LIMIT:
            return self._reply(writer, 400, b"request head too large\n")
        lines = head.decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rpartition(" ")[0] or rest
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if ":" in line)}
        url = urlsplit(target)
        self.requests += 1
        log.debug("wallboard: %s %s", method, url.path)  # never the query: it may hold the token
        if method not in ("GET", "HEAD"):
            return self._reply(writer, 405, b"GET only\n", extra=[("Allow", "GET, HEAD")])
        offered = parse_qs(url.query).get("token", [""])[0]
        if url.path == "/" and offered:
            return self._login(writer, offered)
        if not authorized(self.token, headers):
            return self._reply(writer, 401, DENIED.encode(), "text/html; charset=utf-8",
                               [("WWW-Authenticate", 'Bearer realm="wallboard"')])
        if url.path == "/":
            return self._reply(writer, 200, self._page, "text/html; charset=utf-8",
                               [("Content-Security-Policy", CSP)], method == "HEAD")
        if url.path == "/state.json":
            body = json.dumps(self.snapshot(), ensure_ascii=False).encode()
            return self._reply(writer, 200, body, "application/json", head_only=method == "HEAD")
        if url.path == "/events":
            return await self._events(writer)
        return self._reply(writer, 404, b"not found\n")

    def _login(self, writer: asyncio.StreamWriter, offered: str) -> None:
        if not token_matches(self.token, offered):
            return self._reply(writer, 401, DENIED.encode(), "text/html; charset=utf-8")
        cookie = f"{COOKIE}={cookie_value(offered)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000"
        return self._reply(writer, 303, b"", extra=[("Location", "/"), ("Set-Cookie", cookie)])

    def _reply(self, writer: asyncio.StreamWriter, status: int, body: bytes,
               kind: str = "text/plain; charset=utf-8", extra: list[tuple[str, str]] | None = None,
               head_only: bool = False) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS[status]}", f"Content-Type: {kind}",
                 f"Content-Length: {len(body)}", "Cache-Control: no-store",
                 "X-Content-Type-Options: nosniff", "Referrer-Policy: no-referrer",
                 "Connection: close", *(f"{k}: {v}" for k, v in extra or [])]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else body))

    async def _events(self, writer: asyncio.StreamWriter) -> None:
        if self.streams >= self.max_streams:
            return self._reply(writer, 503, b"too many wallboards open\n")
        self.streams += 1
        self._open.add(writer)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                         b"Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
                         b"Connection: keep-alive\r\n\r\nretry: 2000\n\n")
            while not writer.is_closing():
                data = json.dumps(self.snapshot(), ensure_ascii=False)
                writer.write(f"data: {data}\n\n".encode())
                await asyncio.wait_for(writer.drain(), 10.0)
                await asyncio.sleep(self.tick)
        finally:
            self.streams -= 1
            self._open.discard(writer)
