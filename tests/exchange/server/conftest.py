"""A server under test: the real app over the ASGI interface, its clock stepped by hand."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exchange.server.app import create_app
from exchange.server.auth import sign, signature_payload
from exchange.server.runtime import Exchange, ServerConfig


class Trader:
    """A signed client for one user of the test server."""

    def __init__(self, client: TestClient, user: dict[str, Any]) -> None:
        self.client = client
        self.user = user["user"]
        self.api_key = user["api_key"]
        self.secret = user["secret"]

    def headers(self, method: str, path: str, body: bytes = b"",
                timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else time.time_ns() // 1_000_000)
        return {"X-API-KEY": self.api_key, "X-TIMESTAMP": ts,
                "X-SIGNATURE": sign(self.secret, signature_payload(ts, method, path, body)),
                "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        raw = json.dumps(body).encode() if body is not None else b""
        return self.client.request(method, path, content=raw or None,
                                   headers=self.headers(method, path, raw))

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("PATCH", path, body)


class Server:
    def __init__(self, exchange: Exchange, client: TestClient) -> None:
        self.exchange = exchange
        self.client = client

    def user(self, name: str, deposit: str | None = "100000") -> Trader:
        body: dict[str, Any] = {"name": name}
        if deposit is not None:
            body["deposit"] = deposit
        r = self.client.post("/api/v1/admin/users", json=body,
                             headers={"X-ADMIN-KEY": self.exchange.admin_key})
        assert r.status_code == 200, r.text
        return Trader(self.client, r.json())

    def run(self, fn: Any) -> Any:
        """Run ``fn`` on the server's event loop, the one sequencer, as the server would."""
        assert self.client.portal is not None
        return self.client.portal.call(fn)

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.run(self.exchange.tick)


def make_server(tmp_path: Path, agents: bool) -> Iterator[Server]:
    config = ServerConfig(data_dir=tmp_path / "data", market_makers=agents,
                          noise_traders=False, rate_per_key=10_000, burst=10_000)
    exchange = Exchange(config)
    with TestClient(create_app(exchange, run_clock=False)) as client:
        yield Server(exchange, client)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A server without built-in agents: tests bring their own counterparties."""
    yield from make_server(tmp_path, agents=False)
