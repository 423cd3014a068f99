"""The websocket API at ``/ws``: public streams, the private user stream, order entry.

Client messages (JSON):
- ``{"op": "subscribe", "streams": ["depth@BTCUSDT", "trades@BTCUSDT", "ticker@BTCUSDT",
  "kline_1m@BTCUSDT", "mark@BTCUSDT", "liquidations"]}`` and ``"unsubscribe"`` likewise;
- ``{"op": "login", "api_key": K, "timestamp": T, "signature": S}`` with ``S`` the hex
  HMAC-SHA256 of ``T + "GET" + "/ws"`` under the key's secret: from then on the connection
  receives the ``user`` stream (orders, fills, balances, funding, margin calls, liquidation
  and ADL notices) and may send ``{"op": "order", "id": N, "params": {...as POST
  /api/v1/orders}}`` and ``{"op": "cancel", "id": N, "params": {"symbol": S, "order_id": I}}``;
- ``{"op": "ping"}``.

Server messages: ``{"stream": name, "data": {...}}``, and ``{"id": N, "result": ...}`` or
``{"id": N, "error": {"code", "msg"}}`` answers. Depth deltas carry the book's ``seq``: apply
those with ``seq`` greater than a REST snapshot's to stay in sync without gaps.

A slow consumer never stalls the sequencer: each connection has a bounded queue, and one that
falls behind is closed with code 1008 and the reason "slow consumer".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from pydantic_core import to_json

from exchange.core.commands import CancelOrder
from exchange.core.events import (
    AdlFilled,
    BookChanged,
    Event,
    FundingSettled,
    LiquidationFilled,
    LiquidationStarted,
    MarkPriceChanged,
    PositionTakenOver,
    Traded,
)
from exchange.server.auth import ApiKey, Permission
from exchange.server.errors import ApiCode, ApiError
from exchange.server.outbox import Outbox
from exchange.server.projections import KLINE_INTERVALS
from exchange.server.routes_private import (
    OrderBody,
    order_command,
    order_result,
    raise_if_rejected,
)
from exchange.server.runtime import Exchange
from exchange.server.wire import event_to_wire

router = APIRouter()
log = logging.getLogger("paper_exchange")

QUEUE_LIMIT = 10_000
MAX_IN_FLIGHT = 256  # requests of one connection being handled at once
LIQUIDATION_EVENTS = (LiquidationStarted, PositionTakenOver, LiquidationFilled, AdlFilled)


class Connection:
    def __init__(self, ws: WebSocket, limit: int = QUEUE_LIMIT) -> None:
        self.ws = ws
        self.outbox: Outbox[dict[str, Any]] = Outbox(limit)
        self.send = self.outbox.put
        self.streams: set[str] = set()
        self.user: int | None = None
        self.key: ApiKey | None = None


class Hub:
    """Routes each event to the connections that subscribed to its stream."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.by_stream: dict[str, set[Connection]] = defaultdict(set)
        self.by_user: dict[int, set[Connection]] = defaultdict(set)
        self.last_depth_seq: dict[str, int] = {}
        exchange.subscribers.append(self.publish)

    def publish(self, events: list[Event]) -> None:
        instruments = self.exchange.instruments
        for e in events:
            kind = type(e)
            streams: list[str] = []
            symbol = getattr(e, "symbol", None)
            if kind is BookChanged:
                streams.append(f"depth@{symbol}")
                # The previous depth delta's book_seq, so that a client sees a lost delta
                # (book_seq also counts the book's other events, so it skips numbers).
                assert isinstance(e, BookChanged)
                prev = self.last_depth_seq.get(e.symbol, 0)
                self.last_depth_seq[e.symbol] = e.book_seq
            elif kind is Traded:
                streams.append(f"trades@{symbol}")
                streams.append(f"ticker@{symbol}")
                streams.extend(f"kline_{i}@{symbol}" for i in KLINE_INTERVALS)
            elif kind is MarkPriceChanged or kind is FundingSettled:
                streams.append(f"mark@{symbol}")
            if kind in LIQUIDATION_EVENTS:
                streams.append("liquidations")
            data: dict[str, Any] | None = None
            for stream in streams:
                subscribers = self.by_stream.get(stream)
                if not subscribers:
                    continue
                payload = self._payload(stream, e) if stream.startswith(("ticker", "kline")) \
                    else (data if data is not None else event_to_wire(e, instruments))
                if data is None and not stream.startswith(("ticker", "kline")):
                    data = payload
                    if kind is BookChanged:
                        data["prev_book_seq"] = prev
                for conn in subscribers:
                    conn.send({"stream": stream, "data": payload})
            account = getattr(e, "account", None)
            if account is not None and account in self.by_user:
                message = {"stream": "user", "data": event_to_wire(e, instruments)}
                for conn in self.by_user[account]:
                    conn.send(message)

    def _payload(self, stream: str, e: Event) -> dict[str, Any]:
        ex = self.exchange
        name, symbol = stream.split("@", 1)
        inst = ex.instruments[symbol]
        if name == "ticker":
            t = ex.projections.ticker(symbol, ex.now_ms())
            return {"symbol": symbol, "last": inst.price_str(t["last"]),
                    "high": inst.price_str(t["high"]), "low": inst.price_str(t["low"]),
                    "volume": inst.qty_str(t["volume"]), "trades": t["trades"]}
        interval = name.split("_", 1)[1]
        bar = ex.projections.klines[symbol, interval][-1]
        return {"symbol": symbol, "interval": interval, "open_time": bar.open_time,
                "open": inst.price_str(bar.open), "high": inst.price_str(bar.high),
                "low": inst.price_str(bar.low), "close": inst.price_str(bar.close),
                "volume": inst.qty_str(bar.volume), "trades": bar.trades}

    def valid_stream(self, stream: str) -> bool:
        if stream == "liquidations":
            return True
        name, _, symbol = stream.partition("@")
        if symbol not in self.exchange.instruments:
            return False
        return name in ("depth", "trades", "ticker", "mark") or (
            name.startswith("kline_") and name[6:] in KLINE_INTERVALS)

    def drop(self, conn: Connection) -> None:
        for stream in conn.streams:
            self.by_stream[stream].discard(conn)
        if conn.user is not None:
            self.by_user[conn.user].discard(conn)
            if not self.by_user[conn.user]:
                del self.by_user[conn.user]


async def writer(conn: Connection) -> None:
    outbox, send_text = conn.outbox, conn.ws.send_text
    while True:
        message = await outbox.get()
        if message is None:
            await conn.ws.close(code=1008, reason="slow consumer: too far behind the stream")
            return
        # pydantic-core's serialiser: compact, and several times quicker than json.dumps
        await send_text(to_json(message).decode())


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    await ws.accept()
    conn = Connection(ws, hub.exchange.config.ws_queue_limit)
    sending = asyncio.create_task(writer(conn))
    # Each message is handled in a task of its own, so that orders in flight share the
    # journal's flushes instead of waiting for them one by one. The tasks start in the order
    # the messages came, and each applies its command before its first wait, so commands
    # still reach the venue in arrival order; answers carry the request's id.
    in_flight: set[asyncio.Task[None]] = set()
    try:
        while True:
            raw = await ws.receive_text()
            if len(in_flight) >= MAX_IN_FLIGHT:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(respond(hub, conn, raw))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
    except WebSocketDisconnect:
        pass
    finally:
        for task in list(in_flight):
            task.cancel()
        hub.drop(conn)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sending


async def respond(hub: Hub, conn: Connection, raw: str) -> None:
    reply = await handle(hub, conn, raw)
    if reply is not None:
        conn.send(reply)


def error(request_id: Any, code: str, msg: str) -> dict[str, Any]:
    return {"id": request_id, "error": {"code": code, "msg": msg}}


async def handle(hub: Hub, conn: Connection, raw: str) -> dict[str, Any] | None:
    """One client message; returns the reply (or None)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return error(None, ApiCode.INVALID_REQUEST, "messages are JSON objects")
    if not isinstance(message, dict):
        return error(None, ApiCode.INVALID_REQUEST, "messages are JSON objects")
    request_id = message.get("id")
    if not isinstance(request_id, int | str | None) or isinstance(request_id, bool):
        request_id = None
    op = message.get("op")
    ex = hub.exchange
    try:
        if op == "ping":
            return {"id": request_id, "result": "pong", "time": ex.now_ms()}
        if op in ("subscribe", "unsubscribe"):
            streams = message.get("streams")
            if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
                raise ApiError(400, ApiCode.INVALID_REQUEST, "streams: a list of stream names")
            bad = [s for s in streams if not hub.valid_stream(s)]
            if bad:
                raise ApiError(400, ApiCode.INVALID_REQUEST, f"unknown streams: {bad[:5]}")
            for stream in streams:
                if op == "subscribe":
                    conn.streams.add(stream)
                    hub.by_stream[stream].add(conn)
                else:
                    conn.streams.discard(stream)
                    hub.by_stream[stream].discard(conn)
            return {"id": request_id, "result": sorted(conn.streams)}
        if op == "login":
            return login(hub, conn, message, request_id)
        if op in ("order", "cancel"):
            if conn.key is None or conn.user is None:
                raise ApiError(401, ApiCode.AUTH_MISSING, "log in first (op: login)")
            if Permission.TRADE not in conn.key.permissions:
                raise ApiError(403, ApiCode.AUTH_FORBIDDEN, "this key lacks the trade permission")
            wait = ex.limiter.check(f"key:{conn.key.api_key}", ex.now_ms())
            if wait is not None:
                raise ApiError(429, ApiCode.RATE_LIMITED, "too many requests for this key")
            params = message.get("params")
            if not isinstance(params, dict):
                raise ApiError(400, ApiCode.INVALID_REQUEST, "params: an object")
            result = trade(ex, conn.user, op, params)
            await ex.durable()  # answered once the journal has it
            return {"id": request_id, "result": result}
        raise ApiError(400, ApiCode.INVALID_REQUEST,
                       "op is one of ping, subscribe, unsubscribe, login, order, cancel")
    except ApiError as exc:
        return error(request_id, exc.code, exc.msg)
    except Exception:  # a bug: the client still gets its answer (REST's would be a 500)
        log.exception("unexpected error handling a websocket %r message", op)
        return error(request_id, ApiCode.INTERNAL, "internal error")


def login(hub: Hub, conn: Connection, message: dict[str, Any], request_id: Any) -> dict[str, Any]:
    ex = hub.exchange
    values = [message.get(k) for k in ("api_key", "timestamp", "signature")]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
        raise ApiError(401, ApiCode.AUTH_MISSING, "login needs api_key, timestamp, signature")
    api_key, timestamp, signature = (str(v) for v in values)
    # The signed payload is REST's, for GET /ws with no body: timestamp + "GET" + "/ws".
    key = ex.keys.authenticate(api_key, timestamp, signature, None, "GET", "/ws", b"",
                               ex.now_ms())
    if conn.user is not None:
        hub.by_user[conn.user].discard(conn)
    conn.user = key.user
    conn.key = key
    hub.by_user[key.user].add(conn)
    return {"id": request_id, "result": {"user": key.user}}


def trade(ex: Exchange, user: int, op: str, params: dict[str, Any]) -> Any:
    if op == "order":
        try:
            body = OrderBody.model_validate(params)
        except ValidationError as exc:
            raise ApiError(400, ApiCode.INVALID_REQUEST,
                           "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                     for e in exc.errors())) from None
        inst = ex.instruments.get(body.symbol)
        if inst is None:
            raise ApiError(400, "UNKNOWN_SYMBOL", f"unknown symbol {body.symbol!r}")
        events = ex.apply(order_command(body, user, inst))
        return order_result(ex, raise_if_rejected(events), user)
    symbol, order_id = params.get("symbol"), params.get("order_id")
    if not isinstance(symbol, str) or type(order_id) is not int:
        raise ApiError(400, ApiCode.INVALID_REQUEST, "cancel needs symbol and an integer order_id")
    events = ex.apply(lambda ts: CancelOrder(ts, user, symbol, order_id=order_id))
    return [event_to_wire(e, ex.instruments) for e in raise_if_rejected(events)]
