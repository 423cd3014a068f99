"""The REST API through the ASGI app: public data, signed trading, errors, isolation."""

from __future__ import annotations

import json
import os
import stat
import time
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exchange.server.conftest import Server, Trader

BTC = "BTCUSDT"


def order(symbol: str = BTC, **fields: Any) -> dict[str, Any]:
    return {"symbol": symbol, **fields}


def mark(server: Server) -> str:
    r = server.client.get(f"/api/v1/prices?symbol={BTC}")
    assert r.status_code == 200
    value: str = r.json()["mark"]
    return value


def test_public_endpoints(server: Server) -> None:
    c = server.client
    assert abs(c.get("/api/v1/time").json()["server_time"] - time.time() * 1000) < 5_000
    instruments = c.get("/api/v1/instruments").json()
    btc = next(i for i in instruments if i["symbol"] == BTC)
    assert btc["tick_size"] == "0.10" and btc["step_size"] == "0.001"
    assert btc["tiers"][0]["max_leverage"] == 125 and btc["tiers"][0]["mmr"] == "0.004"
    prices = c.get(f"/api/v1/prices?symbol={BTC}").json()
    assert prices["index"] == "65000.00" or prices["index"].startswith("6")
    assert prices["funding_rate"] == "0.00010000"
    assert c.get(f"/api/v1/depth?symbol={BTC}").json()["bids"] == []
    assert c.get(f"/api/v1/ticker?symbol={BTC}").status_code == 200
    assert c.get(f"/api/v1/klines?symbol={BTC}&interval=1m").json() == []
    assert c.get("/api/v1/insurance").json()["balance"] == "0.00000000"
    assert c.get("/openapi.json").status_code == 200


def test_errors_are_json_with_stable_codes(server: Server) -> None:
    c = server.client
    r = c.get("/api/v1/depth?symbol=NOPE")
    assert r.status_code == 400 and r.json()["code"] == "UNKNOWN_SYMBOL"
    r = c.get(f"/api/v1/klines?symbol={BTC}&interval=7m")
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    r = c.get(f"/api/v1/depth?symbol={BTC}&limit=abc")
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    r = c.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    r = c.get("/api/v1/account")
    assert r.status_code == 401 and r.json()["code"] == "AUTH_MISSING"


def test_a_bot_trades_end_to_end(server: Server) -> None:
    maker = server.user("maker", "1000000")
    bot = server.user("bot", None)
    r = bot.post("/api/v1/faucet", {"amount": "10000"})
    assert r.status_code == 200, r.text
    assert bot.get("/api/v1/account").json()["wallet_balance"] == "10000.00000000"
    assert bot.post("/api/v1/leverage", {"symbol": BTC, "leverage": 10}).status_code == 200

    price = mark(server)
    r = maker.post("/api/v1/orders", order(side="SELL", type="LIMIT", quantity="0.100",
                                          price=price))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "NEW"
    depth = server.client.get(f"/api/v1/depth?symbol={BTC}").json()
    assert depth["asks"] == [[price, "0.100"]]

    r = bot.post("/api/v1/orders", order(side="BUY", type="MARKET", quantity="0.050",
                                        client_order_id="my-first"))
    assert r.status_code == 200, r.text
    placed = r.json()
    assert placed["status"] == "FILLED" and placed["client_order_id"] == "my-first"
    assert placed["avg_price"] == price and len(placed["fills"]) == 1

    positions = {p["symbol"]: p for p in bot.get("/api/v1/positions").json()}
    pos = positions[BTC]
    assert pos["size"] == "0.050" and pos["entry_price"] == price
    # 0.05 BTC against a 10,000 USDT cross wallet: no price liquidates it.
    assert pos["leverage"] == 10 and pos["liquidation_price"] is None
    fills = bot.get("/api/v1/fills").json()
    assert fills[-1]["quantity"] == "0.050" and fills[-1]["maker"] is False

    # Close: a reduce-only limit sell rests, then the maker lifts it.
    r = bot.post("/api/v1/orders", order(side="SELL", type="LIMIT", quantity="0.050",
                                        price=price, reduce_only=True, time_in_force="GTC"))
    assert r.status_code == 200, r.text
    # The maker's own ask is at the same price: the bot's sell rests behind it.
    open_orders = bot.get("/api/v1/orders/open").json()
    assert [o["order_id"] for o in open_orders] == [r.json()["order_id"]]
    r = bot.delete(f"/api/v1/orders/{r.json()['order_id']}?symbol={BTC}")
    assert r.status_code == 200 and r.json()["status"] == "CANCELED"
    # The maker bids (below its own ask); the bot closes at market, reduce-only.
    bid = str(Decimal(price) - 1)
    r = maker.post("/api/v1/orders", order(side="BUY", type="LIMIT", quantity="0.100",
                                          price=bid))
    assert r.status_code == 200, r.text
    r = bot.post("/api/v1/orders", order(side="SELL", type="MARKET", quantity="0.050",
                                        reduce_only=True))
    assert r.status_code == 200 and r.json()["status"] == "FILLED", r.text
    positions = {p["symbol"]: p for p in bot.get("/api/v1/positions").json()}
    assert positions[BTC]["size"] == "0.000"
    history = bot.get("/api/v1/orders/history").json()
    assert [o["status"] for o in history] == ["FILLED", "CANCELED", "FILLED"]


def test_order_rejections_carry_the_venue_code(server: Server) -> None:
    bot = server.user("bot", "100")
    r = bot.post("/api/v1/orders", order(side="BUY", type="LIMIT", quantity="1.000",
                                        price=mark(server)))
    assert r.status_code == 400 and r.json()["code"] == "INSUFFICIENT_MARGIN"
    r = bot.post("/api/v1/orders", order(side="BUY", type="LIMIT", quantity="0.0015",
                                        price=mark(server)))
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    assert "multiple" in r.json()["msg"]
    r = bot.post("/api/v1/orders", order(side="UP", quantity="0.001"))
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    r = bot.post("/api/v1/orders", {"symbol": BTC, "side": "BUY", "quantity": 0.5})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    r = bot.post("/api/v1/orders", {"symbol": BTC, "side": "BUY", "qty": "1"})
    assert r.status_code == 400  # unknown field: a typo is an error, not ignored


def test_signatures_timestamps_and_permissions(server: Server) -> None:
    bot = server.user("bot")
    path = "/api/v1/account"
    headers = bot.headers("GET", path)
    headers["X-SIGNATURE"] = "0" * 64
    r = server.client.get(path, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "AUTH_INVALID_SIGNATURE"
    stale = bot.headers("GET", path, timestamp=int(time.time() * 1000) - 60_000)
    r = server.client.get(path, headers=stale)
    assert r.status_code == 401 and r.json()["code"] == "AUTH_TIMESTAMP"
    headers = bot.headers("GET", path)
    headers["X-API-KEY"] = "nope"
    r = server.client.get(path, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "AUTH_INVALID_KEY"
    # A body signed for one request cannot be replayed with another body.
    body = json.dumps(order(side="BUY", type="MARKET", quantity="0.001")).encode()
    headers = bot.headers("POST", "/api/v1/orders", b"{}")
    r = server.client.post("/api/v1/orders", content=body, headers=headers)
    assert r.status_code == 401
    # A read-only key may read but not trade.
    from exchange.server.auth import Permission

    key = server.exchange.keys.create_key(bot.user, frozenset({Permission.READ}))
    reader = Trader(server.client, {"user": bot.user, "api_key": key.api_key,
                                    "secret": key.secret})
    assert reader.get("/api/v1/account").status_code == 200
    r = reader.post("/api/v1/orders", order(side="BUY", type="MARKET", quantity="0.001"))
    assert r.status_code == 403 and r.json()["code"] == "AUTH_FORBIDDEN"


def test_non_ascii_auth_headers_are_refused_not_failed(server: Server) -> None:
    # "²" and "¹" pass str.isdigit() but not int(); hmac.compare_digest raises on non-ASCII
    # text: each of these used to answer 500.
    bot = server.user("bot")
    body = json.dumps(order(side="BUY", type="MARKET", quantity="0.001")).encode()
    for method, path, content in (("GET", "/api/v1/account", b""),
                                  ("POST", "/api/v1/orders", body)):
        for name, value, status, code in (
                ("X-SIGNATURE", "\xe9" * 64, 401, "AUTH_INVALID_SIGNATURE"),
                ("X-TIMESTAMP", "\xb2", 401, "AUTH_TIMESTAMP"),
                ("X-RECV-WINDOW", "\xb9", 400, "INVALID_REQUEST")):
            headers: dict[str, Any] = dict(bot.headers(method, path, content))
            headers[name] = value.encode("latin-1")  # as the bytes arrive on the wire
            r = server.client.request(method, path, content=content or None, headers=headers)
            assert (r.status_code, r.json()["code"]) == (status, code), (path, name, r.text)
    assert server.exchange.venue.accounts[bot.user].positions[BTC].size == 0


_FUZZ_USERS: dict[int, Trader] = {}  # one user per server: hypothesis reuses the fixture
_HEADER_BYTES = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=24).map(
    lambda text: text.encode("latin-1"))  # any byte a header value may carry


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["X-API-KEY", "X-TIMESTAMP", "X-SIGNATURE", "X-RECV-WINDOW"]),
       value=_HEADER_BYTES, post=st.booleans())
def test_any_auth_header_value_gets_a_4xx_answer(server: Server, name: str, value: bytes,
                                                  post: bool) -> None:
    bot = _FUZZ_USERS.get(id(server)) or _FUZZ_USERS.setdefault(id(server), server.user("fuzz"))
    method, path = ("POST", "/api/v1/orders") if post else ("GET", "/api/v1/orders/open")
    body = json.dumps(order(side="BUY", type="LIMIT", price="1000", quantity="0.1")).encode()
    content = body if post else b""
    headers: dict[str, Any] = dict(bot.headers(method, path, content))
    headers[name] = value
    r = server.client.request(method, path, content=content or None, headers=headers)
    if r.status_code < 300:  # only a value that means what the valid one did
        return
    assert r.status_code < 500 and set(r.json()) == {"code", "msg"}, r.text


def test_users_are_isolated(server: Server) -> None:
    alice = server.user("alice")
    bob = server.user("bob")
    r = alice.post("/api/v1/orders", order(side="BUY", type="LIMIT", quantity="0.010",
                                          price=mark(server)))
    order_id = r.json()["order_id"]
    assert bob.get(f"/api/v1/orders/{order_id}").status_code == 404
    r = bob.delete(f"/api/v1/orders/{order_id}?symbol={BTC}")
    assert r.status_code == 400 and r.json()["code"] == "UNKNOWN_ORDER"
    r = bob.patch(f"/api/v1/orders/{order_id}", {"symbol": BTC, "quantity": "0.005"})
    assert r.status_code == 400 and r.json()["code"] == "UNKNOWN_ORDER"
    assert bob.get("/api/v1/orders/open").json() == []
    assert bob.delete(f"/api/v1/orders?symbol={BTC}").json() == {"canceled": []}
    assert alice.get(f"/api/v1/orders/{order_id}").json()["status"] == "NEW"


def test_admin_key_file_is_owner_only(server: Server) -> None:
    mode = stat.S_IMODE(os.stat(server.exchange.admin_key_path).st_mode)
    assert mode == 0o600
    r = server.client.post("/api/v1/admin/users", json={"name": "x"},
                           headers={"X-ADMIN-KEY": "wrong"})
    assert r.status_code == 401
    r = server.client.post("/api/v1/signup", json={"name": "self-made", "deposit": "500"})
    assert r.status_code == 200 and set(r.json()) >= {"user", "api_key", "secret"}
    r = server.client.post("/api/v1/signup", json={"name": "self-made"})
    assert r.status_code == 409 and r.json()["code"] == "USER_EXISTS"


def test_clock_ticks_move_the_index_and_mark(server: Server) -> None:
    before = server.client.get(f"/api/v1/prices?symbol={BTC}").json()
    server.tick(5)
    after = server.client.get(f"/api/v1/prices?symbol={BTC}").json()
    assert after["index"] != before["index"] or after["mark"] != before["mark"]


def test_account_reset_starts_over(server: Server) -> None:
    maker, bot = server.user("maker", "1000000"), server.user("resetter", "5000")
    price = mark(server)
    assert bot.post("/api/v1/orders", order(side="BUY", type="LIMIT", quantity="0.010",
                                            price=str(Decimal(price) * Decimal("0.98")
                                                      .quantize(Decimal("0.1"))))
                    ).status_code == 200
    r = bot.post("/api/v1/account/reset", {})
    assert r.status_code == 200, r.text
    assert r.json()["wallet_balance"] == "10000.00000000"  # the server's default
    assert r.json()["order_initial_margin"] == "0.00000000"
    assert bot.get(f"/api/v1/orders/open?symbol={BTC}").json() == []
    r = bot.post("/api/v1/account/reset", {"balance": "2500.5"})
    assert r.json()["wallet_balance"] == "2500.50000000"
    for bad, code in (({"balance": "-1"}, "INVALID_REQUEST"),
                      ({"balance": "1e3"}, "INVALID_REQUEST"),
                      ({"balance": "99999999999"}, "INVALID_REQUEST"),
                      ({"wallet": "1"}, "INVALID_REQUEST")):
        r = bot.post("/api/v1/account/reset", bad)
        assert (r.status_code, r.json()["code"]) == (400, code), (bad, r.text)
    # With a position open, a reset is refused: it is closed by trading first.
    sell = maker.post("/api/v1/orders", order(side="SELL", type="LIMIT", quantity="0.010",
                                              price=price))
    assert sell.status_code == 200
    assert bot.post("/api/v1/orders", order(side="BUY", type="MARKET", quantity="0.010")
                    ).status_code == 200
    r = bot.post("/api/v1/account/reset", {})
    assert (r.status_code, r.json()["code"]) == (400, "POSITION_OPEN")
    assert bot.get("/api/v1/account").json()["wallet_balance"] != "10000.00000000"
    assert server.exchange.venue.conservation_gap() == 0


def test_account_reset_can_be_switched_off(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from exchange.server.app import create_app
    from exchange.server.runtime import Exchange, ServerConfig

    config = ServerConfig(data_dir=tmp_path / "d", market_makers=False, noise_traders=False,
                          reset=False)
    with TestClient(create_app(Exchange(config), run_clock=False)) as client:
        from tests.exchange.server.conftest import Server as Srv

        bot = Srv(client.app.state.exchange, client).user("competitor")  # type: ignore[attr-defined]
        r = bot.post("/api/v1/account/reset", {})
        assert (r.status_code, r.json()["code"]) == (403, "FEATURE_DISABLED")
