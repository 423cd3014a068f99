"""A live server for the Binance facade's ccxt tests: ``paper-exchange serve`` on a free
127.0.0.1 port, users made through the admin API, and ccxt pointed at it by URLs alone."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ccxt
import pytest

from tests.live import free_port, start_serve

SYMBOL = "BTC/USDT:USDT"


def point(exchange: Any, base: str) -> Any:
    """Point a ccxt binanceusdm (sync or pro) at ``base``: the README's lines."""
    for api, url in exchange.urls["api"].items():
        if isinstance(url, str):
            exchange.urls["api"][api] = url.replace("https://fapi.binance.com", base).replace(
                "https://api.binance.com", base)
    ws = exchange.urls["api"].get("ws")
    if isinstance(ws, dict):
        ws["linear"] = base.replace("http", "ws", 1) + "/fstream/ws"
    return exchange


@dataclass
class Live:
    url: str
    data_dir: Path
    admin_key: str
    markets: Any = None

    def user(self, name: str, deposit: str = "100000") -> dict[str, Any]:
        body = json.dumps({"name": f"{name}-{time.time_ns()}", "deposit": deposit}).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v1/admin/users", data=body, method="POST",
            headers={"X-ADMIN-KEY": self.admin_key, "Content-Type": "application/json"})
        for _ in range(20):
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    user: dict[str, Any] = json.load(answer)
                    return user
            except urllib.error.HTTPError as exc:  # the per-IP limit: wait it out
                if exc.code != 429:
                    raise
                time.sleep(1)
        raise AssertionError("could not create a user")

    def ccxt(self, name: str = "bot", secret: str | None = None,
             deposit: str = "100000") -> Any:
        """A ccxt binanceusdm for a new user, its markets loaded once per session."""
        user = self.user(name, deposit)
        exchange = point(ccxt.binanceusdm({"apiKey": user["api_key"],
                                           "secret": secret or user["secret"]}), self.url)
        exchange.user = user
        if self.markets is None:
            exchange.load_markets()
            self.markets = (exchange.markets, exchange.currencies)
        else:
            exchange.set_markets(*self.markets)
        return exchange


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("binance") / "data"
    port = free_port()
    proc = start_serve(data_dir, port, probe="/fapi/v1/ping")
    url = f"http://127.0.0.1:{port}"
    admin_key = (data_dir / "admin.key").read_text().strip()
    time.sleep(1.5)  # the first clock beats: a traded price and a mark
    yield Live(url, data_dir, admin_key)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
