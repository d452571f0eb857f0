"""The wallboard under hostile clients: slow connections, a flood, DNS rebinding."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.wallboard.server import WallboardServer
from tests.conftest import REPO
from tests.ingest.ami.ami_support import run
from tests.wallboard.wallboard_support import http_get

# A wallboard in a process limited to LIMIT file handles (1,024 is usual): logs go to stderr.
SERVER = """
import asyncio, logging, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
from monitor.wallboard.server import WallboardServer

async def main():
    server = WallboardServer(lambda: {"ok": True}, **CAPS)
    print(await server.start("127.0.0.1", 0), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def _slow(port: int, count: int) -> list[asyncio.StreamWriter]:
    """`count` connections that send half a request head and then nothing."""
    writers = []
    for _ in range(count):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            continue  # the server's backlog is full: that is its right
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        writers.append(writer)
    return writers


async def _legitimate(port: int, count: int) -> int:
    ok = 0
    for _ in range(count):
        try:
            status, _, body = await asyncio.wait_for(http_get(port, "/state.json"), 5)
            ok += status == 200 and body == b'{"ok": true}'
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
    return ok


@pytest.mark.parametrize(("limit", "caps"), [
    (1024, {}),  # the default caps
    (100, {"max_connections": 5000, "max_per_ip": 5000}),  # caps above the handles: out of them
])
def test_1100_slow_connections_neither_starve_requests_nor_flood_the_log(
        tmp_path: Path, limit: int, caps: dict[str, int]) -> None:
    log = (tmp_path / "server.log").open("w+")
    code = SERVER.replace("(LIMIT, LIMIT)", f"({limit}, {limit})").replace("**CAPS", f"**{caps}")
    server = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=log, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())

        async def attack() -> int:
            slow = await _slow(port, 1100)
            ok = await _legitimate(port, 19)
            for writer in slow:
                writer.transport.abort()
            return ok

        assert run(attack(), timeout=150) == 19
    finally:
        server.kill()
        server.wait()
    log.seek(0)
    text = log.read()
    assert "Traceback" not in text
    assert len(text.splitlines()) <= 10, text[:2000]
    if caps:  # out of handles: said, once
        assert "wallboard: cannot accept a connection (Too many open files)" in text


def test_a_silent_connection_is_closed_after_the_head_timeout() -> None:
    async def go() -> bytes:
        server = WallboardServer(lambda: {}, head_timeout=0.3)
        port = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HT")
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await server.close()
        return data

    assert run(go()) == b""


def test_per_address_and_total_caps_drop_the_oldest_idle_connection() -> None:
    async def go() -> tuple[bytes, bytes, int, int]:
        server = WallboardServer(lambda: {"ok": True}, max_connections=4, max_per_ip=2)
        port = await server.start("127.0.0.1", 0)
        first = await asyncio.open_connection("127.0.0.1", port)
        second = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.1)
        status, _, _ = await http_get(port, "/state.json")  # a third from 127.0.0.1
        dropped = await asyncio.wait_for(first[0].read(), 10)  # the oldest idle one went
        second[1].write(b"GET /state.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        kept = await asyncio.wait_for(second[0].read(), 10)
        for _, writer in (first, second):
            writer.close()
        open_now = server.open_connections
        await server.close()
        return dropped, kept, status, open_now

    dropped, kept, status, _ = run(go())
    assert status == 200 and dropped == b"" and kept.startswith(b"HTTP/1.1 200 OK")


@pytest.mark.parametrize(("host", "status"), [
    ("127.0.0.1", 200), ("localhost", 200), ("[::1]", 200), ("LOCALHOST.", 200),
    ("wall.eps.local", 200), ("evil.example", 403), ("127.0.0.1.evil.example", 403), ("", 400),
])
def test_a_loopback_wallboard_answers_only_to_its_own_host_names(
        host: str, status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALIPHONE_WALLBOARD_HOSTS", "wall.eps.local, board")

    async def go() -> int:
        server = WallboardServer(lambda: {"ok": True})
        port = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        header = f"Host: {host}:{port}\r\n" if host else ""
        writer.write(f"GET /state.json HTTP/1.1\r\n{header}\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        await server.close()
        return int(data.split()[1])

    assert run(go()) == status
