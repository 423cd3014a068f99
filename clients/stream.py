"""The websocket client: public streams, the user stream, local order books, order entry.

    async with StreamClient("http://127.0.0.1:8000", credentials) as ws:
        book = await ws.order_book("BTCUSDT")          # synced, and kept so
        async for trade in await ws.trades("BTCUSDT"):  # or: callback=...
            print(trade.price, trade.quantity, book.best_bid(), book.best_ask())

The connection is kept up: when it drops (the server restarted, or closed a slow consumer
with code 1008) the client reconnects with exponential backoff, logs in again, resubscribes
every stream and resyncs every book. Events sent while it was down are lost: after
``on_reconnect`` fires, look at what matters (open orders, positions) through REST.

Keeping a book in sync (the server's depth stream carries each level change with the book's
sequence number ``book_seq``, which also counts the book's other events, so consecutive deltas
may skip numbers; ``GET /api/v1/depth`` gives the levels and the ``seq`` they reflect):

1. Subscribe to ``depth@SYMBOL`` and hold the deltas that arrive; then fetch the snapshot.
   Because the subscription was acknowledged before the snapshot was asked for, every change
   after the snapshot is in the held deltas or still to come: apply those with ``book_seq``
   greater than the snapshot's ``seq``, in order, and drop the rest (the snapshot has them).
2. From then on apply each delta. A delta whose ``book_seq`` is not greater than the last
   one applied means the stream is out of order: the book resyncs (step 1) by itself. If the
   server sends ``prev_book_seq`` (the previous delta's ``book_seq``, as Binance's ``pu``),
   each delta must link to the one before (the first after a snapshot: to the snapshot or
   before it); a broken link is a lost delta, and the book resyncs at once.
3. Messages cannot be lost silently within one connection (TCP, and the server closes a
   consumer that falls behind rather than dropping its messages), so the other gaps come
   with a disconnection: every reconnection resyncs every book.
4. Without ``prev_book_seq``, a gap that would still slip through (a bug anywhere between
   the venue and this code) cannot be seen from ``book_seq``, since it skips numbers anyway.
   ``verify_book`` checks for one: it takes a fresh snapshot while the live book keeps
   running, and compares the two at the first delta after the snapshot (when both have seen
   the same changes); a difference counts as a gap, and the fresh book replaces the live
   one. ``resync_interval`` runs that check periodically.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from clients._core import DEFAULT_URL, new_client_order_id, sign
from clients.book import OrderBook
from clients.errors import (
    ApiError,
    ConnectionLost,
    ExchangeError,
    OutcomeUnknown,
    StreamOverflow,
    TransportError,
    api_error,
)
from clients.models import (
    KLINE_INTERVALS,
    BookChanged,
    Credentials,
    Event,
    FundingSettled,
    KlineUpdate,
    MarkPriceChanged,
    OrderRequest,
    PlacedOrder,
    StreamEvent,
    TickerUpdate,
    Traded,
    WireError,
    from_wire,
    loads,
    parse_events,
    parse_stream_data,
)
from clients.rest import AsyncClient

log = logging.getLogger("clients.stream")

E = TypeVar("E")
Callback = Callable[[E], Awaitable[None] | None]
USER_STREAM = "user"


def ws_url(base_url: str) -> str:
    """``http://host:port`` -> ``ws://host:port/ws`` (``https`` -> ``wss``); a ``ws://`` URL
    is kept as it is."""
    url = base_url.rstrip("/")
    if url.startswith(("ws://", "wss://")):
        return url
    if url.startswith("https://"):
        return "wss://" + url[len("https://"):] + "/ws"
    if url.startswith("http://"):
        return "ws://" + url[len("http://"):] + "/ws"
    return "ws://" + url + "/ws"


def http_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url.startswith(("ws://", "wss://")):
        url = ("https://" if url.startswith("wss://") else "http://") + url.split("://", 1)[1]
        url = url.removesuffix("/ws")
    return url


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name


_GAP = _Marker("gap")
_END = _Marker("end")


class Subscription(Generic[E]):
    """Messages of one or more streams, by async iteration or by callback.

    Iterating waits for the next message; it ends when the subscription or the client is
    closed, and raises ``ConnectionLost`` if the client gave up reconnecting. If the queue
    overflows (``queue_size`` messages waiting: the consumer is too slow) the newest messages
    are dropped and iteration raises ``StreamOverflow`` once at that point; iterating again
    continues after the gap. With a callback nothing is queued: the callback runs (awaited, if
    it is a coroutine function) in the client's reading task, in order: keep it short, and do
    not await a request on the same ``StreamClient`` in it (its answer would wait behind the
    callback): start a task for that.
    """

    def __init__(self, client: StreamClient, streams: tuple[str, ...],
                 callback: Callback[E] | None, queue_size: int) -> None:
        self.streams = streams
        self.dropped = 0
        self.closed = False
        self._client = client
        self._callback = callback
        self._queue_size = queue_size
        self._queue: asyncio.Queue[E | _Marker] = asyncio.Queue()
        self._gap_pending = False
        self._error: ExchangeError | None = None

    async def _deliver(self, message: E) -> None:
        if self.closed:
            return
        if self._callback is not None:
            try:
                result = self._callback(message)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a callback's bug must not stop the stream for everyone
                log.exception("callback for %s failed", ",".join(self.streams))
            return
        if self._queue.qsize() >= self._queue_size:
            self.dropped += 1
            if not self._gap_pending:
                self._gap_pending = True
                self._queue.put_nowait(_GAP)
            return
        self._queue.put_nowait(message)

    def _end(self, error: ExchangeError | None) -> None:
        self.closed = True
        self._error = error
        self._queue.put_nowait(_END)

    def __aiter__(self) -> Subscription[E]:
        return self

    async def __anext__(self) -> E:
        item = await self._queue.get()
        if item is _GAP:
            self._gap_pending = False
            raise StreamOverflow("STREAM_OVERFLOW",
                                 f"{','.join(self.streams)}: {self.dropped} messages dropped "
                                 "so far: the consumer fell behind")
        if item is _END:
            self._queue.put_nowait(_END)  # stay ended
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return cast(E, item)

    async def get(self, timeout: float | None = None) -> E:
        """The next message (``TimeoutError`` after ``timeout`` seconds)."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except StopAsyncIteration:
            raise ConnectionLost("CLOSED", "the subscription is closed") from None

    async def close(self) -> None:
        """Unsubscribe (the streams stay subscribed while another subscription uses them)."""
        if not self.closed:
            self._end(None)
            await self._client._drop_subscription(self)

    async def __aenter__(self) -> Subscription[E]:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


def discontinuity(book: OrderBook, applied_since_snapshot: bool, d: BookChanged) -> str:
    """Why ``d`` cannot follow what ``book`` holds, judged by ``prev_book_seq`` (only servers
    that send it): the first delta after a snapshot must link back to it or before it, each
    later one to the delta before. Empty if it follows (or the server does not say)."""
    prev = d.prev_book_seq
    if prev is None:
        return ""
    if applied_since_snapshot and prev != book.seq:
        return f"delta {d.book_seq} follows {prev}, but the last applied was {book.seq}"
    if not applied_since_snapshot and prev > book.snapshot_seq:
        return (f"delta {d.book_seq} follows {prev}, after the snapshot's {book.snapshot_seq}: "
                "the deltas between were lost")
    return ""


class _BookSync:
    """Keeps one ``OrderBook`` in sync: see the module's docstring."""

    def __init__(self, client: StreamClient, symbol: str) -> None:
        self.client = client
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self.holders: list[list[BookChanged]] = []  # deltas arriving during snapshot fetches
        self.applied_since_snapshot = False
        self.task: asyncio.Task[None] | None = None
        self.synced = asyncio.Event()
        # A verification waiting for the first delta past its snapshot: (fresh book, answer).
        self.pending: tuple[OrderBook, asyncio.Future[bool | None]] | None = None

    def on_delta(self, d: BookChanged) -> None:
        for held in self.holders:
            held.append(d)
        if not self.book.synced:
            return
        book = self.book
        if d.book_seq <= book.seq:
            if not self.applied_since_snapshot and d.book_seq <= book.snapshot_seq:
                return  # older than the snapshot, which has it already
            self.gap(f"book_seq {d.book_seq} after {book.seq}: out of order")
            return
        broken = discontinuity(book, self.applied_since_snapshot, d)
        if broken:
            self.gap(broken)
            return
        book.apply(d)
        self.applied_since_snapshot = True
        if self.pending is not None:
            fresh, answer = self.pending
            if d.book_seq > fresh.seq:
                fresh.apply(d)
            if d.book_seq > fresh.snapshot_seq:  # both have now seen the same changes
                self.pending = None
                self.finish_verify(fresh, answer)

    def gap(self, why: str) -> None:
        self.book.gaps += 1
        log.warning("%s: gap in the depth stream (%s): resyncing", self.symbol, why)
        self.start_resync(verdict=False)

    def unsync(self, verdict: bool | None = None) -> None:
        """Stop trusting the book until it is rebuilt (the connection is gone, or a gap).
        A check in progress ends with ``verdict``."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self.book.synced = False
        self.synced.clear()
        if self.pending is not None:
            _, answer = self.pending
            self.pending = None
            if not answer.done():
                answer.set_result(verdict)

    def start_resync(self, verdict: bool | None = None) -> None:
        self.unsync(verdict)
        self.task = asyncio.get_running_loop().create_task(self.resync())

    async def snapshot(self) -> OrderBook:
        """A fresh book: a snapshot plus the deltas held since just before asking for it."""
        held: list[BookChanged] = []
        self.holders.append(held)
        try:
            snap = await self.client.rest.depth(self.symbol, self.client.depth_limit)
        finally:
            self.holders.remove(held)
        fresh = OrderBook(self.symbol)
        fresh.load(snap, self.client.depth_limit)
        for d in held:
            if d.book_seq > fresh.seq:
                broken = discontinuity(fresh, fresh.seq > fresh.snapshot_seq, d)
                if broken:
                    self.book.gaps += 1
                    raise TransportError("DEPTH_GAP", f"{self.symbol}: {broken}")
                fresh.apply(d)
        return fresh

    async def resync(self) -> None:
        delay = self.client.backoff
        while True:
            try:
                fresh = await self.snapshot()
            except ExchangeError as e:
                log.warning("%s: depth snapshot failed (%s): retrying in %.1f s",
                            self.symbol, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.client.max_backoff)
                continue
            self.adopt(fresh)
            self.book.resyncs += 1
            return

    def adopt(self, fresh: OrderBook) -> None:
        self.book.copy_from(fresh)
        self.applied_since_snapshot = fresh.seq > fresh.snapshot_seq
        self.book.synced = True
        self.synced.set()
        self.task = None

    async def verify(self, timeout: float) -> bool | None:
        if not self.book.synced:
            await asyncio.wait_for(self.synced.wait(), timeout)
        fresh = await self.snapshot()
        if not self.book.synced:  # it dropped meanwhile; the reconnection resyncs it
            return None
        if self.book.seq > fresh.snapshot_seq:
            # The live book is past the snapshot: it has seen every delta up to it, and the
            # fresh one every delta after it that the live one has.
            answer: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
            self.finish_verify(fresh, answer)
            return await answer
        answer = asyncio.get_running_loop().create_future()
        self.pending = (fresh, answer)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout)
        except TimeoutError:
            # Nothing moved since the snapshot: nothing to compare at; the snapshot is right.
            if self.pending is not None and self.pending[1] is answer:
                self.pending = None
                self.adopt(fresh)
            return None

    def finish_verify(self, fresh: OrderBook, answer: asyncio.Future[bool | None]) -> None:
        same = self.book.same_as(fresh)
        if not same:
            self.book.gaps += 1
            log.warning("%s: the book differed from a fresh snapshot: replaced by it",
                        self.symbol)
        resyncs = self.book.resyncs
        self.adopt(fresh)
        self.book.resyncs = resyncs + (0 if same else 1)
        if not answer.done():
            answer.set_result(same)


class StreamClient:
    """The websocket client (asyncio).

    ``base_url``: the server's http(s) URL (or the ws URL of ``/ws``). ``credentials``: log
    in for the user stream and order entry. ``rest``: the ``AsyncClient`` used for depth
    snapshots (one is made if left out). Reconnection: ``reconnect``, waits from ``backoff``
    doubling to ``max_backoff`` seconds, at most ``max_reconnect_attempts`` in a row (None:
    no limit). ``queue_size``: per subscription, for iteration. ``depth_limit``: levels a
    side in book snapshots. ``resync_interval``: seconds between periodic book checks (None:
    none). ``on_reconnect``/``on_disconnect``: called (awaited if coroutines) after each
    reconnection (logged in, resubscribed; books resyncing) and each drop.
    """

    def __init__(self, base_url: str = DEFAULT_URL, credentials: Credentials | None = None, *,
                 rest: AsyncClient | None = None, reconnect: bool = True,
                 backoff: float = 0.1, max_backoff: float = 5.0,
                 max_reconnect_attempts: int | None = None, queue_size: int = 10_000,
                 depth_limit: int = 1000, resync_interval: float | None = None,
                 request_timeout: float = 10.0, open_timeout: float = 10.0,
                 on_reconnect: Callable[[], Awaitable[None] | None] | None = None,
                 on_disconnect: Callable[[], Awaitable[None] | None] | None = None) -> None:
        self.url = ws_url(base_url)
        self.credentials = credentials
        self._own_rest = rest is None
        self.rest = rest or AsyncClient(http_url(base_url), credentials)
        self.reconnect = reconnect
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_reconnect_attempts = max_reconnect_attempts
        self.queue_size = queue_size
        self.depth_limit = depth_limit
        self.resync_interval = resync_interval
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self.on_reconnect = on_reconnect
        self.on_disconnect = on_disconnect
        self.reconnects = 0  # successful reconnections
        self.user_id: int | None = None  # after login
        self.last_close: tuple[int | None, str] | None = None  # the last drop's code, reason
        self._ws: ClientConnection | None = None
        self._subs: dict[str, list[Subscription[Any]]] = defaultdict(list)
        self._subscribed: set[str] = set()  # on the current connection
        self._books: dict[str, _BookSync] = {}
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._up = asyncio.Event()
        self._closing = False
        self._failed: ExchangeError | None = None
        self._drop: Callable[[dict[str, Any]], bool] | None = None  # tests: lose messages

    # ------------------------------------------------------------------- lifecycle

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._up.is_set()

    async def connect(self) -> None:
        """Connect (and log in, if there are credentials); a no-op once connected. Raises
        ``TransportError`` if the server cannot be reached, ``AuthError`` if login fails."""
        if self._failed is not None:
            raise self._failed
        if self._supervisor is None:
            self._closing = False
            self._ready = asyncio.get_running_loop().create_future()
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
            if self.resync_interval:
                self._checker = asyncio.get_running_loop().create_task(self._check_books())
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def close(self) -> None:
        """Close the connection and end every subscription's iteration."""
        self._closing = True
        for task in (self._supervisor, self._checker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._supervisor = self._checker = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None
        self._up.clear()
        self._fail_pending(ConnectionLost("CLOSED", "the client was closed"))
        for sync in self._books.values():
            sync.unsync()
        for subs in list(self._subs.values()):
            for sub in subs:
                if not sub.closed:
                    sub._end(None)
        self._subs.clear()
        if self._own_rest:
            await self.rest.close()

    async def __aenter__(self) -> StreamClient:
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _supervise(self) -> None:
        try:
            await self._keep_connected()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug: say so rather than hang whoever waits
            log.exception("the connection supervisor failed")
            self._give_up(ExchangeError("INTERNAL", f"the stream client failed: {e!r}"))

    async def _keep_connected(self) -> None:
        assert self._ready is not None
        first = True
        attempts = 0
        delay = self.backoff
        while not self._closing:
            try:
                ws = await connect(self.url, open_timeout=self.open_timeout,
                                   max_size=2**24, max_queue=None)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
                if first:
                    self._give_up(TransportError("TRANSPORT", f"cannot connect to {self.url}: "
                                                              f"{type(e).__name__}: {e}"))
                    return
                attempts += 1
                if (self.max_reconnect_attempts is not None
                        and attempts > self.max_reconnect_attempts):
                    self._give_up(ConnectionLost("CONNECTION_LOST", f"gave up reconnecting to "
                                                 f"{self.url} after {attempts - 1} attempts"))
                    return
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.max_backoff)
                continue
            self._ws = ws
            self._subscribed = set()
            reader = asyncio.get_running_loop().create_task(self._read(ws))
            try:
                await self._start_session()
            except ApiError as e:  # the server refused the login or a subscription
                reader.cancel()
                await ws.close()
                self._ws = None
                self._give_up(e)
                return
            except (ExchangeError, TimeoutError, ConnectionClosed):
                pass  # dropped during the setup: the reader ends; reconnect below
            else:
                self._up.set()
                attempts = 0
                delay = self.backoff
                if first:
                    first = False
                    if not self._ready.done():
                        self._ready.set_result(None)
                else:
                    self.reconnects += 1
                    await self._call_hook(self.on_reconnect)
            await asyncio.gather(reader, return_exceptions=True)
            with contextlib.suppress(Exception):
                await ws.close()
            self._up.clear()
            self._ws = None
            self._fail_pending(ConnectionLost("CONNECTION_LOST",
                                              f"the connection closed: {self.last_close}"))
            for sync in self._books.values():
                sync.unsync()
            if self._closing:
                return
            await self._call_hook(self.on_disconnect)
            if first or not self.reconnect:
                self._give_up(ConnectionLost("CONNECTION_LOST",
                                             f"the connection closed: {self.last_close}"))
                return
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.max_backoff)

    def _give_up(self, error: ExchangeError) -> None:
        self._failed = error
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved: connect() raises it
        for subs in self._subs.values():
            for sub in subs:
                if not sub.closed:
                    sub._end(error)

    async def _start_session(self) -> None:
        """After each connection: log in, subscribe to everything wanted, resync the books.
        What is added meanwhile waits for the session and then adds itself."""
        if self.credentials is not None:
            await self._login()
        streams = self._wanted()
        books = list(self._books.values())
        if streams:
            await self._request("subscribe", {"streams": sorted(streams)})
            self._subscribed |= streams
        for sync in books:
            sync.start_resync()

    async def _login(self) -> None:
        assert self.credentials is not None
        ts = str(time.time_ns() // 1_000_000 + self.rest.clock_offset_ms)
        result = await self._request("login", {
            "api_key": self.credentials.api_key, "timestamp": ts,
            "signature": sign(self.credentials.secret, ts, "GET", "/ws")})
        self.user_id = int(result["user"])

    def _wanted(self) -> set[str]:
        wanted = {s for s, subs in self._subs.items() if subs and s != USER_STREAM}
        wanted.update(f"depth@{symbol}" for symbol in self._books)
        return wanted

    async def _call_hook(self, hook: Callable[[], Awaitable[None] | None] | None) -> None:
        if hook is None:
            return
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("stream hook failed")

    async def _check_books(self) -> None:
        assert self.resync_interval
        while True:
            await asyncio.sleep(self.resync_interval)
            for symbol, sync in list(self._books.items()):
                if sync.book.synced:
                    try:
                        await sync.verify(self.request_timeout)
                    except (ExchangeError, TimeoutError) as e:
                        log.warning("%s: periodic book check failed: %s", symbol, e)

    # ------------------------------------------------------------------- reading

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    message = loads(raw)
                except ValueError:
                    log.warning("not JSON from the server: %r", raw[:200])
                    continue
                if not isinstance(message, dict):
                    continue
                if self._drop is not None and self._drop(message):
                    continue
                try:
                    await self._dispatch(message)
                except Exception:  # a bug here must not end the connection silently
                    log.exception("could not handle %r", message)
        except ConnectionClosed:
            pass
        finally:
            code, reason = ws.close_code, ws.close_reason
            self.last_close = (code, reason or "") if code is not None else (
                None, "the connection was cut")
            self._up.clear()
            self._fail_pending(ConnectionLost("CONNECTION_LOST",
                                              f"the connection closed: {self.last_close}"))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        stream = message.get("stream")
        if isinstance(stream, str):
            try:
                event = parse_stream_data(stream, message.get("data"))
            except WireError as e:
                log.warning("%s: unexpected message (%s): %r", stream, e, message)
                return
            if isinstance(event, BookChanged):
                sync = self._books.get(event.symbol)
                if sync is not None:
                    sync.on_delta(event)
            for sub in list(self._subs.get(stream, ())):
                await sub._deliver(event)
            return
        request_id = message.get("id")
        future = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if future is not None:
            if not future.done():
                future.set_result(message)
        elif "error" in message:
            log.warning("error from the server: %s", message["error"])

    def _fail_pending(self, error: ExchangeError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    # ------------------------------------------------------------------- requests

    async def _request(self, op: str, fields: dict[str, Any]) -> Any:
        return (await self._exchange(op, fields)).get("result")

    async def _exchange(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Send one request; its whole answer (or the error it carries, raised)."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("NOT_CONNECTED", f"{op}: not connected (reconnecting?)")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await ws.send(json.dumps({"op": op, "id": request_id, **fields}))
            reply = await asyncio.wait_for(future, self.request_timeout)
        except ConnectionClosed:
            raise ConnectionLost("CONNECTION_LOST", f"{op}: the connection closed") from None
        except TimeoutError:
            raise TransportError("TIMEOUT", f"{op}: no answer in {self.request_timeout} s"
                                 ) from None
        finally:
            self._pending.pop(request_id, None)
        error = reply.get("error")
        if isinstance(error, dict):
            raise api_error(str(error.get("code")), str(error.get("msg", "")), None)
        return reply

    async def _ensure(self) -> None:
        if self._supervisor is None or self._failed is not None:
            await self.connect()

    async def ping(self) -> int:
        """A round trip to the server; returns its clock (ms)."""
        await self._ensure()
        reply = await self._exchange("ping", {})
        return int(reply["time"])

    async def place_order(self, order: OrderRequest) -> PlacedOrder:
        """Place an order over the websocket (logged in). Not retried: if the connection
        drops before the answer, ``OutcomeUnknown`` (look it up by its client order id)."""
        await self._ensure()
        if order.client_order_id is None:
            order = order.with_client_order_id(new_client_order_id())
        try:
            result = await self._request("order", {"params": order.to_wire()})
        except (ConnectionLost, TransportError) as e:
            raise OutcomeUnknown("OUTCOME_UNKNOWN",
                                 f"order {order.client_order_id}: {e.msg}") from e
        return from_wire(PlacedOrder, result)

    async def cancel_order(self, symbol: str, order_id: int) -> list[Event]:
        """Cancel over the websocket; returns the cancel's events."""
        await self._ensure()
        try:
            result = await self._request("cancel", {"params": {"symbol": symbol,
                                                               "order_id": int(order_id)}})
        except (ConnectionLost, TransportError) as e:
            raise OutcomeUnknown("OUTCOME_UNKNOWN", f"cancel {order_id}: {e.msg}") from e
        return parse_events(result)

    # ------------------------------------------------------------------- subscriptions

    async def subscribe(self, *streams: str, callback: Callback[StreamEvent] | None = None,
                        queue_size: int | None = None) -> Subscription[StreamEvent]:
        """Subscribe to streams by name: ``depth@S``, ``trades@S``, ``ticker@S``,
        ``kline_1m@S`` (any interval), ``mark@S``, ``liquidations``, and ``user`` (the
        logged-in account's events; needs credentials)."""
        if not streams:
            raise ValueError("subscribe to at least one stream")
        if USER_STREAM in streams and self.credentials is None:
            raise ExchangeError("AUTH_MISSING", "the user stream needs credentials")
        await self._ensure()
        sub: Subscription[StreamEvent] = Subscription(self, tuple(streams), callback,
                                                      queue_size or self.queue_size)
        for stream in streams:
            self._subs[stream].append(sub)
        try:
            await self._add_streams(set(streams) - {USER_STREAM})
        except ApiError:
            await self._drop_subscription(sub)
            raise
        return sub

    async def _session(self) -> bool:
        """Wait for a connection being set up; True once one is up."""
        if self._ws is not None and not self._up.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), self.request_timeout)
        return self._up.is_set()

    async def _add_streams(self, streams: set[str]) -> None:
        """Subscribe on the current connection to those of ``streams`` it lacks (without a
        connection, the next one subscribes to everything wanted)."""
        if not await self._session():
            return
        new = streams - self._subscribed
        if not new:
            return
        try:
            await self._request("subscribe", {"streams": sorted(new)})
        except ConnectionLost:
            return  # the reconnection subscribes them
        self._subscribed |= new

    async def _drop_subscription(self, sub: Subscription[Any]) -> None:
        for stream in sub.streams:
            subs = self._subs.get(stream)
            if subs is not None and sub in subs:
                subs.remove(sub)
        gone = sorted(s for s in set(sub.streams) - self._wanted() - {USER_STREAM})
        for stream in gone:
            self._subs.pop(stream, None)
        if gone and self._up.is_set():
            self._subscribed -= set(gone)
            with contextlib.suppress(ExchangeError):
                await self._request("unsubscribe", {"streams": gone})

    async def _typed(self, stream: str, callback: Any, queue_size: int | None) -> Any:
        return await self.subscribe(stream, callback=callback, queue_size=queue_size)

    async def trades(self, symbol: str, callback: Callback[Traded] | None = None,
                     queue_size: int | None = None) -> Subscription[Traded]:
        sub: Subscription[Traded] = await self._typed(f"trades@{symbol}", callback, queue_size)
        return sub

    async def tickers(self, symbol: str, callback: Callback[TickerUpdate] | None = None,
                      queue_size: int | None = None) -> Subscription[TickerUpdate]:
        sub: Subscription[TickerUpdate] = await self._typed(f"ticker@{symbol}", callback,
                                                            queue_size)
        return sub

    async def klines(self, symbol: str, interval: str = "1m",
                     callback: Callback[KlineUpdate] | None = None,
                     queue_size: int | None = None) -> Subscription[KlineUpdate]:
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(KLINE_INTERVALS)}")
        sub: Subscription[KlineUpdate] = await self._typed(f"kline_{interval}@{symbol}",
                                                           callback, queue_size)
        return sub

    async def marks(self, symbol: str,
                    callback: Callback[MarkPriceChanged | FundingSettled] | None = None,
                    queue_size: int | None = None,
                    ) -> Subscription[MarkPriceChanged | FundingSettled]:
        """Mark price updates (each second) and funding settlements."""
        sub: Subscription[MarkPriceChanged | FundingSettled] = await self._typed(
            f"mark@{symbol}", callback, queue_size)
        return sub

    async def depth_updates(self, symbol: str, callback: Callback[BookChanged] | None = None,
                            queue_size: int | None = None) -> Subscription[BookChanged]:
        """Raw depth deltas (``order_book`` keeps a book from them for you)."""
        sub: Subscription[BookChanged] = await self._typed(f"depth@{symbol}", callback,
                                                           queue_size)
        return sub

    async def liquidations(self, callback: Callback[Event] | None = None,
                           queue_size: int | None = None) -> Subscription[Event]:
        """Every liquidation on the venue (started, taken over, filled, ADL)."""
        sub: Subscription[Event] = await self._typed("liquidations", callback, queue_size)
        return sub

    async def user(self, callback: Callback[Event] | None = None,
                   queue_size: int | None = None) -> Subscription[Event]:
        """The account's own events: orders, fills, balances, funding, margin calls,
        liquidation and ADL notices."""
        sub: Subscription[Event] = await self._typed(USER_STREAM, callback, queue_size)
        return sub

    # ------------------------------------------------------------------- books

    async def order_book(self, symbol: str, *, wait: bool = True,
                         timeout: float = 10.0) -> OrderBook:
        """The local book of ``symbol``, kept in sync from now on (the same object on every
        call). With ``wait``, returns once it is synced."""
        await self._ensure()
        sync = self._books.get(symbol)
        if sync is None:
            stream = f"depth@{symbol}"
            sync = _BookSync(self, symbol)
            self._books[symbol] = sync
            try:
                await self._add_streams({stream})
            except ApiError:
                del self._books[symbol]
                raise
            # Subscribed (acknowledged) on this connection: now the snapshot may be taken.
            if stream in self._subscribed and sync.task is None and not sync.book.synced:
                sync.start_resync()
        if wait:
            try:
                await asyncio.wait_for(sync.synced.wait(), timeout)
            except TimeoutError:
                raise TransportError("TIMEOUT", f"{symbol}: the book did not sync in "
                                     f"{timeout} s") from None
        return sync.book

    async def resync(self, symbol: str, timeout: float = 10.0) -> OrderBook:
        """Rebuild the book from a fresh snapshot now."""
        sync = self._books.get(symbol)
        if sync is None:
            return await self.order_book(symbol, timeout=timeout)
        sync.start_resync()
        await asyncio.wait_for(sync.synced.wait(), timeout)
        return sync.book

    async def verify_book(self, symbol: str, timeout: float = 10.0) -> bool | None:
        """Check the live book against a fresh snapshot (see the module's docstring): True if
        they agree, False if they did not (a gap: the book is replaced by the fresh one and
        ``book.gaps`` counts it), None if the book did not change within ``timeout`` after
        the snapshot, so there was no moment to compare at (the snapshot is adopted)."""
        sync = self._books.get(symbol)
        if sync is None:
            raise ValueError(f"no book for {symbol}: call order_book first")
        return await sync.verify(timeout)
