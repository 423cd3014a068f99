"""ccxt.pro's binanceusdm against the live server: the order book stays in sync with the venue
through a minute of market-maker activity, trades stream, and a bot sees its own orders, fills
and positions on the user data stream."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

import ccxt.pro as ccxtpro
import pytest

from tests.exchange.server.binance.conftest import SYMBOL, Live, point

# How long the order book is watched; a minute by default (BINANCE_BOOK_WATCH_S to change).
WATCH_S = float(os.environ.get("BINANCE_BOOK_WATCH_S", "60"))


def pro(live: Live, name: str) -> Any:
    user = live.user(name)
    exchange = point(ccxtpro.binanceusdm({"apiKey": user["api_key"], "secret": user["secret"]}),
                     live.url)
    if live.markets is not None:
        exchange.set_markets(*live.markets)
    return exchange


def levels(side: Any) -> list[tuple[float, float]]:
    return [(price, amount) for price, amount in side]


def test_watch_order_book_stays_in_sync(live: Live) -> None:
    async def watch() -> tuple[int, int]:
        exchange = pro(live, "book")
        exchange.enableRateLimit = False  # ccxt would hold a 1000-level snapshot back ~1 s
        try:
            await exchange.load_markets()
            updates = compared = 0
            next_check = time.monotonic() + 2
            end = time.monotonic() + WATCH_S
            while time.monotonic() < end:
                # ccxt checks every diff against the previous one (pu == last u) and raises
                # ChecksumError on a gap; here the book must also stay a book...
                await asyncio.wait_for(exchange.watch_order_book(SYMBOL), 15)
                updates += 1
                book = exchange.orderbooks[SYMBOL]
                bids, asks = levels(book["bids"]), levels(book["asks"])
                assert bids and asks and bids[0][0] < asks[0][0]
                assert all(a[0] > b[0] for a, b in itertools.pairwise(bids))
                assert all(a[0] < b[0] for a, b in itertools.pairwise(asks))
                assert all(amount > 0 for _, amount in bids + asks)
                if time.monotonic() < next_check:
                    continue
                # ...and equal the venue's: a REST snapshot, once the stream has reached its
                # update id, level for level.
                next_check = time.monotonic() + 3
                snapshot = await exchange.fetch_order_book(SYMBOL, 1000)
                while book["nonce"] < snapshot["nonce"]:
                    await asyncio.wait_for(exchange.watch_order_book(SYMBOL), 15)
                    updates += 1
                if book["nonce"] == snapshot["nonce"]:
                    assert levels(snapshot["bids"]) == levels(book["bids"])
                    assert levels(snapshot["asks"]) == levels(book["asks"])
                    compared += 1
            return updates, compared
        finally:
            await exchange.close()

    updates, compared = asyncio.run(watch())
    assert updates >= WATCH_S / 2  # the makers requote every second
    assert compared >= max(1, int(WATCH_S / 10))


def test_watch_trades_sees_a_trade(live: Live) -> None:
    async def watch() -> list[Any]:
        exchange = pro(live, "tape")
        try:
            await exchange.load_markets()
            watching = asyncio.create_task(exchange.watch_trades(SYMBOL))
            await asyncio.sleep(0.5)
            order = await exchange.create_order(SYMBOL, "market", "buy", 0.01)
            trades: list[Any] = await asyncio.wait_for(watching, 15)
            while not any(t["price"] == order["average"] for t in trades):
                trades = await asyncio.wait_for(exchange.watch_trades(SYMBOL), 15)
            return trades
        finally:
            await exchange.close()

    trades = asyncio.run(watch())
    assert all(t["symbol"] == SYMBOL and t["amount"] > 0 and t["id"] for t in trades)


def test_watch_orders_and_positions_see_the_bots_order_and_fill(live: Live) -> None:
    async def watch() -> tuple[Any, Any, list[Any], list[Any]]:
        exchange = pro(live, "user-stream")
        seen: list[Any] = []
        moved: list[Any] = []

        async def pump(watcher: Any, into: list[Any]) -> None:
            while True:
                into.extend(await watcher())

        async def eventually(check: Any, what: str) -> None:
            deadline = time.monotonic() + 15
            while not check():
                assert time.monotonic() < deadline, f"never seen: {what}"
                await asyncio.sleep(0.05)

        try:
            await exchange.load_markets()
            assert await exchange.watch_positions([SYMBOL]) == []  # the snapshot: flat
            pumps = [asyncio.create_task(pump(lambda: exchange.watch_orders(SYMBOL), seen)),
                     asyncio.create_task(pump(lambda: exchange.watch_positions([SYMBOL]),
                                              moved))]
            await asyncio.sleep(0.5)
            last = (await exchange.fetch_ticker(SYMBOL))["last"]
            resting = await exchange.create_order(
                SYMBOL, "limit", "buy", 0.01, float(exchange.price_to_precision(SYMBOL,
                                                                                last * 0.97)))
            await eventually(lambda: any(o["id"] == resting["id"] and o["status"] == "open"
                                         for o in seen), "the resting order")
            filled = await exchange.create_order(SYMBOL, "market", "buy", 0.02)
            await eventually(lambda: any(o["id"] == filled["id"] and o["status"] == "closed"
                                         for o in seen), "the fill")
            await eventually(lambda: any(p["contracts"] for p in moved), "the position")
            await exchange.cancel_order(resting["id"], SYMBOL)
            await eventually(lambda: any(o["id"] == resting["id"] and o["status"] == "canceled"
                                         for o in seen), "the cancel")
            for task in pumps:
                task.cancel()
            return resting, filled, seen, moved
        finally:
            await exchange.close()

    _resting, filled, seen, moved = asyncio.run(watch())
    fill = next(o for o in seen if o["id"] == filled["id"] and o["status"] == "closed")
    assert fill["filled"] == 0.02 and fill["average"] > 0 and fill["fee"]["cost"] > 0
    assert fill["symbol"] == SYMBOL and fill["side"] == "buy" and fill["type"] == "market"
    position = next(p for p in moved if p["contracts"])
    assert (position["symbol"], position["side"], position["contracts"]) == (SYMBOL, "long", 0.02)
    assert position["entryPrice"] == pytest.approx(filled["average"], rel=1e-6)
