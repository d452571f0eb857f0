"""The wallboard's HTTP server: the page, its JSON and a server-sent event stream.

Standard library asyncio only, on the listener's own event loop: the live state is read where it
is written, with no lock and no thread, and the project gains no web framework (aiohttp or
starlette + uvicorn would bring a dozen packages for three GET routes). HTTP/1.1, GET and HEAD:

* `/` — the page (self-contained, strict Content-Security-Policy);
* `/state.json` — the current snapshot (what `qualiphone top` reads);
* `/events` — `text/event-stream`: one `data:` snapshot every `tick` seconds;
* `/?token=…` — see monitor.wallboard.auth: sets the cookie, redirects to `/`.

Requests are logged without their query string (the token never reaches a log). Bounded: 8 KiB
of request head read within 5 s, at most `max_streams` event streams, `max_connections`
connections and `max_per_ip` from one address (monitor.wallboard.connections: the oldest idle
connection is dropped for a new one). The server accepts its connections itself, so that a
process out of file handles logs one line a minute, not a traceback per attempt. On loopback
(no token) only requests for its own host names are answered (monitor.wallboard.auth).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.wallboard.auth import (
    COOKIE,
    HOSTS_ENV,
    allowed_hosts,
    authorized,
    cookie_value,
    host_name,
    token_matches,
)
from monitor.wallboard.connections import Connection, Connections, QuietLog
from monitor.wallboard.page import CSP, page

log = logging.getLogger(__name__)
HEAD_LIMIT = 8192
HEAD_TIMEOUT = 5.0
WRITE_TIMEOUT = 10.0
ACCEPT_RETRY = 0.5  # pause after a failed accept (out of file handles)
REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
WRONG_HOST = ("Nom d'hôte non autorisé : ouvrez le tableau par http://127.0.0.1:{port}/ "
              "ou déclarez ce nom dans " + HOSTS_ENV + ".\n")
DENIED = ("<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>Accès refusé</title>"
          "<body style=\"font:2em sans-serif;background:#0d1117;color:#f0f3f6;padding:1em\">"
          "<h1>Accès refusé</h1><p>Ce tableau demande un jeton : ouvrez une fois "
          "<code>/?token=…</code> avec le jeton donné par l'exploitant.</p></body></html>")


class WallboardServer:
    """Serves `snapshot()` on host:port; `start()`, then `close()`."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], *, token: str | None = None,
                 threshold: float = 25.0, tick: float = 1.0, max_streams: int = 64,
                 max_connections: int = 256, max_per_ip: int = 32,
                 head_timeout: float = HEAD_TIMEOUT, hosts: str | None = None) -> None:
        """hosts: comma-separated extra host names [default: $QUALIPHONE_WALLBOARD_HOSTS]."""
        self.snapshot, self.token, self.tick = snapshot, token, tick
        self.max_streams, self.head_timeout, self._hosts = max_streams, head_timeout, hosts
        self.streams = 0
        self.requests = 0
        self._page = page(threshold)
        self._conns = Connections(max_connections, max_per_ip)
        self._quiet = QuietLog(log)
        self._sockets: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._allowed: frozenset[str] = frozenset()
        self.port = 0

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on every address of `host` (one port for all); the port."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                self._sockets.append(_listen(family, kind, proto, (address[0], self.port or port,
                                                                   *address[2:])))
                self.port = self.port or self._sockets[0].getsockname()[1]
        except OSError:
            self._close_sockets()
            raise
        self._allowed = allowed_hosts(host, self._hosts)
        self._accepting = [asyncio.create_task(self._accept(s)) for s in self._sockets]
        return int(self.port)

    async def close(self) -> None:
        for task in self._accepting:
            task.cancel()
        await asyncio.gather(*self._accepting, return_exceptions=True)
        self._close_sockets()
        tasks = self._conns.abort_all()  # event streams never end by themselves
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, address = await loop.sock_accept(sock)
            except OSError as exc:  # out of file handles (EMFILE, ENFILE) or buffers
                self._quiet.warning("accept", f"wallboard: cannot accept a connection "
                                              f"({exc.strerror or exc}); {len(self._conns)} open")
                if not self._conns.drop_idle():  # frees a handle for the next one
                    await asyncio.sleep(ACCEPT_RETRY)
                else:
                    await asyncio.sleep(0)
                continue
            conn = self._conns.admit(address[0])
            if conn is None:  # full of event streams and requests being answered
                client.close()
                self._quiet.warning("full", f"wallboard: refused a connection from {address[0]}: "
                                            f"{len(self._conns)} open, none idle")
                continue
            conn.task = asyncio.create_task(self._connection(client, conn))

    async def _connection(self, client: socket.socket, conn: Connection) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=client, limit=2 * HEAD_LIMIT)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.head_timeout)
            conn.answering = True
            await self._handle(head, writer, conn)
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError, asyncio.CancelledError):
            pass  # a client gone or too slow, a connection dropped for room, or shutdown
        except Exception as exc:  # one line, never a traceback per connection
            self._quiet.warning("error", f"wallboard: {type(exc).__name__} while serving "
                                         f"{conn.ip}: {exc}")
        finally:
            self._conns.release(conn)
            if writer is None:
                client.close()
            elif conn.dropped:
                writer.transport.abort()
            else:
                writer.close()

    async def _handle(self, head: bytes, writer: asyncio.StreamWriter, conn: Connection) -> None:
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
        if self.token is None and not self._right_host(headers.get("host"), conn):
            return self._reply(writer, 400 if "host" not in headers else 403,
                               WRONG_HOST.format(port=self.port).encode())
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
            return await self._events(writer, conn)
        return self._reply(writer, 404, b"not found\n")

    def _right_host(self, header: str | None, conn: Connection) -> bool:
        """Whether a loopback wallboard's request names it (DNS rebinding names another)."""
        if header is not None and host_name(header) in self._allowed:
            return True
        shown = "no Host header" if header is None else f'Host "{header[:80]}"'
        self._quiet.warning("host", f"wallboard: refused a request from {conn.ip} with {shown} "
                                    f"(a DNS rebinding attempt?); to open the board under another "
                                    f"name, add it to {HOSTS_ENV}")
        return False

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

    async def _events(self, writer: asyncio.StreamWriter, conn: Connection) -> None:
        if self.streams >= self.max_streams:
            return self._reply(writer, 503, b"too many wallboards open\n")
        self.streams += 1
        conn.streaming = True
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


def _listen(family: int, kind: int, proto: int, address: tuple[Any, ...]) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
