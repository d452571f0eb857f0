"""`simulate month` draws a progress bar on stderr only when stderr is a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

ARGS = [sys.executable, "-m", "qualiphone", "simulate", "month", "--month", "2026-10", "--days",
        "2", "--seed", "3"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100", "TERM": "xterm"}


def test_a_bar_on_a_terminal(tmp_path: Path) -> None:
    main, side = pty.openpty()
    proc = subprocess.Popen([*ARGS, "--out", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=side, cwd=REPO, env=_env())
    os.close(side)
    seen = b""
    while True:  # read the terminal until the command is done with it
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(main)
    assert proc.returncode == 0
    terminal = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    assert "simulate 2026-10-0" in terminal and "/2 days" in terminal  # the bar
    assert "2026-10-01 …" not in terminal  # not the lines written for logs
    assert b"\x1b" not in out and b"Simulated 2026-10:" in out  # stdout untouched


def test_no_bar_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run([*ARGS, "--out", str(tmp_path)], capture_output=True, cwd=REPO,
                          env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode() == "  2026-10-01 …\n"  # a line for the log, no control character
