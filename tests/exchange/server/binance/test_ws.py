"""The facade's websocket streams through the ASGI app: Binance's SUBSCRIBE protocol, depth
diffs that rebuild the venue's book from a REST snapshot, the market streams, and the user data
stream of a listen key (orders, fills, algo orders, account, leverage, margin calls)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from exchange.core.commands import SetMarkPrice
from exchange.core.events import LiquidationStarted, MarginCall
from exchange.core.views import account_view
from tests.exchange.server.binance.client import Bot, bot
from tests.exchange.server.binance.test_rest import mark_of, set_mark
from tests.exchange.server.conftest import Server, make_server

BTC = "BTCUSDT"


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Server]:
    yield from make_server(tmp_path, agents=True)


def until(ws: Any, check: Callable[[dict[str, Any]], bool], limit: int = 500) -> dict[str, Any]:
    for _ in range(limit):
        message: dict[str, Any] = ws.receive_json()
        if check(message):
            return message
    raise AssertionError("the expected message never came")


def listen(b: Bot) -> str:
    key: str = b.call("POST", "/fapi/v1/listenKey", sign=False).json()["listenKey"]
    return key


def test_subscribe_protocol(market: Server) -> None:
    with market.client.websocket_connect("/fstream/ws") as ws:
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "ethusdt@depth"],
                      "id": 1})
        assert until(ws, lambda m: m.get("id") == 1) == {"result": None, "id": 1}
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        assert until(ws, lambda m: m.get("id") == 2)["result"] == [
            "btcusdt@aggTrade", "ethusdt@depth"]
        ws.send_json({"method": "UNSUBSCRIBE", "params": ["ethusdt@depth"], "id": 3})
        assert until(ws, lambda m: m.get("id") == 3)["result"] is None
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@nonsense"], "id": 4})
        assert until(ws, lambda m: m.get("id") == 4)["error"]["code"] == 2
        ws.send_json({"method": "SUBSCRIBE", "params": ["xyzusdt@trade"], "id": 5})
        assert until(ws, lambda m: m.get("id") == 5)["error"]["code"] == 2
        ws.send_text("{not json")
        assert until(ws, lambda m: "error" in m)["error"]["code"] == 3
        ws.send_bytes(b"\xff\x00")
        assert until(ws, lambda m: "error" in m)["error"]["code"] == 3
        ws.send_json({"method": "DANCE", "id": 6})
        assert until(ws, lambda m: m.get("id") == 6)["error"]["code"] == 2
        ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 7})
        assert until(ws, lambda m: m.get("id") == 7)["result"] is False
        ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 8})
        assert until(ws, lambda m: m.get("id") == 8)["result"] is None
        ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 9})
        assert until(ws, lambda m: m.get("id") == 9)["result"] == ["btcusdt@aggTrade"]


def test_depth_diffs_rebuild_the_venues_book(market: Server) -> None:
    traders = [bot(market, f"d{i}", "1000000") for i in range(3)]
    rng = random.Random(7)
    mark = Decimal(str(mark_of(market)))
    with market.client.websocket_connect("/fstream/public/ws/0") as ws:
        ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1})
        until(ws, lambda m: m.get("id") == 1)
        snapshot = market.client.get(f"/fapi/v1/depth?symbol={BTC}&limit=1000").json()
        placed: list[tuple[Bot, int]] = []
        for _ in range(300):
            t = traders[rng.randrange(3)]
            roll = rng.random()
            if roll < 0.2 and placed:
                owner, order_id = placed.pop(rng.randrange(len(placed)))
                owner.call("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": order_id})
            elif roll < 0.3:
                t.call("POST", "/fapi/v1/order", {"symbol": BTC, "side": rng.choice(
                    ["BUY", "SELL"]), "type": "MARKET", "quantity": "0.003"})
            else:
                side = rng.choice(["BUY", "SELL"])
                offset = Decimal(rng.randint(-20, 60)) * Decimal("0.5")
                price = mark - offset if side == "BUY" else mark + offset
                answer = t.call("POST", "/fapi/v1/order", {
                    "symbol": BTC, "side": side, "type": "LIMIT", "quantity": "0.002",
                    "price": str(price.quantize(Decimal("0.1"))), "timeInForce": rng.choice(
                        ["GTC", "GTC", "IOC", "GTX"])})
                if answer.status_code == 200 and answer.json()["status"] == "NEW":
                    placed.append((t, answer.json()["orderId"]))
        final = market.client.get(f"/fapi/v1/depth?symbol={BTC}&limit=1000").json()
        # Binance's recipe: drop diffs with u < lastUpdateId; the first applied one spans it;
        # each next one's pu is the last one's u.
        book = {("b", p): q for p, q in snapshot["bids"]} | {
            ("a", p): q for p, q in snapshot["asks"]}
        last_u: int | None = None
        while last_u is None or last_u < final["lastUpdateId"]:
            diff = ws.receive_json()
            assert diff["e"] == "depthUpdate" and diff["U"] == diff["pu"] + 1
            assert diff["U"] <= diff["u"]
            if diff["u"] < snapshot["lastUpdateId"]:
                continue
            if last_u is None:
                assert diff["U"] <= snapshot["lastUpdateId"] <= diff["u"] or (
                    diff["pu"] == snapshot["lastUpdateId"])
            else:
                assert diff["pu"] == last_u
            last_u = diff["u"]
            for side in ("b", "a"):
                for price, qty in diff[side]:
                    if Decimal(qty) == 0:
                        book.pop((side, price), None)
                    else:
                        book[(side, price)] = qty
        assert last_u == final["lastUpdateId"]
        bids = sorted(((p, q) for (s, p), q in book.items() if s == "b"),
                      key=lambda x: -Decimal(x[0]))
        asks = sorted(((p, q) for (s, p), q in book.items() if s == "a"),
                      key=lambda x: Decimal(x[0]))
        assert [list(x) for x in bids] == final["bids"]
        assert [list(x) for x in asks] == final["asks"]


def test_market_streams(market: Server) -> None:
    b = bot(market, "streams")
    streams = ["btcusdt@trade", "btcusdt@aggTrade", "btcusdt@bookTicker", "btcusdt@kline_1m",
               "btcusdt@markPrice@1s", "btcusdt@miniTicker", "btcusdt@ticker",
               "btcusdt@depth5@100ms", "!markPrice@arr@1s", "!miniTicker@arr"]
    with market.client.websocket_connect(
            "/fstream/market/stream?streams=" + "/".join(streams)) as ws:
        b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                         "quantity": "0.500"})
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(400):
            message = ws.receive_json()
            seen.setdefault(message["stream"], message["data"])
            if set(seen) == set(streams):
                break
        assert set(seen) == set(streams)
    trade, agg = seen["btcusdt@trade"], seen["btcusdt@aggTrade"]
    assert trade["e"] == "trade" and trade["s"] == BTC and trade["m"] is False
    assert agg["e"] == "aggTrade" and agg["f"] <= agg["l"]
    assert seen["btcusdt@bookTicker"]["e"] == "bookTicker"
    kline = seen["btcusdt@kline_1m"]["k"]
    assert kline["i"] == "1m" and kline["x"] is False and float(kline["v"]) >= 0.5
    mark = seen["btcusdt@markPrice@1s"]
    assert mark["e"] == "markPriceUpdate" and mark["r"] == "0.00010000"
    assert {row["s"] for row in seen["!markPrice@arr@1s"]} == {BTC, "ETHUSDT", "SOLUSDT"}
    assert seen["btcusdt@miniTicker"]["e"] == "24hrMiniTicker"
    assert seen["btcusdt@ticker"]["e"] == "24hrTicker"
    partial = seen["btcusdt@depth5@100ms"]
    assert len(partial["b"]) == 5 and len(partial["a"]) == 5


def test_user_data_stream(market: Server) -> None:
    b = bot(market, "listener")
    key = listen(b)
    with market.client.websocket_connect(f"/fstream/private/ws?listenKey={key}") as ws:
        mark = mark_of(market)
        resting = b.ok("POST", "/fapi/v1/order", {
            "symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.010", "price": f"{mark * 0.99:.1f}"})
        new = until(ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE")["o"]
        assert (new["i"], new["x"], new["X"], new["ps"]) == (resting["orderId"], "NEW", "NEW",
                                                             "BOTH")
        filled = b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY",
                                                  "type": "MARKET", "quantity": "0.020"})
        trade = until(ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED")
        assert trade["o"]["i"] == filled["orderId"] and trade["o"]["x"] == "TRADE"
        assert trade["o"]["z"] == "0.020" and float(trade["o"]["n"]) > 0
        account = until(ws, lambda m: m["e"] == "ACCOUNT_UPDATE")["a"]
        assert account["m"] == "ORDER" and account["B"][0]["a"] == "USDT"
        assert account["P"] == [{"s": BTC, "pa": "0.020", "ep": account["P"][0]["ep"],
                                 "bep": account["P"][0]["bep"], "cr": "0.00000000",
                                 "up": account["P"][0]["up"], "mt": "cross",
                                 "iw": "0.00000000", "ps": "BOTH"}]
        b.ok("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 3})
        assert until(ws, lambda m: m["e"] == "ACCOUNT_CONFIG_UPDATE")["ac"] == {"s": BTC,
                                                                               "l": 3}
        trigger = f"{mark - 300:.1f}0"
        stop = b.ok("POST", "/fapi/v1/algoOrder", {
            "algoType": "CONDITIONAL", "symbol": BTC, "side": "SELL", "type": "STOP_MARKET",
            "quantity": "0.020", "triggerPrice": trigger, "workingType": "MARK_PRICE",
            "reduceOnly": True})
        algo = until(ws, lambda m: m["e"] == "ALGO_UPDATE")["o"]
        assert (algo["aid"], algo["X"], algo["tp"], algo["o"]) == (
            stop["algoId"], "NEW", trigger, "STOP_MARKET")
        set_mark(market, trigger)
        fired = until(ws, lambda m: m["e"] == "ALGO_UPDATE")["o"]
        assert fired["X"] == "TRIGGERED" and fired["ai"] == str(stop["algoId"])
        done = until(ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED")
        assert done["o"]["i"] == stop["algoId"] and done["o"]["ot"] == "STOP_MARKET"
        assert until(ws, lambda m: m["e"] == "ALGO_UPDATE")["o"]["X"] == "FINISHED"
        flat = until(ws, lambda m: m["e"] == "ACCOUNT_UPDATE")["a"]["P"]
        assert flat[0]["pa"] == "0.000"
        b.ok("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": resting["orderId"]})
        gone = until(ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE")["o"]
        assert (gone["i"], gone["X"]) == (resting["orderId"], "CANCELED")
        b.call("DELETE", "/fapi/v1/listenKey", sign=False)
        expired = until(ws, lambda m: m["e"] == "listenKeyExpired")
        assert expired["listenKey"] == key


def test_a_margin_call_and_a_liquidation(market: Server) -> None:
    b = bot(market, "reckless", "3000")
    key = listen(b)
    b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                     "quantity": "0.500"})
    inst = market.exchange.instruments[BTC]
    view = account_view(market.exchange.venue, b.user).positions[0]
    assert view.liquidation_price is not None
    liquidation = int(view.liquidation_price)
    with market.client.websocket_connect("/fstream/ws/!forceOrder@arr") as public, \
            market.client.websocket_connect(f"/fstream/ws/{key}") as ws:
        price = liquidation + 400
        called = False
        while not called:
            price -= 10
            events = market.run(lambda p=price: market.exchange.apply(
                lambda ts: SetMarkPrice(ts, BTC, p, p)))
            called = any(type(e) is MarginCall for e in events)
            assert not any(type(e) is LiquidationStarted for e in events)
        call = until(ws, lambda m: m["e"] == "MARGIN_CALL")
        assert call["p"][0]["s"] == BTC and call["p"][0]["mt"] == "CROSSED"
        assert call["p"][0]["mp"] == inst.price_str(price)
        set_mark(market, inst.price_str(liquidation - 50))
        forced = until(ws, lambda m: m["e"] == "ORDER_TRADE_UPDATE")["o"]
        assert forced["c"].startswith("autoclose-") and forced["x"] == "CALCULATED"
        assert until(public, lambda m: m["e"] == "forceOrder")["o"]["s"] == BTC
    assert b.ok("GET", "/fapi/v3/positionRisk") == []


def test_a_bad_listen_key_is_refused(market: Server) -> None:
    with pytest.raises(WebSocketDisconnect), market.client.websocket_connect(
            "/fstream/private/ws?listenKey=nope") as ws:
        ws.receive_json()
