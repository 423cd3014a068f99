"""Live servers for the client tests: ``python -m exchange serve`` on free 127.0.0.1 ports.

Every test here talks to a real server over HTTP and websockets; users are made through
``POST /api/v1/admin/users`` with the admin key from the data directory. The server rate-limits
per IP (50 requests/s, bursts of 100) and all tests come from 127.0.0.1: the clients the
fixtures make retry 429s (``RetryPolicy(rate_limited=True)``); the rate-limit test uses one
that does not, and waits for the bucket to refill afterwards.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients import Client, Credentials, RetryPolicy
from tests.live import free_port, start_serve

BTC = "BTCUSDT"
ROOT = Path(__file__).resolve().parents[2]
_names = itertools.count(1)


class Server:
    """One ``paper-exchange serve`` process; ``restart`` keeps the port and the data."""

    def __init__(self, data_dir: Path, *args: str, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.args = args
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> Server:
        self.proc = start_serve(self.data_dir, self.port, *self.args, cwd=ROOT)
        return self

    def kill(self) -> None:
        """Die at once: connections are cut, nothing is said to clients."""
        assert self.proc is not None
        self.proc.kill()
        out, _ = self.proc.communicate(timeout=20)
        self.output.append(out)
        self.proc = None

    def stop(self) -> None:
        """Ctrl-C: a clean stop."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.output.append(out)
        self.proc = None

    @property
    def admin_key(self) -> str:
        return (self.data_dir / "admin.key").read_text().strip()

    def new_user(self, deposit: str = "10000") -> Credentials:
        with Client(self.url, retry=RetryPolicy(rate_limited=True)) as c:
            return c.create_user(f"t{next(_names)}-{self.port}", self.admin_key, deposit)

    def client(self, credentials: Credentials | None = None) -> Client:
        return Client(self.url, credentials, retry=RetryPolicy(rate_limited=True))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server: default instruments, built-in market makers and noise traders."""
    s = Server(tmp_path_factory.mktemp("clients") / "data").start()
    yield s
    s.stop()
    assert "Traceback" not in "".join(s.output), s.output


@pytest.fixture
def user(server: Server) -> Credentials:
    return server.new_user()


@pytest.fixture
def client(server: Server, user: Credentials) -> Iterator[Client]:
    with server.client(user) as c:
        yield c
