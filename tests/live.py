"""A real ``paper-exchange serve`` process for the tests that need one (the live-server,
ccxt, client and crash tests): a free port, and a start that waits until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_serve(data_dir: Path, port: int, *args: str, probe: str = "/api/v1/time",
                cwd: Path | None = None) -> subprocess.Popen[str]:
    """``python -m exchange serve`` on ``port``, once ``probe`` answers; the test fails with
    the server's output if it exits or has not answered within 30 s."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange", "serve", "--port", str(port), "--data-dir",
         str(data_dir), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=cwd)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                output = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"the server did not start: {output}")
            time.sleep(0.1)
