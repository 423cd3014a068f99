"""The websocket client against a live server: streams by callback and by iteration, the user
stream, order entry, the local order book (in sync, a forced gap found and repaired), and
reconnection after the server dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clients import (
    AsyncClient,
    AuthError,
    BookChanged,
    Credentials,
    Event,
    ExchangeError,
    InvalidOrder,
    InvalidRequest,
    KlineUpdate,
    MarkPriceChanged,
    NotFound,
    OrderAccepted,
    OrderBook,
    OrderCanceled,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    RetryPolicy,
    Side,
    StreamClient,
    StreamEvent,
    StreamOverflow,
    TickerUpdate,
    Traded,
)
from tests.clients.conftest import BTC, Server


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def rest_for(server: Server, user: Credentials | None = None) -> AsyncClient:
    return AsyncClient(server.url, user, retry=RetryPolicy(rate_limited=True))


async def resting_price(rest: AsyncClient, side: Side, away: str) -> Decimal:
    inst = await rest.instrument(BTC)
    mark = (await rest.prices(BTC)).mark
    assert mark is not None
    factor = 1 - Decimal(away) if side is Side.BUY else 1 + Decimal(away)
    return inst.round_price(mark * factor)


async def agrees_with_server(book: OrderBook, rest: AsyncClient, tries: int = 20) -> bool:
    """Compare the local book with a REST snapshot at a quiet moment (the built-in makers
    requote once a second); a change between the two reads makes one try inconclusive."""
    for _ in range(tries):
        while await book.wait_update(0.25):
            pass  # wait for a quarter-second without changes
        snap = await rest.depth(BTC, 1000)
        bids, asks = book.levels()
        if (snap.seq == book.seq or not await book.wait_update(0.05)) and bids == {
                lvl.price: lvl.quantity for lvl in snap.bids} and asks == {
                lvl.price: lvl.quantity for lvl in snap.asks}:
            return True
    return False


def test_streams_by_callback_and_by_iteration(server: Server, user: Credentials) -> None:
    async def body() -> None:
        rest = rest_for(server, user)
        trades: list[Traded] = []
        async with StreamClient(server.url, user, rest=rest) as ws:
            assert ws.connected and ws.user_id == user.user
            assert abs(await ws.ping() - time.time() * 1000) < 60_000
            marks = await ws.marks(BTC)
            await ws.trades(BTC, callback=trades.append)
            tickers = await ws.tickers(BTC)
            klines = await ws.klines(BTC, "1m")
            deltas = await ws.depth_updates(BTC)
            liquidations = await ws.liquidations()
            mine = await ws.user()
            seen_async: list[StreamEvent] = []

            async def on_any(e: StreamEvent) -> None:  # an async callback, several streams
                seen_async.append(e)

            both = await ws.subscribe(f"mark@{BTC}", "ticker@ETHUSDT", callback=on_any)
            mark = await marks.get(5)
            assert isinstance(mark, MarkPriceChanged) and mark.symbol == BTC
            assert isinstance(mark.mark, Decimal)
            order = await rest.place_order(OrderRequest.market(BTC, Side.BUY, "0.003"))
            assert order.status is OrderStatus.FILLED
            kinds: list[Event] = [await mine.get(5), await mine.get(5)]
            assert isinstance(kinds[0], OrderAccepted) and kinds[0].order_id == order.order_id
            assert isinstance(kinds[1], OrderFilled) and kinds[1].position_size == Decimal(
                "0.003")
            ticker = await tickers.get(5)
            assert isinstance(ticker, TickerUpdate) and ticker.last > 0
            kline = await klines.get(5)
            assert isinstance(kline, KlineUpdate) and kline.interval == "1m"
            delta = await deltas.get(5)
            assert isinstance(delta, BookChanged) and delta.book_seq > 0
            await until(lambda: any(t.taker_order_id == order.order_id for t in trades), 5,
                        "our trade on the tape")
            await until(lambda: any(isinstance(e, MarkPriceChanged) for e in seen_async), 5)
            await both.close()
            async with liquidations:  # closes on leaving
                assert liquidations.streams == ("liquidations",)
            assert liquidations.closed
        # Closing the client ends every iteration (after what was already queued).
        assert all(isinstance(e, MarkPriceChanged) for e in [e async for e in marks])
        assert all(isinstance(e, TickerUpdate) for e in [e async for e in tickers])
        await rest.close()

    asyncio.run(body())


def test_order_entry_and_errors_over_the_websocket(server: Server, user: Credentials) -> None:
    async def body() -> None:
        rest = rest_for(server, user)
        async with StreamClient(server.url, user, rest=rest) as ws:
            filled = await ws.place_order(OrderRequest.market(BTC, Side.SELL, "0.002"))
            assert filled.status is OrderStatus.FILLED and filled.fills
            price = await resting_price(rest, Side.BUY, "0.02")
            resting = await ws.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", price))
            assert resting.status is OrderStatus.NEW
            events = await ws.cancel_order(BTC, resting.order_id)
            assert any(isinstance(e, OrderCanceled) for e in events)
            with pytest.raises(InvalidOrder) as e:
                await ws.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", "1000"))
            assert e.value.code == "PRICE_OUT_OF_BAND" and e.value.status is None
            with pytest.raises(NotFound):
                await ws.cancel_order(BTC, 987_654_321)
            with pytest.raises(InvalidRequest) as e2:
                await ws.subscribe("nope@NOWHERE")
            assert "unknown streams" in e2.value.msg
        async with StreamClient(server.url, rest=rest) as anonymous:
            with pytest.raises(ExchangeError):
                await anonymous.user()
        with pytest.raises(AuthError):
            await StreamClient(server.url, Credentials(user.api_key, "0" * 64),
                               rest=rest).connect()
        await rest.close()

    asyncio.run(body())


def test_order_book_stays_in_sync(server: Server) -> None:
    async def body() -> None:
        rest = rest_for(server)
        async with StreamClient(server.url, rest=rest) as ws:
            book = await ws.order_book(BTC)
            assert book.synced and book.resyncs == 1 and book.gaps == 0
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None and bid.price < ask.price
            assert book.mid() is not None and book.spread() is not None
            assert book.bids(3) == book.bids()[:3] and book.asks(3) == book.asks()[:3]
            assert await ws.order_book(BTC) is book
            await until(lambda: book.seq > book.snapshot_seq, 5, "a live delta")
            assert await agrees_with_server(book, rest)
            assert book.gaps == 0
        await rest.close()

    asyncio.run(body())


def test_a_lost_delta_is_found_and_repaired(server: Server, user: Credentials) -> None:
    """A gap is forced by dropping, on the client, the delta of a level we create; it cannot
    be seen from book_seq (which skips anyway), so ``verify_book`` compares the live book with
    a fresh snapshot: it finds the gap and repairs it."""

    async def body() -> None:
        rest = rest_for(server, user)
        async with StreamClient(server.url, rest=rest) as ws:
            book = await ws.order_book(BTC)
            assert await ws.verify_book(BTC) in (True, None)  # nothing lost yet
            price = await resting_price(rest, Side.BUY, "0.03")
            dropped: list[dict[str, Any]] = []

            def lose_ours(message: dict[str, Any]) -> bool:
                data = message.get("data") or {}
                if (message.get("stream") == f"depth@{BTC}"
                        and Decimal(str(data.get("price"))) == price):
                    dropped.append(message)
                    return True
                return False

            gaps = book.gaps
            ws._drop = lose_ours
            await rest.place_order(OrderRequest.limit(BTC, Side.BUY, "0.005", price))
            await until(lambda: bool(dropped), 5, "our level's delta")
            ws._drop = None
            # The server's prev_book_seq gives the loss away with the next delta; verify_book
            # finds it even when no delta follows. Either way the book repairs itself.
            found = await ws.verify_book(BTC)
            assert found is False or book.gaps > gaps
            await until(lambda: book.synced and book.quantity_at(
                Side.BUY, price) >= Decimal("0.005"), 10, "the repair")
            assert book.gaps > gaps
            assert await agrees_with_server(book, rest)
            await rest.cancel_all(BTC)
        await rest.close()

    asyncio.run(body())


def test_the_periodic_check_repairs_a_lost_delta_by_itself(server: Server,
                                                           user: Credentials) -> None:
    async def body() -> None:
        rest = rest_for(server, user)
        price = await resting_price(rest, Side.SELL, "0.03")
        lost: list[int] = []

        def lose_ours(message: dict[str, Any]) -> bool:
            data = message.get("data") or {}
            if (message.get("stream") == f"depth@{BTC}" and not lost
                    and Decimal(str(data.get("price"))) == price):
                lost.append(data["book_seq"])
                return True
            return False

        async with StreamClient(server.url, rest=rest, resync_interval=0.3) as ws:
            book = await ws.order_book(BTC)
            ws._drop = lose_ours
            await rest.place_order(OrderRequest.limit(BTC, Side.SELL, "0.004", price))
            # Found by the periodic check, or sooner by the next delta's prev_book_seq;
            # either way the book repairs itself with no call from us.
            await until(lambda: book.gaps >= 1 and book.synced and book.quantity_at(
                Side.SELL, price) >= Decimal("0.004"), 10, "the gap found and repaired")
            assert lost
            await rest.cancel_all(BTC)
        await rest.close()

    asyncio.run(body())


def test_with_prev_book_seq_a_lost_delta_resyncs_at_once(server: Server) -> None:
    """Where the server links each delta to the previous one (``prev_book_seq``), a lost
    delta shows on the next one. This server does not send it yet: a shim on the client adds
    it from the (complete) stream, then one delta is lost."""

    async def body() -> None:
        rest = rest_for(server)
        async with StreamClient(server.url, rest=rest) as ws:
            book = await ws.order_book(BTC)
            last: list[int] = []
            lost: list[int] = []
            gaps_before: list[int] = []  # book.gaps as each delta arrives

            def link_then_lose_one(message: dict[str, Any]) -> bool:
                if message.get("stream") != f"depth@{BTC}":
                    return False
                data = message["data"]
                gaps_before.append(book.gaps)
                if last:
                    data["prev_book_seq"] = last[-1]
                last.append(data["book_seq"])
                if len(last) == 3 and not lost:
                    lost.append(data["book_seq"])
                    return True
                return False

            ws._drop = link_then_lose_one
            await until(lambda: len(gaps_before) >= 5, 10, "five deltas")
            # Lost: the 3rd; found when the 4th is handled, before the 5th arrives.
            assert gaps_before[:5] == [0, 0, 0, 0, 1]
            await until(lambda: book.synced, 10, "the resync")
            assert book.resyncs == 2 and book.seq >= lost[0]
            assert await agrees_with_server(book, rest)
            assert book.gaps == 1
        await rest.close()

    asyncio.run(body())


def test_an_out_of_order_delta_resyncs_by_itself(server: Server) -> None:
    async def body() -> None:
        rest = rest_for(server)
        async with StreamClient(server.url, rest=rest) as ws:
            book = await ws.order_book(BTC)
            await until(lambda: book.seq > book.snapshot_seq, 5, "a live delta")
            best = book.best_bid()
            assert best is not None
            # A delta that goes back in book_seq: the stream is out of order.
            await ws._dispatch({"stream": f"depth@{BTC}", "data": {
                "type": "BookChanged", "seq": 1, "ts": 1, "symbol": BTC, "side": "BUY",
                "price": str(best.price), "total": "0", "book_seq": book.seq}})
            assert book.gaps == 1 and not book.synced
            await until(lambda: book.synced, 10, "the resync")
            assert book.resyncs == 2
            assert await agrees_with_server(book, rest)
        await rest.close()

    asyncio.run(body())


def test_a_slow_consumer_sees_an_overflow(server: Server) -> None:
    async def body() -> None:
        async with StreamClient(server.url) as ws:
            deltas = await ws.depth_updates(BTC, queue_size=3)
            await until(lambda: deltas.dropped > 0, 10, "an overflow")
            got = [await deltas.get(1) for _ in range(3)]
            assert all(isinstance(d, BookChanged) for d in got)
            with pytest.raises(StreamOverflow):
                await deltas.get(1)
            assert isinstance(await deltas.get(5), BookChanged)  # and on after the gap

    asyncio.run(body())


@pytest.fixture
def own_server(tmp_path: Path) -> Any:
    s = Server(tmp_path / "data").start()
    yield s
    s.stop()


def test_reconnect_after_the_server_drops_the_connection(own_server: Server) -> None:
    """Kill the server (connections cut, no goodbye), start it again on the same port and
    data: the client reconnects, logs in, resubscribes and resyncs its book by itself."""
    server = own_server
    user = server.new_user()

    async def body() -> None:
        rest = AsyncClient(server.url, user, retry=RetryPolicy(attempts=1))
        reconnected: list[int] = []
        dropped: list[int] = []
        ws = StreamClient(server.url, user, rest=rest, backoff=0.05, max_backoff=0.5,
                          on_reconnect=lambda: reconnected.append(1),
                          on_disconnect=lambda: dropped.append(1))
        await ws.connect()
        book = await ws.order_book(BTC)
        marks = await ws.marks(BTC)
        mine = await ws.user()
        await marks.get(5)
        server.kill()
        await until(lambda: not ws.connected, 5, "the drop")
        assert dropped == [1] and not book.synced
        assert ws.last_close is not None
        server.start()
        await until(lambda: ws.connected, 20, "the reconnection")
        assert reconnected == [1] and ws.reconnects == 1 and ws.user_id == user.user
        await until(lambda: book.synced, 10, "the book's resync")
        assert book.resyncs == 2
        while True:  # marks flow again (skip any queued before the drop)
            mark = await marks.get(5)
            if mark.ts > int(time.time() * 1000) - 2_000:
                break
        assert isinstance(mark, MarkPriceChanged)
        order = await rest.place_order(OrderRequest.market(BTC, Side.BUY, "0.002"))
        event = await mine.get(5)
        assert isinstance(event, OrderAccepted) and event.order_id == order.order_id
        await until(lambda: book.seq > book.snapshot_seq, 5, "a live delta")
        assert await agrees_with_server(book, rest)
        await ws.close()
        await rest.close()

    asyncio.run(body())
