"""Websocket streams through the ASGI app: depth sync, rate limits, and one-writer routes."""

from __future__ import annotations

import inspect
import json
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from exchange.server.app import all_routes, create_app
from exchange.server.runtime import Exchange, ServerConfig
from tests.exchange.server.conftest import Server, make_server

BTC = "BTCUSDT"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path, agents=True)


def test_every_route_runs_on_the_event_loop(live: Server) -> None:
    # A plain ``def`` route would run in a worker thread beside the sequencer.
    routes = [r for r in all_routes(live.client.app.routes)  # type: ignore[attr-defined]
              if isinstance(r, APIRoute)]
    assert len(routes) > 30  # the walk reaches the included routers' routes
    for route in routes:
        assert inspect.iscoroutinefunction(route.endpoint), route.path


def test_depth_deltas_applied_to_a_snapshot_give_the_live_book(live: Server) -> None:
    traders = [live.user(f"t{i}", "1000000") for i in range(3)]
    rng = random.Random(5)
    with live.client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "id": 1, "streams": [f"depth@{BTC}"]})
        assert ws.receive_json()["id"] == 1
        snapshot = live.client.get(f"/api/v1/depth?symbol={BTC}&limit=1000").json()
        book: dict[tuple[str, str], str] = {("BUY", p): q for p, q in snapshot["bids"]}
        book |= {("SELL", p): q for p, q in snapshot["asks"]}
        mark = Decimal(live.client.get(f"/api/v1/prices?symbol={BTC}").json()["mark"])
        placed: list[tuple[Any, int]] = []
        for i in range(1500):
            t = traders[rng.randrange(3)]
            roll = rng.random()
            if roll < 0.2 and placed:
                trader, order_id = placed.pop(rng.randrange(len(placed)))
                trader.delete(f"/api/v1/orders/{order_id}?symbol={BTC}")
            elif roll < 0.3:
                t.post("/api/v1/orders", {"symbol": BTC, "side": rng.choice(["BUY", "SELL"]),
                                          "type": "MARKET", "quantity": "0.003"})
            else:
                side = rng.choice(["BUY", "SELL"])
                offset = Decimal(rng.randint(-20, 60)) * Decimal("0.5")
                price = mark - offset if side == "BUY" else mark + offset
                r = t.post("/api/v1/orders", {"symbol": BTC, "side": side, "type": "LIMIT",
                                              "quantity": "0.002", "price": f"{price:.1f}"})
                if r.status_code == 200 and r.json()["status"] in ("NEW", "PARTIALLY_FILLED"):
                    placed.append((t, r.json()["order_id"]))
            if i % 300 == 0:
                live.run(live.exchange.step_agents)
        ws.send_json({"op": "ping", "id": 99})  # answered after every delta before it
        applied = 0
        while True:
            message = ws.receive_json()
            if message.get("id") == 99:
                break
            delta = message["data"]
            if delta["book_seq"] > snapshot["seq"]:
                book[delta["side"], delta["price"]] = delta["total"]
                applied += 1
        fresh = live.client.get(f"/api/v1/depth?symbol={BTC}&limit=1000").json()
    assert applied > 1000
    zero = {q for q in book.values() if Decimal(q) == 0}
    mine = {k: v for k, v in book.items() if v not in zero}
    assert mine == ({("BUY", p): q for p, q in fresh["bids"]}
                    | {("SELL", p): q for p, q in fresh["asks"]})


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "d", market_makers=False, noise_traders=False,
                          rate_per_key=2, burst=5)
    with TestClient(create_app(Exchange(config), run_clock=False)) as client:
        codes = [client.get(f"/api/v1/depth?symbol={BTC}").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        r = client.get(f"/api/v1/depth?symbol={BTC}")
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert r.json()["code"] == "RATE_LIMITED"


def test_websocket_bad_messages_get_errors_not_disconnects(live: Server) -> None:
    with live.client.websocket_connect("/ws") as ws:
        for raw in ("not json", "[1,2]", json.dumps({"op": "fly"}),
                    json.dumps({"op": "subscribe", "streams": "depth@BTCUSDT"}),
                    json.dumps({"op": "login", "api_key": "x", "timestamp": "1",
                                "signature": "y"})):
            ws.send_text(raw)
            reply = ws.receive_json()
            assert set(reply["error"]) == {"code", "msg"}
        ws.send_json({"op": "ping", "id": 7})
        assert ws.receive_json()["result"] == "pong"


def test_a_non_ascii_login_signature_is_answered(live: Server) -> None:
    bot = live.user("accents")
    with live.client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "login", "id": 1, "api_key": bot.api_key,
                      "timestamp": str(int(time.time() * 1000)), "signature": "\u00e9" * 64})
        reply = ws.receive_json()
        assert reply["id"] == 1 and reply["error"]["code"] == "AUTH_INVALID_SIGNATURE"
        ws.send_json({"op": "login", "id": 2, "api_key": bot.api_key, "timestamp": "\u00b2",
                      "signature": "00"})
        assert ws.receive_json()["error"]["code"] == "AUTH_TIMESTAMP"


def test_a_slow_consumer_is_closed_not_waited_for() -> None:
    import asyncio

    from exchange.server.ws import Connection, writer

    class StuckSocket:
        """A client that reads nothing until the end: what it is sent piles up."""

        def __init__(self) -> None:
            self.sent: list[str] = []
            self.closed: tuple[int, str] | None = None

        async def send_text(self, text: str) -> None:
            self.sent.append(text)

        async def close(self, code: int, reason: str) -> None:
            self.closed = (code, reason)

    async def scenario() -> None:
        socket = StuckSocket()
        conn = Connection(socket, limit=10)  # type: ignore[arg-type]
        for i in range(50):  # the sequencer publishes without ever waiting
            conn.send({"n": i})
        assert conn.outbox.overflowed
        await asyncio.wait_for(writer(conn), 5)
        assert socket.closed is not None and socket.closed[0] == 1008
        assert "slow consumer" in socket.closed[1]
        assert len(socket.sent) < 10  # it was dropped, not fed the backlog

    asyncio.run(scenario())
