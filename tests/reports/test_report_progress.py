"""Progress bars: drawn on stderr when it is a terminal, never in a pipe (nor under CliRunner)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from qualiphone.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def _run(url: str, out: Path, stderr: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "TERM": "xterm"}
    return subprocess.Popen([sys.executable, "-m", "qualiphone", "--db", url, "report", "monthly",
                             "--month", "2026-10", "--site", "eps-05", "--format", "html",
                             "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=stderr)


def test_bar_on_a_terminal_only(report_url: str, tmp_path: Path) -> None:
    parent, child = pty.openpty()
    proc = _run(report_url, tmp_path / "tty", child)
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(parent)
    assert proc.wait(60) == 0
    assert b"documents" in seen and b"1/1" in seen
    piped = _run(report_url, tmp_path / "pipe", subprocess.PIPE)
    out, err = piped.communicate(timeout=60)
    assert piped.returncode == 0 and out.startswith(b"Wrote 1 file (html)")
    assert b"documents" not in err and b"\x1b[" not in err


def test_no_bar_under_click_runner(report_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", report_url, "report", "monthly", "--month", "2026-10",
                                      "--site", "eps-11", "--format", "html", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "documents" not in result.stderr and "\x1b[" not in result.stderr
