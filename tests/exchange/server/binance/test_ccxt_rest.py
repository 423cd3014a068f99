"""ccxt's binanceusdm, unchanged but for its URLs, against a live server: market data, account,
leverage and margin mode, every kind of order, positions, trades, funding; and the errors a
bot relies on raise the exceptions they raise against Binance."""

from __future__ import annotations

import time
from typing import Any

import ccxt
import pytest

from tests.exchange.server.binance.conftest import SYMBOL, Live


@pytest.fixture(scope="module")
def bot(live: Live) -> Any:
    return live.ccxt("rest")


def test_load_markets_lists_the_venue_as_binance_does(live: Live) -> None:
    exchange = live.ccxt("markets")
    markets = exchange.load_markets(reload=True)
    assert {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"} <= set(markets)
    btc = markets[SYMBOL]
    assert btc["id"] == "BTCUSDT" and btc["swap"] and btc["linear"] and btc["active"]
    assert btc["settle"] == "USDT" and btc["contractSize"] == 1
    assert btc["precision"]["price"] == 0.1 and btc["precision"]["amount"] == 0.001
    assert btc["limits"]["amount"]["min"] == 0.001 and btc["limits"]["cost"]["min"] == 100
    assert btc["limits"]["market"]["max"] == 120
    info = btc["info"]
    assert info["contractType"] == "PERPETUAL" and info["status"] == "TRADING"
    assert {f["filterType"] for f in info["filters"]} >= {
        "PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL", "PERCENT_PRICE"}
    assert "STOP_MARKET" in info["orderTypes"] and "GTX" in info["timeInForce"]


def test_market_data(bot: Any) -> None:
    now = bot.milliseconds()
    assert abs(bot.fetch_time() - now) < 5_000
    ticker = bot.fetch_ticker(SYMBOL)
    assert ticker["symbol"] == SYMBOL and ticker["last"] > 0
    book = bot.fetch_order_book(SYMBOL, 50)
    assert book["nonce"] > 0 and book["bids"] and book["asks"]
    assert book["bids"][0][0] < book["asks"][0][0]
    assert all(a[0] < b[0] for a, b in zip(book["asks"], book["asks"][1:], strict=False))
    trades = bot.fetch_trades(SYMBOL, limit=20)
    assert trades and all(t["symbol"] == SYMBOL and t["price"] > 0 for t in trades)
    candles = bot.fetch_ohlcv(SYMBOL, "1m", limit=10)
    assert candles and all(len(c) == 6 and c[2] >= c[3] for c in candles)
    assert bot.fetch_ohlcv(SYMBOL, "3m", limit=5)  # built from 1m bars
    funding = bot.fetch_funding_rate(SYMBOL)
    assert funding["markPrice"] > 0 and funding["indexPrice"] > 0
    assert funding["fundingRate"] == 0.0001  # a quiet book's rate: the interest rate
    assert funding["fundingTimestamp"] > now


def test_balance_leverage_and_margin_mode(live: Live) -> None:
    exchange = live.ccxt("account", deposit="25000")
    usdt = exchange.fetch_balance()["USDT"]
    assert usdt == {"free": 25000.0, "used": 0.0, "total": 25000.0}
    assert exchange.set_leverage(7, SYMBOL)["leverage"] == 7
    exchange.set_margin_mode("isolated", SYMBOL)
    with pytest.raises(ccxt.MarginModeAlreadySet):  # Binance's -4046, as ccxt knows it
        exchange.set_margin_mode("isolated", SYMBOL)
    exchange.set_margin_mode("cross", SYMBOL)
    with pytest.raises(ccxt.BadRequest):
        exchange.set_leverage(126, SYMBOL)  # ccxt checks 1..125 itself
    with pytest.raises(ccxt.BadRequest):  # -4028, from the server
        exchange.fapiPrivatePostLeverage({"symbol": "BTCUSDT", "leverage": 200})


def test_orders_of_every_kind(live: Live) -> None:
    exchange = live.ccxt("orders")
    book = exchange.fetch_order_book(SYMBOL)
    bid, ask = book["bids"][0][0], book["asks"][0][0]

    resting = exchange.create_order(SYMBOL, "limit", "buy", 0.01, round(bid * 0.99, 1))
    assert resting["status"] == "open" and resting["filled"] == 0
    assert [o["id"] for o in exchange.fetch_open_orders(SYMBOL)] == [resting["id"]]
    fetched = exchange.fetch_order(resting["id"], SYMBOL)
    assert fetched["status"] == "open" and fetched["price"] == round(bid * 0.99, 1)
    assert exchange.cancel_order(resting["id"], SYMBOL)["status"] == "canceled"
    assert exchange.fetch_order(resting["id"], SYMBOL)["status"] == "canceled"
    assert exchange.fetch_open_orders(SYMBOL) == []

    market = exchange.create_order(SYMBOL, "market", "buy", 0.02)
    assert market["status"] == "closed" and market["filled"] == 0.02
    assert market["average"] >= ask * 0.99 and market["cost"] > 0

    post_only = exchange.create_order(SYMBOL, "limit", "sell", 0.01, round(ask * 1.01, 1),
                                      {"postOnly": True})
    assert post_only["status"] == "open" and post_only["postOnly"] is True
    taker_price = exchange.fetch_order_book(SYMBOL)["bids"][0][0]
    with pytest.raises(ccxt.InvalidOrder):  # -5022: it would have taken
        exchange.create_order(SYMBOL, "limit", "sell", 0.01, taker_price, {"postOnly": True})

    ioc = exchange.create_order(SYMBOL, "limit", "buy", 0.01, round(bid * 0.98, 1),
                                {"timeInForce": "IOC"})
    assert ioc["status"] == "expired" and ioc["timeInForce"] == "IOC"

    reduce = exchange.create_order(SYMBOL, "market", "sell", 0.005, None, {"reduceOnly": True})
    assert reduce["status"] == "closed" and reduce["reduceOnly"] is True

    stop_price = round(bid * 0.9, 1)
    stop = exchange.create_order(SYMBOL, "market", "sell", 0.015, None,
                                 {"stopPrice": stop_price, "reduceOnly": True})
    assert stop["status"] == "open" and stop["triggerPrice"] == stop_price
    assert stop["type"] == "market"  # ccxt reads STOP_MARKET's orderType so
    conditional = exchange.fetch_open_orders(SYMBOL, params={"trigger": True})
    assert [o["id"] for o in conditional] == [stop["id"]]
    assert conditional[0]["info"]["orderType"] == "STOP_MARKET"
    regular = exchange.fetch_open_orders(SYMBOL)
    assert [o["id"] for o in regular] == [post_only["id"]]  # algo orders apart, as on Binance
    assert exchange.fetch_order(stop["id"], SYMBOL, {"trigger": True})["status"] == "open"
    assert exchange.cancel_order(stop["id"], SYMBOL, {"trigger": True})["id"] == stop["id"]
    assert exchange.fetch_open_orders(SYMBOL, params={"trigger": True}) == []
    exchange.cancel_all_orders(SYMBOL)
    assert exchange.fetch_open_orders(SYMBOL) == []


def test_positions_trades_and_funding_history(live: Live) -> None:
    exchange = live.ccxt("positions")
    exchange.set_leverage(10, SYMBOL)
    buy = exchange.create_order(SYMBOL, "market", "buy", 0.03)
    positions = exchange.fetch_positions()
    assert [(p["symbol"], p["side"], p["contracts"]) for p in positions] == [
        (SYMBOL, "long", 0.03)]
    position = positions[0]
    assert position["entryPrice"] == pytest.approx(buy["average"], rel=1e-6)
    assert position["leverage"] is None  # v3 positionRisk has no leverage, as on Binance
    assert position["marginMode"] == "cross" and position["notional"] > 0
    assert position["liquidationPrice"] is None or position["liquidationPrice"] > 0
    exchange.create_order(SYMBOL, "market", "sell", 0.01)
    trades = exchange.fetch_my_trades(SYMBOL)
    assert [t["side"] for t in trades] == ["buy", "sell"]
    assert [t["amount"] for t in trades] == [0.03, 0.01]
    assert all(t["fee"]["currency"] == "USDT" and t["fee"]["cost"] > 0 for t in trades)
    assert all(t["takerOrMaker"] == "taker" and t["order"] for t in trades)
    assert exchange.fetch_funding_history(SYMBOL) == []  # no funding time yet
    ledger = exchange.fapiPrivateGetIncome({"symbol": "BTCUSDT"})
    assert {row["incomeType"] for row in ledger} >= {"COMMISSION"}
    balance = exchange.fetch_balance()["USDT"]
    assert balance["used"] > 0 and balance["total"] < 100000


def test_an_order_beyond_the_balance_raises_insufficient_funds(live: Live) -> None:
    exchange = live.ccxt("poor", deposit="1000")
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(SYMBOL, "market", "buy", 1)


def test_canceling_an_unknown_order_raises_order_not_found(bot: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        bot.cancel_order("987654321", SYMBOL)
    with pytest.raises(ccxt.OrderNotFound):
        bot.fetch_order("987654321", SYMBOL)


def test_a_wrong_secret_raises_authentication_error(live: Live) -> None:
    exchange = live.ccxt("forger", secret="0" * 64)
    with pytest.raises(ccxt.AuthenticationError):
        exchange.fetch_balance()
    exchange.apiKey = "no-such-key"
    with pytest.raises(ccxt.AuthenticationError):
        exchange.fetch_balance()


def test_a_stale_timestamp_raises_invalid_nonce(bot: Any) -> None:
    stale = bot.milliseconds() - 120_000
    original = bot.nonce
    bot.nonce = lambda: stale
    try:
        with pytest.raises(ccxt.InvalidNonce):
            bot.fetch_balance()
    finally:
        bot.nonce = original


def test_more_of_ccxt(live: Live) -> None:
    """The rest of what a binanceusdm bot commonly calls, each against its Binance endpoint."""
    exchange = live.ccxt("more")
    assert set(exchange.fetch_tickers([SYMBOL, "ETH/USDT:USDT"])) == {SYMBOL, "ETH/USDT:USDT"}
    assert exchange.fetch_bids_asks([SYMBOL])[SYMBOL]["bid"] > 0
    assert exchange.fetch_last_prices([SYMBOL])[SYMBOL]["price"] > 0
    assert exchange.fetch_mark_price(SYMBOL)["markPrice"] > 0
    assert len(exchange.fetch_funding_rates([SYMBOL, "SOL/USDT:USDT"])) == 2
    assert exchange.fetch_funding_rate_history(SYMBOL) == []
    assert exchange.fetch_open_interest(SYMBOL)["openInterestAmount"] >= 0
    tiers = exchange.fetch_leverage_tiers([SYMBOL])[SYMBOL]
    assert tiers[0]["maxLeverage"] == 125 and tiers[0]["maintenanceMarginRate"] == 0.004
    assert exchange.fetch_position_mode(SYMBOL)["hedged"] is False
    with pytest.raises(ccxt.BadRequest):  # one-way mode only: -4060
        exchange.set_position_mode(True)
    assert exchange.fetch_leverages([SYMBOL])[SYMBOL]["longLeverage"] == 20
    assert exchange.fetch_margin_modes([SYMBOL])[SYMBOL]["marginMode"] == "cross"
    fee = exchange.fetch_trading_fee(SYMBOL)
    assert (fee["maker"], fee["taker"]) == (0.0002, 0.0005)

    bid = exchange.fetch_order_book(SYMBOL)["bids"][0][0]
    order = exchange.create_order(SYMBOL, "limit", "buy", 0.01, round(bid * 0.98, 1))
    edited = exchange.edit_order(order["id"], SYMBOL, "limit", "buy", 0.02, round(bid * 0.97, 1))
    assert edited["id"] == order["id"] and edited["amount"] == 0.02
    exchange.cancel_order(order["id"], SYMBOL)
    exchange.create_order(SYMBOL, "market", "buy", 0.01)
    assert [o["status"] for o in exchange.fetch_orders(SYMBOL)] == ["canceled", "closed"]
    assert [o["status"] for o in exchange.fetch_closed_orders(SYMBOL)] == ["closed"]
    assert [o["status"] for o in exchange.fetch_canceled_orders(SYMBOL)] == ["canceled"]
    assert {entry["type"] for entry in exchange.fetch_ledger("USDT")} == {"commission"}

    exchange.cancel_all_orders(SYMBOL)
    exchange.create_order(SYMBOL, "market", "sell", 0.01, None, {"reduceOnly": True})
    exchange.set_margin_mode("isolated", SYMBOL)
    exchange.create_order(SYMBOL, "market", "buy", 0.01)
    assert exchange.add_margin(SYMBOL, 5)["amount"] == 5
    assert exchange.reduce_margin(SYMBOL, 2)["amount"] == 2
    [position] = exchange.fetch_positions([SYMBOL])
    assert position["marginMode"] == "isolated" and position["contracts"] == 0.01
    assert position["collateral"] == pytest.approx(float(position["info"]["isolatedMargin"]))


def test_too_many_requests_raise_ddos_protection(live: Live) -> None:
    """The server's per-IP limit, hit on purpose: Binance's 429 and -1003, which ccxt raises as
    DDoSProtection. (Last in this module: the bucket refills in two seconds.)"""
    exchange = live.ccxt("hasty")
    exchange.enableRateLimit = False
    try:
        with pytest.raises(ccxt.DDoSProtection):
            for _ in range(400):
                exchange.fetch_time()
    finally:
        time.sleep(3)
