"""The facade's REST API through the ASGI app: signing the Binance way, Binance's error bodies
(and the native API's untouched), every endpoint's shape, conditional orders through the algo
order API until and after they fire, listen keys and the one-way position mode."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exchange.core.commands import SetMarkPrice, Tick
from exchange.server.app import create_app
from exchange.server.runtime import Exchange, ServerConfig
from tests.exchange.server.binance.client import bot
from tests.exchange.server.conftest import Server, Trader, make_server

BTC = "BTCUSDT"


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Server]:
    """A server with its market makers' book, its clock still (prices move only when told)."""
    yield from make_server(tmp_path, agents=True)


def mark_of(server: Server) -> float:
    return float(server.client.get(f"/fapi/v1/premiumIndex?symbol={BTC}").json()["markPrice"])


def set_mark(server: Server, price: str) -> None:
    inst = server.exchange.instruments[BTC]
    ticks = inst.parse_price(price)
    server.run(lambda: server.exchange.apply(lambda ts: SetMarkPrice(ts, BTC, ticks, ticks)))


# ------------------------------------------------------------------- signing and errors


def test_signed_requests_the_binance_way(market: Server) -> None:
    b = bot(market, "signer")
    assert b.ok("GET", "/fapi/v2/balance")[0]["balance"] == "100000.00000000"
    # the parameters in the body, the signature too; or the query string and the body mixed
    assert b.call("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 5}).json()[
        "leverage"] == 5
    ts = int(time.time() * 1000)
    body = f"symbol={BTC}&leverage=6"
    query = f"timestamp={ts}&recvWindow=10000"
    signature = hmac.new(b.secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    answer = market.client.post(f"/fapi/v1/leverage?{query}&signature={signature}",
                                content=body, headers={"X-MBX-APIKEY": b.api_key})
    assert answer.status_code == 200 and answer.json()["leverage"] == 6, answer.text


def test_auth_failures_carry_binances_codes(market: Server) -> None:
    b = bot(market, "auth")
    path = "/fapi/v3/account"
    assert b.error("GET", path, key="")[:2] == (401, -2014)
    assert b.error("GET", path, key="nope")[:2] == (401, -2015)
    assert b.error("GET", path, secret="f" * 64) == (
        400, -1022, "Signature for this request is not valid.")
    assert b.error("GET", path, sign=False)[1] == -1102  # no signature
    now = int(time.time() * 1000)
    stale = b.error("GET", path, timestamp=now - 6_000)
    assert stale[1:] == (-1021, "Timestamp for this request is outside of the recvWindow.")
    assert b.call("GET", path, {"recvWindow": 60_000}, timestamp=now - 6_000).status_code == 200
    assert b.error("GET", path, timestamp=now + 5_000)[1] == -1021  # from the future
    assert b.error("GET", path, {"recvWindow": 60_001})[1] == -1131
    assert b.error("GET", path + "?symbol=A&symbol=B", {})[1] in (-1101, -1022)


def test_a_non_ascii_signature_is_invalid_not_a_failure(market: Server) -> None:
    b = bot(market, "accents")
    now = int(time.time() * 1000)
    answer = market.client.get(f"/fapi/v2/balance?timestamp={now}&signature=%C3%A9",
                               headers={"X-MBX-APIKEY": b.api_key})
    assert (answer.status_code, answer.json()["code"]) == (400, -1022), answer.text


def test_unknown_paths_and_methods_answer_binance_shaped(market: Server) -> None:
    client = market.client
    answer = client.get("/fapi/v1/nothing")
    assert answer.status_code == 404 and answer.json()["code"] == -5000
    answer = client.patch("/fapi/v1/order")
    assert answer.status_code == 405 and answer.json() == {
        "code": -5000, "msg": "Path /fapi/v1/order, Method PATCH is invalid"}
    assert client.get("/sapi/v1/anything").json()["code"] == -5000
    # The native API keeps its own error shape.
    assert client.get("/api/v1/nothing").json() == {"code": "NOT_FOUND", "msg": "Not Found"}
    assert client.get("/api/v1/depth").json()["code"] == "INVALID_REQUEST"


def test_the_rate_limit_answers_binances_1003(tmp_path: Path) -> None:
    config = ServerConfig(data_dir=tmp_path / "data", market_makers=False, noise_traders=False,
                          rate_per_key=1, burst=3)
    with TestClient(create_app(Exchange(config), run_clock=False)) as client:
        answers = [client.get("/fapi/v1/time") for _ in range(6)]
        limited = [a for a in answers if a.status_code == 429]
        assert limited and all(a.json()["code"] == -1003 for a in limited)
        assert all("Retry-After" in a.headers for a in limited)
        native = client.get("/api/v1/time")
        assert native.status_code == 429 and native.json()["code"] == "RATE_LIMITED"


# ------------------------------------------------------------------- public endpoints


def test_public_endpoints_shapes(market: Server) -> None:
    client = market.client
    assert client.get("/fapi/v1/ping").json() == {}
    info = client.get("/fapi/v1/exchangeInfo").json()
    btc = next(s for s in info["symbols"] if s["symbol"] == BTC)
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"] == {"filterType": "LOT_SIZE", "minQty": "0.001",
                                   "maxQty": "1000.000", "stepSize": "0.001"}
    assert filters["MARKET_LOT_SIZE"]["maxQty"] == "120.000"
    assert filters["MIN_NOTIONAL"]["notional"] == "100"
    assert filters["PERCENT_PRICE"]["multiplierUp"] == "1.0500"
    assert btc["pricePrecision"] == 2 and btc["quantityPrecision"] == 3
    assert btc["contractType"] == "PERPETUAL" and btc["marginAsset"] == "USDT"
    depth = client.get(f"/fapi/v1/depth?symbol={BTC}&limit=5").json()
    assert len(depth["bids"]) == 5 and depth["lastUpdateId"] > 0
    assert float(depth["bids"][0][0]) < float(depth["asks"][0][0])
    book = client.get(f"/fapi/v1/ticker/bookTicker?symbol={BTC}").json()
    assert [book["bidPrice"], book["bidQty"]] == depth["bids"][0]
    assert [book["askPrice"], book["askQty"]] == depth["asks"][0]
    assert len(client.get("/fapi/v1/ticker/bookTicker").json()) == 3
    assert client.get(f"/fapi/v2/ticker/price?symbol={BTC}").json()["price"]
    premium = client.get("/fapi/v1/premiumIndex").json()
    assert {p["symbol"] for p in premium} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert premium[0]["lastFundingRate"] == "0.00010000"
    assert client.get(f"/fapi/v1/fundingRate?symbol={BTC}").json() == []
    assert client.get("/fapi/v1/fundingInfo").json()[0]["fundingIntervalHours"] == 8
    ticker = client.get(f"/fapi/v1/ticker/24hr?symbol={BTC}").json()
    assert set(ticker) >= {"lastPrice", "openPrice", "volume", "quoteVolume", "count"}
    assert client.get(f"/fapi/v1/openInterest?symbol={BTC}").json()["openInterest"]
    for path in ("/fapi/v1/markPriceKlines", "/fapi/v1/klines"):
        rows = client.get(f"{path}?symbol={BTC}&interval=1m").json()
        assert all(len(r) == 12 for r in rows)
    assert client.get(f"/fapi/v1/indexPriceKlines?pair={BTC}&interval=1h").status_code == 200
    assert client.get(f"/fapi/v1/klines?symbol={BTC}&interval=7m").json()["code"] == -1120
    assert client.get("/fapi/v1/depth?symbol=NOPE").json() == {
        "code": -1121, "msg": "Invalid symbol."}
    assert client.get("/fapi/v1/depth").json()["code"] == -1102
    assert client.get(f"/fapi/v1/historicalTrades?symbol={BTC}").json()["code"] == -2014


# ------------------------------------------------------------------- orders


def test_order_errors_name_the_binance_filter(market: Server) -> None:
    b = bot(market, "filters")
    mark = mark_of(market)
    order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
             "quantity": "0.010", "price": f"{mark * 0.99:.1f}"}
    assert b.error("POST", "/fapi/v1/order", order | {"price": "60000.05"})[1] == -4014
    assert b.error("POST", "/fapi/v1/order", order | {"price": "60000.051"})[1] == -1111
    assert b.error("POST", "/fapi/v1/order", order | {"quantity": "0.0105"})[1] == -1111
    assert b.error("POST", "/fapi/v1/order", order | {"quantity": "1e-3"})[1] == -1100
    assert b.error("POST", "/fapi/v1/order", order | {"price": f"{mark * 1.2:.1f}"})[1] == -4016
    assert b.error("POST", "/fapi/v1/order", order | {"price": f"{mark * 0.8:.1f}"})[1] == -4024
    assert b.error("POST", "/fapi/v1/order", order | {"quantity": "0.001"})[1] == -4164
    assert b.error("POST", "/fapi/v1/order", order | {"side": "UP"})[1] == -1117
    assert b.error("POST", "/fapi/v1/order", order | {"type": "ICEBERG"})[1] == -1116
    assert b.error("POST", "/fapi/v1/order", order | {"timeInForce": "GTD"})[1] == -1115
    assert b.error("POST", "/fapi/v1/order", order | {"positionSide": "LONG"})[1] == -4061
    assert b.error("POST", "/fapi/v1/order", {k: v for k, v in order.items()
                                              if k != "price"})[1] == -1102
    assert b.error("POST", "/fapi/v1/order", order | {"type": "STOP_MARKET",
                                                      "stopPrice": "1"})[1] == -4120
    assert b.error("POST", "/fapi/v1/order", order | {"quantity": "50"}) == (
        400, -2019, "Account has insufficient balance for requested action.")
    b.ok("POST", "/fapi/v1/order", order | {"newClientOrderId": "mine-1"})
    assert b.error("POST", "/fapi/v1/order", order | {"newClientOrderId": "mine-1"})[1] == -4116
    assert b.error("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": 999999})[1] == -2011
    assert b.error("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": 999999})[1] == -2013
    assert b.error("GET", "/fapi/v1/order", {"symbol": BTC})[1] == -1102


def test_an_order_round_trip(market: Server) -> None:
    b = bot(market, "trader")
    mark = mark_of(market)
    placed = b.ok("POST", "/fapi/v1/order", {
        "symbol": BTC, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.010",
        "price": f"{mark * 0.99:.1f}", "newClientOrderId": "rt-1", "newOrderRespType": "RESULT"})
    assert placed["status"] == "NEW" and placed["clientOrderId"] == "rt-1"
    assert placed["origQty"] == "0.010" and placed["executedQty"] == "0.000"
    assert placed["positionSide"] == "BOTH" and placed["type"] == "LIMIT"
    by_client = b.ok("GET", "/fapi/v1/order", {"symbol": BTC, "origClientOrderId": "rt-1"})
    assert by_client["orderId"] == placed["orderId"]
    assert b.ok("GET", "/fapi/v1/openOrder", {"symbol": BTC, "orderId": placed["orderId"]})
    amended = b.ok("PUT", "/fapi/v1/order", {"symbol": BTC, "orderId": placed["orderId"],
                                             "side": "BUY", "quantity": "0.020",
                                             "price": f"{mark * 0.98:.1f}"})
    assert amended["origQty"] == "0.020"
    assert float(amended["price"]) == pytest.approx(round(mark * 0.98, 1))
    assert [o["orderId"] for o in b.ok("GET", "/fapi/v1/openOrders", {"symbol": BTC})] == [
        placed["orderId"]]
    done = b.ok("DELETE", "/fapi/v1/order", {"symbol": BTC, "origClientOrderId": "rt-1"})
    assert done["status"] == "CANCELED"
    market_buy = b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY",
                                                  "type": "MARKET", "quantity": "0.050"})
    assert market_buy["status"] == "FILLED" and market_buy["executedQty"] == "0.050"
    assert float(market_buy["avgPrice"]) > 0 and float(market_buy["cumQuote"]) > 0
    history = b.ok("GET", "/fapi/v1/allOrders", {"symbol": BTC})
    assert [o["status"] for o in history] == ["CANCELED", "FILLED"]
    trades = b.ok("GET", "/fapi/v1/userTrades", {"symbol": BTC})
    assert trades and all(t["orderId"] == market_buy["orderId"] for t in trades)
    assert sum(float(t["qty"]) for t in trades) == pytest.approx(0.05)
    assert all(t["commissionAsset"] == "USDT" and not t["maker"] for t in trades)
    income = b.ok("GET", "/fapi/v1/income", {"incomeType": "COMMISSION"})
    assert len(income) == len(trades) and all(float(r["income"]) < 0 for r in income)
    positions = b.ok("GET", "/fapi/v3/positionRisk")
    assert [(p["symbol"], p["positionAmt"]) for p in positions] == [(BTC, "0.050")]
    assert float(positions[0]["entryPrice"]) == pytest.approx(float(market_buy["avgPrice"]))
    v2 = b.ok("GET", "/fapi/v2/positionRisk", {"symbol": BTC})
    assert v2[0]["marginType"] == "cross" and v2[0]["leverage"] == "20"
    account = b.ok("GET", "/fapi/v3/account")
    assert float(account["totalPositionInitialMargin"]) > 0
    assert [p["symbol"] for p in account["positions"]] == [BTC]
    assert account["assets"][0]["asset"] == "USDT" and account["assets"][0]["updateTime"] > 0
    assert len(b.ok("GET", "/fapi/v2/account")["positions"]) == 3
    assert b.ok("DELETE", "/fapi/v1/allOpenOrders", {"symbol": BTC})["code"] == 200


def test_margin_type_and_isolated_margin(market: Server) -> None:
    b = bot(market, "isolated")
    assert b.ok("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "ISOLATED"}) == {
        "code": 200, "msg": "success"}
    assert b.error("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "ISOLATED"})[
        1:] == (-4046, "No need to change margin type.")
    transfer = {"symbol": BTC, "amount": "10", "type": 1}
    assert b.error("POST", "/fapi/v1/positionMargin", transfer)[1] == -4054  # no position
    b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "SELL", "type": "MARKET",
                                     "quantity": "0.020"})
    assert b.error("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "CROSSED"})[
        1] == -4048
    answer = b.ok("POST", "/fapi/v1/positionMargin", transfer)
    assert answer == {"amount": 10.0, "code": 200, "type": 1,
                      "msg": "Successfully modify position margin."}
    assert b.error("POST", "/fapi/v1/positionMargin", transfer | {"amount": "1000000"})[
        1] == -4050
    assert b.error("POST", "/fapi/v1/positionMargin", transfer | {"type": 2,
                                                                  "amount": "100000"})[1] == -4051
    position = b.ok("GET", "/fapi/v2/positionRisk", {"symbol": BTC})[0]
    assert position["marginType"] == "isolated" and float(position["isolatedWallet"]) > 10
    assert b.ok("GET", "/fapi/v1/symbolConfig", {"symbol": BTC})[0]["marginType"] == "ISOLATED"
    brackets = b.ok("GET", "/fapi/v1/leverageBracket", {"symbol": BTC})
    assert brackets["brackets"][0] == {"bracket": 1, "initialLeverage": 125,
                                       "notionalCap": 50000, "notionalFloor": 0,
                                       "maintMarginRatio": 0.004, "cum": 0}
    assert brackets["brackets"][1]["cum"] == 50


def test_one_way_mode_only(market: Server) -> None:
    b = bot(market, "oneway")
    assert b.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}
    assert b.error("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": True})[1] == -4060
    assert b.error("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": False})[1:] == (
        -4059, "No need to change position side.")
    assert b.ok("GET", "/fapi/v1/multiAssetsMargin") == {"multiAssetsMargin": False}


def test_conditional_orders_through_the_algo_api(market: Server) -> None:
    b = bot(market, "stops")
    b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                     "quantity": "0.050"})
    mark = mark_of(market)
    trigger = f"{mark - 200:.1f}0"  # the tick, 0.10, has two decimals
    stop = b.ok("POST", "/fapi/v1/algoOrder", {
        "algoType": "CONDITIONAL", "symbol": BTC, "side": "SELL", "type": "STOP_MARKET",
        "quantity": "0.050", "triggerPrice": trigger, "workingType": "MARK_PRICE",
        "reduceOnly": True, "clientAlgoId": "stop-1"})
    assert stop["algoStatus"] == "NEW" and stop["triggerPrice"] == trigger
    assert stop["clientAlgoId"] == "stop-1" and stop["orderType"] == "STOP_MARKET"
    algo_id = stop["algoId"]
    assert [o["algoId"] for o in b.ok("GET", "/fapi/v1/openAlgoOrders")] == [algo_id]
    assert b.ok("GET", "/fapi/v1/openOrders") == []  # not a regular order until it fires
    assert b.error("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": algo_id})[1] == -2013
    assert b.ok("GET", "/fapi/v1/algoOrder", {"clientAlgoId": "stop-1"})["algoId"] == algo_id
    assert b.error("POST", "/fapi/v1/algoOrder", {
        "algoType": "CONDITIONAL", "symbol": BTC, "side": "SELL", "type": "STOP_MARKET",
        "quantity": "0.050", "triggerPrice": f"{mark + 200:.1f}", "workingType": "MARK_PRICE"})[
        1:] == (-2021, "Order would trigger immediately.")
    set_mark(market, trigger)  # the mark reaches the trigger: the stop fires and fills
    fired = b.ok("GET", "/fapi/v1/algoOrder", {"algoId": algo_id})
    assert fired["algoStatus"] == "FINISHED" and fired["actualOrderId"] == str(algo_id)
    assert fired["triggerTime"] > 0
    regular = b.ok("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": algo_id})
    assert regular["status"] == "FILLED" and regular["executedQty"] == "0.050"
    assert b.ok("GET", "/fapi/v1/openAlgoOrders") == []
    assert b.ok("GET", "/fapi/v3/positionRisk") == []
    trailing = b.ok("POST", "/fapi/v1/algoOrder", {
        "algoType": "CONDITIONAL", "symbol": BTC, "side": "BUY", "type": "TRAILING_STOP_MARKET",
        "quantity": "0.010", "callbackRate": "1.5"})
    assert trailing["callbackRate"] == "1.5" and trailing["algoStatus"] == "NEW"
    canceled = b.ok("DELETE", "/fapi/v1/algoOrder", {"algoId": trailing["algoId"]})
    assert canceled == {"algoId": trailing["algoId"], "clientAlgoId": trailing["clientAlgoId"],
                        "code": "200", "msg": "success"}
    assert b.error("DELETE", "/fapi/v1/algoOrder", {"algoId": trailing["algoId"]})[1] == -2011
    history = b.ok("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC})
    assert [o["algoStatus"] for o in history] == ["FINISHED", "CANCELED"]
    assert b.error("POST", "/fapi/v1/algoOrder", {"algoType": "CONDITIONAL", "symbol": BTC,
                                                   "side": "BUY", "type": "LIMIT",
                                                   "quantity": "0.010", "price": "1"})[1] == -1116


def test_listen_keys(market: Server) -> None:
    b = bot(market, "listener")
    key = b.call("POST", "/fapi/v1/listenKey", sign=False).json()["listenKey"]
    assert b.call("POST", "/fapi/v1/listenKey", sign=False).json()["listenKey"] == key
    assert b.call("PUT", "/fapi/v1/listenKey", sign=False).json() == {"listenKey": key}
    assert b.call("DELETE", "/fapi/v1/listenKey", sign=False).json() == {}
    assert b.error("PUT", "/fapi/v1/listenKey", sign=False)[1:] == (
        -1125, "This listenKey does not exist.")
    assert b.error("POST", "/fapi/v1/listenKey", sign=False, key="nope")[1] == -2015
    assert b.call("POST", "/fapi/v1/listenKey", sign=False).json()["listenKey"] != key


def test_ccxt_wallet_lookups(market: Server) -> None:
    b = bot(market, "wallet")
    coins = b.ok("GET", "/sapi/v1/capital/config/getall")
    assert {c["coin"] for c in coins} == {"USDT", "BTC", "ETH", "SOL"}
    assert b.ok("GET", "/sapi/v1/margin/allPairs") == []


def test_a_bot_with_its_own_client_sees_the_same_account(market: Server) -> None:
    b = bot(market, "both")
    native = market.client.get("/api/v1/time").json()["server_time"]
    assert abs(market.client.get("/fapi/v1/time").json()["serverTime"] - native) < 5_000
    placed = b.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                              "quantity": "0.010"})
    assert placed["status"] == "FILLED"
    # the same key, the native API's signing: the same position
    trader = Trader(market.client, {"user": b.user, "api_key": b.api_key, "secret": b.secret})
    assert trader.get("/api/v1/positions").json()[0]["size"] == "0.010"



def test_funding_shows_in_rates_income_and_the_user_stream(market: Server) -> None:
    long, short = bot(market, "long"), bot(market, "short")
    long.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                        "quantity": "0.100"})
    short.ok("POST", "/fapi/v1/order", {"symbol": BTC, "side": "SELL", "type": "MARKET",
                                         "quantity": "0.100"})
    key = long.call("POST", "/fapi/v1/listenKey", sign=False).json()["listenKey"]
    ex = market.exchange
    with market.client.websocket_connect(f"/fstream/ws/{key}") as ws:
        def jump() -> None:  # the clock runs 8 h ahead: a funding time passes
            ex.last_ts = ex.now_ms() + ex.instruments[BTC].funding_interval_ms
            ex.apply(lambda ts: Tick(ts))

        market.run(jump)
        update = ws.receive_json()
        while update["e"] != "ACCOUNT_UPDATE":
            update = ws.receive_json()
        assert update["a"]["m"] == "FUNDING_FEE" and update["a"]["P"][0]["s"] == BTC
    rates = market.client.get(f"/fapi/v1/fundingRate?symbol={BTC}").json()
    assert len(rates) == 1 and rates[0]["fundingRate"] == "0.00010000"
    # the server's clock is 8 h ahead of this one now: requests carry its time
    query = {"incomeType": "FUNDING_FEE", "startTime": 0}
    paid = long.call("GET", "/fapi/v1/income", query, timestamp=ex.now_ms()).json()
    received = short.call("GET", "/fapi/v1/income", query, timestamp=ex.now_ms()).json()
    assert float(paid[0]["income"]) < 0 < float(received[0]["income"])
    assert float(paid[0]["income"]) == -float(received[0]["income"])
