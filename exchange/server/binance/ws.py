"""Binance USDⓈ-M websocket streams, on the paths ccxt.pro derives from a ``/ws`` base URL.

With ``urls['api']['ws']['linear'] = 'ws://HOST/fstream/ws'`` ccxt.pro connects to
``/fstream/public/ws/<n>`` (depth, bookTicker, trade), ``/fstream/market/ws/<n>`` (the other
market streams) and ``/fstream/private/ws?listenKey=K`` (the user data stream). Served here:

- raw streams: ``/fstream/ws``, ``/fstream/ws/<stream>[/<stream>...]`` (a listen key among
  them attaches the user data stream), and the same under ``/fstream/{public,market,private}``;
- combined streams: ``/fstream/stream?streams=a/b`` (and under the three categories), each
  message wrapped as ``{"stream": name, "data": payload}``;
- on every connection, Binance's requests ``{"method": "SUBSCRIBE" | "UNSUBSCRIBE" |
  "LIST_SUBSCRIPTIONS" | "SET_PROPERTY" | "GET_PROPERTY", "params": [...], "id": N}``, answered
  ``{"result": ..., "id": N}`` or ``{"error": {"code", "msg"}, "id": N}``.

Streams: ``<symbol>@depth[<5|10|20>][@100ms|@250ms|@500ms|@0ms]``, ``@trade``, ``@aggTrade``,
``@markPrice[@1s]``, ``@kline_<interval>``, ``@miniTicker``, ``@ticker``, ``@bookTicker``,
``@forceOrder``, and ``!markPrice@arr[@1s]``, ``!miniTicker@arr``, ``!ticker@arr``,
``!bookTicker``, ``!forceOrder@arr``.

Depth diffs carry Binance's ``U`` (first update id), ``u`` (last) and ``pu`` (the previous
message's ``u``): each message covers the book's sequence numbers ``(pu, u]`` and the next one
starts where it ended, so a ``GET /fapi/v1/depth`` snapshot's ``lastUpdateId`` (the book's
sequence number) always falls in some message's range, and applying the messages from that one
on, in order, keeps a book equal to the venue's. A diff goes out only when every event applied
so far has been published (the journal has caught up), so ``u`` never claims a change whose
level update is still to come. ``@0ms`` is served at 100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import defaultdict
from typing import Any, NamedTuple

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from exchange.core.events import BookChanged, Event, LiquidationFilled, Traded
from exchange.core.instruments import Instrument
from exchange.core.units import format_usdt
from exchange.server.binance import formats, klines, rest_public
from exchange.server.binance.state import FacadeState
from exchange.server.binance.userstream import UserBatch
from exchange.server.outbox import Outbox
from exchange.server.runtime import Exchange
from exchange.server.wire import side_str
from matching import Side

router = APIRouter()

TICK_S = 0.02
MAX_STREAMS = 1024
CATEGORIES = ("public", "market", "private")
DEPTH = re.compile(r"depth(5|10|20)?(?:@(0|100|250|500)ms)?")
KLINE = re.compile(r"kline_(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M)")
SIMPLE = frozenset({"trade", "aggTrade", "markPrice", "markPrice@1s", "miniTicker", "ticker",
                    "bookTicker", "forceOrder"})
ALL_MARKET = frozenset({"!markPrice@arr", "!markPrice@arr@1s", "!miniTicker@arr",
                        "!ticker@arr", "!bookTicker", "!forceOrder@arr"})
KLINE_MS = 250
TICKER_MS = 1_000


class Stream(NamedTuple):
    name: str  # canonical: lower-case symbol, Binance's spelling of the rest
    symbol: str | None
    kind: str  # depth, trade, aggTrade, markPrice, kline, miniTicker, ticker, bookTicker...
    levels: int | None = None  # partial depth
    every_ms: int = 0
    interval: str = ""


def parse_stream(name: str, instruments: dict[str, Instrument]) -> Stream | None:
    if name in ALL_MARKET:
        every = 1_000 if name.endswith("@1s") else 3_000
        return Stream(name, None, name.split("@")[0][1:], every_ms=every)
    symbol, _, rest = name.partition("@")
    upper = symbol.upper()
    if upper not in instruments or not rest:
        return None
    canonical = f"{symbol.lower()}@{rest}"
    depth = DEPTH.fullmatch(rest)
    if depth:
        speed = int(depth.group(2) or 250) or 100
        return Stream(canonical, upper, "depth", int(depth.group(1)) if depth.group(1) else None,
                      every_ms=speed)
    kline = KLINE.fullmatch(rest)
    if kline:
        return Stream(canonical, upper, "kline", interval=kline.group(1), every_ms=KLINE_MS)
    if rest in SIMPLE:
        kind = rest.split("@")[0]
        every = 1_000 if rest == "markPrice@1s" else 3_000 if kind == "markPrice" else TICKER_MS
        return Stream(canonical, upper, kind, every_ms=every)
    return None


class Conn:
    def __init__(self, ws: WebSocket, limit: int, combined: bool) -> None:
        self.ws = ws
        self.outbox: Outbox[str] = Outbox(limit)
        self.send_text = self.outbox.put
        self.combined = combined
        self.streams: set[str] = set()
        self.user: int | None = None
        self.listen_key: str | None = None

    def send_stream(self, stream: str, payload: str) -> None:
        if self.combined:
            self.send_text(f'{{"stream":{json.dumps(stream)},"data":{payload}}}')
        else:
            self.send_text(payload)


class DepthChain:
    """One depth stream's diffs: the levels changed since the last message, and its ``u``."""

    def __init__(self, stream: Stream, last_u: int, now: int) -> None:
        self.stream = stream
        self.last_u = last_u
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.ts = 0
        self.due = now + stream.every_ms

    def add(self, e: BookChanged) -> None:
        (self.bids if e.side == Side.BUY else self.asks)[e.price] = e.total
        self.ts = e.ts


class Timed:
    """A stream pushed on a timer: when next, whether its symbol traded since, its last bar."""

    __slots__ = ("dirty", "due", "last_open")

    def __init__(self, due: int) -> None:
        self.due = due
        self.dirty = True
        self.last_open = -1


class Hub:
    """Routes the venue's events to the facade's websocket connections; also keeps the facade
    state current (it is the facade's one subscriber to the event stream)."""

    def __init__(self, exchange: Exchange, state: FacadeState) -> None:
        self.exchange = exchange
        self.state = state
        self.conns: set[Conn] = set()
        self.by_stream: dict[str, set[Conn]] = defaultdict(set)
        self.by_user: dict[int, set[Conn]] = defaultdict(set)
        self.streams: dict[str, Stream] = {}
        self.chains: dict[str, DepthChain] = {}
        self.timed: dict[str, Timed] = {}
        self.traded: set[str] = set()  # symbols traded since the last tick
        self.books: dict[str, tuple[int, int, int, int]] = {}  # last bookTicker sent
        self.task: asyncio.Task[None] | None = None
        self.next_key_check = 0

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, conn: Conn, stream: Stream) -> None:
        if stream.name not in self.streams:
            self.streams[stream.name] = stream
            now = self.exchange.now_ms()
            if stream.kind == "depth":
                assert stream.symbol is not None
                seq = self.exchange.venue.books[stream.symbol].seq
                self.chains[stream.name] = DepthChain(stream, seq, now)
            elif stream.every_ms:
                self.timed[stream.name] = Timed(now)
        conn.streams.add(stream.name)
        self.by_stream[stream.name].add(conn)

    def unsubscribe(self, conn: Conn, name: str) -> None:
        conn.streams.discard(name)
        subscribers = self.by_stream.get(name)
        if subscribers is not None:
            subscribers.discard(conn)
            if not subscribers:
                del self.by_stream[name]
                self.streams.pop(name, None)
                self.chains.pop(name, None)
                self.timed.pop(name, None)

    def attach_user(self, conn: Conn, listen_key: str) -> bool:
        user = self.state.listen_keys.user_of(listen_key, self.exchange.now_ms())
        if user is None:
            return False
        if conn.user is not None:
            self.by_user[conn.user].discard(conn)
        conn.user = user
        conn.listen_key = listen_key
        self.by_user[user].add(conn)
        return True

    def detach_user(self, conn: Conn) -> None:
        if conn.user is not None:
            self.by_user[conn.user].discard(conn)
            if not self.by_user[conn.user]:
                del self.by_user[conn.user]
        conn.user = None
        conn.listen_key = None

    def add(self, conn: Conn) -> None:
        self.conns.add(conn)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def drop(self, conn: Conn) -> None:
        for name in list(conn.streams):
            self.unsubscribe(conn, name)
        self.detach_user(conn)
        self.conns.discard(conn)

    # ------------------------------------------------------------------ real-time events

    def _send(self, name: str, payload: dict[str, Any] | list[dict[str, Any]]) -> None:
        subscribers = self.by_stream.get(name)
        if subscribers:
            text = json.dumps(payload, separators=(",", ":"))
            for conn in subscribers:
                conn.send_stream(name, text)

    def publish(self, events: list[Event]) -> None:
        state = self.state
        if not self.conns:
            for e in events:
                state.apply_one(e)
            return
        ex = self.exchange
        now = ex.now_ms()
        users = UserBatch(ex, state, now) if self.by_user else None
        taker: list[Traded] = []
        touched: set[str] = set()
        for e in events:
            track = state.apply_one(e)
            kind = type(e)
            if kind is BookChanged:
                assert isinstance(e, BookChanged)
                touched.add(e.symbol)
                for chain in self._chains_of(e.symbol):
                    chain.add(e)
            elif kind is Traded:
                assert isinstance(e, Traded)
                self.traded.add(e.symbol)
                self._trade(e)
                if taker and (taker[-1].taker_order_id != e.taker_order_id
                              or taker[-1].price != e.price):
                    self._agg(taker)
                    taker = []
                taker.append(e)
            elif kind is LiquidationFilled:
                assert isinstance(e, LiquidationFilled)
                self._force_order(e, now)
            account = getattr(e, "account", None)
            if users is not None and account is not None and account in self.by_user:
                users.add(e, account, track)
        if taker:
            self._agg(taker)
        for symbol in touched:
            self._book_ticker(symbol, now)
        if users is not None:
            for account, messages in users.finish().items():
                for conn in self.by_user.get(account, ()):
                    for message in messages:
                        conn.send_stream(conn.listen_key or "",
                                         json.dumps(message, separators=(",", ":")))

    def _chains_of(self, symbol: str) -> list[DepthChain]:
        return [c for c in self.chains.values() if c.stream.symbol == symbol
                and c.stream.levels is None]

    def _trade(self, t: Traded) -> None:
        name = f"{t.symbol.lower()}@trade"
        if name in self.by_stream:
            inst = self.exchange.instruments[t.symbol]
            self._send(name, {"e": "trade", "E": t.ts, "T": t.ts, "s": t.symbol,
                              "t": t.trade_id, "p": inst.price_str(t.price),
                              "q": inst.qty_str(t.quantity), "X": "MARKET",
                              "m": side_str(t.aggressor) == "SELL"})

    def _agg(self, group: list[Traded]) -> None:
        first = group[0]
        name = f"{first.symbol.lower()}@aggTrade"
        if name in self.by_stream:
            inst = self.exchange.instruments[first.symbol]
            payload = {"e": "aggTrade", "E": first.ts, "s": first.symbol}
            payload.update(formats.agg_trade_json(inst, group))
            self._send(name, payload)

    def _force_order(self, e: LiquidationFilled, now: int) -> None:
        inst = self.exchange.instruments[e.symbol]
        qty, price = inst.qty_str(e.quantity), inst.price_str(e.price)
        payload = {"e": "forceOrder", "E": now, "o": {
            "s": e.symbol, "S": side_str(e.side), "o": "LIMIT", "f": "IOC", "q": qty, "p": price,
            "ap": price, "X": "FILLED", "l": qty, "z": qty, "T": e.ts}}
        self._send(f"{e.symbol.lower()}@forceOrder", payload)
        self._send("!forceOrder@arr", payload)

    def _book_ticker(self, symbol: str, now: int) -> None:
        name = f"{symbol.lower()}@bookTicker"
        if name not in self.by_stream and "!bookTicker" not in self.by_stream:
            return
        book = self.exchange.venue.books[symbol]
        snap = book.depth(1)
        bid = snap.bids[0] if snap.bids else (0, 0)
        ask = snap.asks[0] if snap.asks else (0, 0)
        top = (bid[0], bid[1], ask[0], ask[1])
        if self.books.get(symbol) == top:
            return
        self.books[symbol] = top
        inst = self.exchange.instruments[symbol]
        payload = {"e": "bookTicker", "u": snap.seq, "s": symbol, "b": inst.price_str(bid[0]),
                   "B": inst.qty_str(bid[1]), "a": inst.price_str(ask[0]),
                   "A": inst.qty_str(ask[1]), "T": now, "E": now}
        self._send(name, payload)
        self._send("!bookTicker", payload)

    # ------------------------------------------------------------------ timed streams

    def quiet(self) -> bool:
        """Every event applied so far has been published (the journal has caught up)."""
        journal = self.exchange.journal
        return journal is None or journal.synced >= journal.appended

    async def run(self) -> None:
        try:
            while self.conns:
                await asyncio.sleep(TICK_S)
                self.tick(self.exchange.now_ms())
        finally:
            self.task = None

    def tick(self, now: int) -> None:
        if self.quiet():
            for chain in list(self.chains.values()):
                if now >= chain.due:
                    chain.due = now + chain.stream.every_ms
                    self._flush(chain, now)
        traded, self.traded = self.traded, set()
        for name, timed in list(self.timed.items()):
            stream = self.streams[name]
            if traded and (stream.symbol is None or stream.symbol in traded):
                timed.dirty = True
            if now >= timed.due:
                timed.due = now + stream.every_ms
                self._timed(stream, timed, now, timed.dirty)
                timed.dirty = False
        if now >= self.next_key_check:
            self.next_key_check = now + 1_000
            self._expire_listen_keys(now)

    def _flush(self, chain: DepthChain, now: int) -> None:
        stream = chain.stream
        assert stream.symbol is not None
        book = self.exchange.venue.books[stream.symbol]
        u = book.seq
        if u == chain.last_u:
            chain.bids.clear()  # changes from before the chain started, all in any snapshot
            chain.asks.clear()
            return
        inst = self.exchange.instruments[stream.symbol]
        if stream.levels is not None:
            snap = book.depth(stream.levels)
            bids, asks = snap.bids, snap.asks
        else:
            if not chain.bids and not chain.asks:
                return
            bids = sorted(chain.bids.items(), reverse=True)
            asks = sorted(chain.asks.items())
            chain.bids, chain.asks = {}, {}
        payload = {"e": "depthUpdate", "E": now, "T": chain.ts or now, "s": stream.symbol,
                   "U": chain.last_u + 1, "u": u, "pu": chain.last_u,
                   "b": [[inst.price_str(p), inst.qty_str(q)] for p, q in bids],
                   "a": [[inst.price_str(p), inst.qty_str(q)] for p, q in asks]}
        chain.last_u = u
        self._send(stream.name, payload)

    def _timed(self, stream: Stream, timed: Timed, now: int, changed: bool) -> None:
        ex = self.exchange
        symbols = [stream.symbol] if stream.symbol is not None else list(ex.instruments)
        if stream.kind == "markPrice":
            rows = [self._mark(ex.instruments[s], now) for s in symbols]
            self._send(stream.name, rows[0] if stream.symbol is not None else rows)
        elif stream.kind in ("miniTicker", "ticker") and changed:
            rows = [self._ticker(ex.instruments[s], now, stream.kind == "ticker")
                    for s in symbols]
            self._send(stream.name, rows[0] if stream.symbol is not None else rows)
        elif stream.kind == "kline" and stream.symbol is not None:
            self._kline(stream, timed, now, changed)

    def _mark(self, inst: Instrument, now: int) -> dict[str, Any]:
        row = rest_public.premium_index(self.exchange, inst)
        return {"e": "markPriceUpdate", "E": now, "s": inst.symbol, "p": row["markPrice"],
                "i": row["indexPrice"], "P": row["estimatedSettlePrice"],
                "r": row["lastFundingRate"], "T": row["nextFundingTime"]}

    def _ticker(self, inst: Instrument, now: int, full: bool) -> dict[str, Any]:
        t = rest_public.ticker_24hr(self.exchange, inst)
        if not full:
            return {"e": "24hrMiniTicker", "E": now, "s": inst.symbol, "c": t["lastPrice"],
                    "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"],
                    "v": t["volume"], "q": t["quoteVolume"]}
        return {"e": "24hrTicker", "E": now, "s": inst.symbol, "p": t["priceChange"],
                "P": t["priceChangePercent"], "w": t["weightedAvgPrice"], "c": t["lastPrice"],
                "Q": t["lastQty"], "o": t["openPrice"], "h": t["highPrice"],
                "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"],
                "O": t["openTime"], "C": t["closeTime"], "F": t["firstId"], "L": t["lastId"],
                "n": t["count"]}

    def _kline(self, stream: Stream, timed: Timed, now: int, changed: bool) -> None:
        assert stream.symbol is not None
        ex = self.exchange
        inst = ex.instruments[stream.symbol]
        bars = ex.projections.klines[stream.symbol, klines.BASE[stream.interval]]
        recent = list(bars)[-64:]
        candles = klines.candles(stream.interval, recent)
        if not candles:
            return
        current = candles[-1]
        if timed.last_open != current.open_time and timed.last_open >= 0 and len(candles) > 1:
            previous = candles[-2]
            if previous.open_time == timed.last_open:
                self._send(stream.name, self._kline_payload(inst, stream, previous, now, True))
        elif not changed and timed.last_open == current.open_time:
            return
        timed.last_open = current.open_time
        self._send(stream.name, self._kline_payload(inst, stream, current, now, False))

    def _kline_payload(self, inst: Instrument, stream: Stream, c: klines.Candle, now: int,
                       closed: bool) -> dict[str, Any]:
        return {"e": "kline", "E": now, "s": inst.symbol, "k": {
            "t": c.open_time, "T": c.close_time, "s": inst.symbol, "i": stream.interval,
            "f": 0, "L": 0, "o": inst.price_str(c.open), "c": inst.price_str(c.close),
            "h": inst.price_str(c.high), "l": inst.price_str(c.low),
            "v": inst.qty_str(c.volume), "n": c.trades, "x": closed,
            "q": format_usdt(c.quote_volume * inst.atoms_per_tick_lot), "V": "0", "Q": "0",
            "B": "0"}}

    def _expire_listen_keys(self, now: int) -> None:
        keys = self.state.listen_keys
        keys.expired(now)
        for conns in list(self.by_user.values()):
            for conn in list(conns):
                key = conn.listen_key
                if key is not None and keys.user_of(key, now) is None:
                    conn.send_stream(key, json.dumps({"e": "listenKeyExpired", "E": now,
                                                      "listenKey": key}))
                    self.detach_user(conn)


# ---------------------------------------------------------------------- connections


def error(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


def handle(hub: Hub, conn: Conn, raw: str) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except ValueError:
        return error(3, "Invalid JSON: expected value", None)
    if not isinstance(message, dict):
        return error(3, "Invalid JSON: expected an object", None)
    request_id = message.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not (
            (isinstance(request_id, int) and 0 <= request_id < 2**63)
            or (isinstance(request_id, str) and len(request_id) <= 64))):
        return error(2, "Invalid request: request ID must be an unsigned integer", None)
    method = message.get("method")
    params = message.get("params", [])
    if not isinstance(params, list):
        return error(2, "Invalid request: params must be an array", request_id)
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not all(isinstance(p, str) and len(p) <= 200 for p in params):
            return error(2, "Invalid request: stream names are strings", request_id)
        instruments = hub.exchange.instruments
        if method == "UNSUBSCRIBE":
            for name in params:
                stream = parse_stream(name, instruments)
                hub.unsubscribe(conn, stream.name if stream else name)
            return {"result": None, "id": request_id}
        streams = []
        for name in params:
            stream = parse_stream(name, instruments)
            if stream is None:
                if hub.attach_user(conn, name):  # a listen key subscribes the user stream
                    continue
                return error(2, f"Invalid request: unknown stream {name!r}", request_id)
            streams.append(stream)
        if len(conn.streams) + len(streams) > MAX_STREAMS:
            return error(2, f"Invalid request: at most {MAX_STREAMS} streams per connection",
                         request_id)
        for stream in streams:
            hub.subscribe(conn, stream)
        return {"result": None, "id": request_id}
    if method == "LIST_SUBSCRIPTIONS":
        names = sorted(conn.streams) + ([conn.listen_key] if conn.listen_key else [])
        return {"result": names, "id": request_id}
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        if not params or params[0] != "combined":
            return error(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": request_id}
        if len(params) != 2 or not isinstance(params[1], bool):
            return error(1, "Invalid value type: expected Boolean", request_id)
        conn.combined = params[1]
        return {"result": None, "id": request_id}
    return error(2, "Invalid request: unknown variant, expected one of SUBSCRIBE, UNSUBSCRIBE, "
                    "LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY", request_id)


async def writer(conn: Conn) -> None:
    while True:
        text = await conn.outbox.get()
        if text is None:
            await conn.ws.close(code=1008, reason="slow consumer: too far behind the stream")
            return
        await conn.ws.send_text(text)


async def serve(ws: WebSocket, names: list[str], combined: bool) -> None:
    hub: Hub = ws.app.state.binance_hub
    listen_key = ws.query_params.get("listenKey")
    if listen_key is not None and hub.state.listen_keys.user_of(
            listen_key, hub.exchange.now_ms()) is None:
        await ws.close(code=1008, reason="invalid listenKey")
        return
    await ws.accept()
    conn = Conn(ws, hub.exchange.config.ws_queue_limit, combined)
    hub.add(conn)
    sending = asyncio.create_task(writer(conn))
    try:
        if listen_key is not None:
            hub.attach_user(conn, listen_key)
        for name in names[:MAX_STREAMS]:
            stream = parse_stream(name, hub.exchange.instruments)
            if stream is not None:
                hub.subscribe(conn, stream)
            else:
                hub.attach_user(conn, name)  # a listen key, or ignored (e.g. ccxt's "/ws/0")
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:
                data = message.get("bytes") or b""
                raw = data.decode("utf-8", "replace")
            conn.send_text(json.dumps(handle(hub, conn, raw), separators=(",", ":")))
    except WebSocketDisconnect:
        pass
    finally:
        hub.drop(conn)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sending


def category_ok(category: str) -> bool:
    return category in CATEGORIES


@router.websocket("/fstream/ws")
async def raw_bare(ws: WebSocket) -> None:
    await serve(ws, [], False)


@router.websocket("/fstream/ws/{names:path}")
async def raw_named(ws: WebSocket, names: str) -> None:
    await serve(ws, names.split("/"), False)


@router.websocket("/fstream/{category}/ws")
async def raw_category(ws: WebSocket, category: str) -> None:
    if not category_ok(category):
        await ws.close(code=1008)
        return
    await serve(ws, [], False)


@router.websocket("/fstream/{category}/ws/{names:path}")
async def raw_category_named(ws: WebSocket, category: str, names: str) -> None:
    if not category_ok(category):
        await ws.close(code=1008)
        return
    await serve(ws, names.split("/"), False)


@router.websocket("/fstream/stream")
async def combined_streams(ws: WebSocket) -> None:
    await serve(ws, (ws.query_params.get("streams") or "").split("/"), True)


@router.websocket("/fstream/{category}/stream")
async def combined_category(ws: WebSocket, category: str) -> None:
    if not category_ok(category):
        await ws.close(code=1008)
        return
    await serve(ws, (ws.query_params.get("streams") or "").split("/"), True)
