"""The server as a newcomer gets it: built-in market makers quoting, a bot trading on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.exchange.server.conftest import Server, make_server

BTC = "BTCUSDT"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path, agents=True)


def test_the_book_has_liquidity_out_of_the_box(live: Server) -> None:
    for symbol in live.exchange.instruments:
        depth = live.client.get(f"/api/v1/depth?symbol={symbol}&limit=20").json()
        assert len(depth["bids"]) >= 5 and len(depth["asks"]) >= 5, symbol
        assert depth["bids"][0][0] < depth["asks"][0][0]


def test_the_book_follows_the_index(live: Server) -> None:
    live.tick(30)
    prices = live.client.get(f"/api/v1/prices?symbol={BTC}").json()
    depth = live.client.get(f"/api/v1/depth?symbol={BTC}&limit=1").json()
    index = float(prices["index"])
    mid = (float(depth["bids"][0][0]) + float(depth["asks"][0][0])) / 2
    assert abs(mid - index) / index < 0.001  # within 0.1% (a test-side float, not money)


def test_full_bot_flow_against_the_market_maker(live: Server) -> None:
    bot = live.user("bot", None)
    assert bot.post("/api/v1/faucet", {"amount": "5000"}).status_code == 200
    assert bot.post("/api/v1/leverage", {"symbol": BTC, "leverage": 20}).status_code == 200
    r = bot.post("/api/v1/orders", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                    "quantity": "0.010"})
    assert r.status_code == 200 and r.json()["status"] == "FILLED", r.text
    live.tick(3)
    position = next(p for p in bot.get("/api/v1/positions").json() if p["symbol"] == BTC)
    assert position["size"] == "0.010"
    r = bot.post("/api/v1/orders", {"symbol": BTC, "side": "SELL", "type": "MARKET",
                                    "quantity": "0.010", "reduce_only": True})
    assert r.status_code == 200 and r.json()["status"] == "FILLED", r.text
    position = next(p for p in bot.get("/api/v1/positions").json() if p["symbol"] == BTC)
    assert position["size"] == "0.000"
    account = bot.get("/api/v1/account").json()
    # Two taker fees and the spread: a little less than the 5,000 put in.
    assert 4_990 < float(account["wallet_balance"]) < 5_000
    assert live.exchange.venue.conservation_gap() == 0
