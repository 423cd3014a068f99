"""What the facade remembers beside the server's projections, built from the same events.

- when each user's conditional orders fired (Binance shows a conditional order as an "algo
  order" until it fires, as a regular order after);
- the running fill totals of users' open orders, for the user stream's cumulative fields;
- mark and index price bars, for ``markPriceKlines`` and ``indexPriceKlines``;
- listen keys (user data streams).

All of it is live state of this process: it starts empty on each server start (the journal is
replayed into the venue and the projections, not republished), which only thins the mark and
index price history and the trigger times of orders that fired before the restart.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque

from exchange.core.events import (
    Event,
    MarkPriceChanged,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderTriggered,
)
from exchange.core.orders import CONDITIONAL_TYPES
from exchange.server.projections import KEEP_BARS, KLINE_INTERVALS
from exchange.server.runtime import Exchange

LISTEN_KEY_TTL_MS = 60 * 60_000  # Binance: 60 minutes after the last keep-alive
KEEP_TRIGGERED = 100_000


class PriceBar:
    __slots__ = ("close", "high", "low", "open", "open_time")

    def __init__(self, open_time: int, price: int) -> None:
        self.open_time = open_time
        self.open = self.high = self.low = self.close = price

    def add(self, price: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price


class PriceBars:
    """OHLC bars of one price series at the server's native intervals."""

    def __init__(self) -> None:
        self.bars: dict[str, deque[PriceBar]] = {i: deque(maxlen=KEEP_BARS)
                                                 for i in KLINE_INTERVALS}

    def add(self, ts: int, price: int) -> None:
        for interval, span in KLINE_INTERVALS.items():
            bars = self.bars[interval]
            start = ts - ts % span
            if not bars or bars[-1].open_time < start:
                bars.append(PriceBar(start, price))
            else:
                bars[-1].add(price)


class OrderTrack:
    """Fill totals of an open order (lots, and price x lots) and when it fired."""

    __slots__ = ("conditional", "filled", "notional", "triggered_at")

    def __init__(self, conditional: bool) -> None:
        self.conditional = conditional
        self.filled = 0
        self.notional = 0
        self.triggered_at = 0


class ListenKeys:
    """One listen key per user at a time, as on Binance: creating one while one is active gives
    the same key and extends it."""

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[int, int]] = {}  # key -> (user, expires at ms)
        self.by_user: dict[int, str] = {}

    def create(self, user: int, now: int) -> str:
        key = self.by_user.get(user)
        if key is None or self.user_of(key, now) is None:
            key = secrets.token_urlsafe(48)[:64]
            self.by_user[user] = key
        self.by_key[key] = (user, now + LISTEN_KEY_TTL_MS)
        return key

    def user_of(self, key: str, now: int) -> int | None:
        found = self.by_key.get(key)
        if found is None or found[1] < now:
            return None
        return found[0]

    def keepalive(self, user: int, key: str | None, now: int) -> bool:
        key = key or self.by_user.get(user)
        if key is None or self.user_of(key, now) != user:
            return False
        self.by_key[key] = (user, now + LISTEN_KEY_TTL_MS)
        return True

    def close(self, user: int, key: str | None) -> bool:
        key = key or self.by_user.get(user)
        if key is None or key not in self.by_key or self.by_key[key][0] != user:
            return False
        del self.by_key[key]
        if self.by_user.get(user) == key:
            del self.by_user[user]
        return True

    def expired(self, now: int) -> list[str]:
        gone = [k for k, (_, until) in self.by_key.items() if until < now]
        for key in gone:
            user = self.by_key.pop(key)[0]
            if self.by_user.get(user) == key:
                del self.by_user[user]
        return gone


class FacadeState:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.tracks: dict[int, OrderTrack] = {}  # open orders of users (accounts with keys)
        self.triggered: OrderedDict[int, int] = OrderedDict()  # order id -> when it fired
        self.marks: dict[str, PriceBars] = {s: PriceBars() for s in exchange.instruments}
        self.indexes: dict[str, PriceBars] = {s: PriceBars() for s in exchange.instruments}
        self.listen_keys = ListenKeys()

    def is_user(self, account: int) -> bool:
        return account in self.exchange.keys.users

    def apply(self, events: list[Event]) -> None:
        for e in events:
            self.apply_one(e)

    def apply_one(self, e: Event) -> OrderTrack | None:
        """Apply one event; for an order event of a user, the order's totals after it."""
        kind = type(e)
        if kind is MarkPriceChanged:
            assert isinstance(e, MarkPriceChanged)
            self.marks[e.symbol].add(e.ts, e.mark)
            self.indexes[e.symbol].add(e.ts, e.index_price)
            return None
        if kind is OrderAccepted:
            assert isinstance(e, OrderAccepted)
            if not self.is_user(e.account):
                return None
            accepted = OrderTrack(e.order_type in CONDITIONAL_TYPES)
            self.tracks[e.order_id] = accepted
            return accepted
        if kind is OrderFilled:
            assert isinstance(e, OrderFilled)
            filled = self.tracks.get(e.order_id)
            if filled is None:
                if not self.is_user(e.account):
                    return None
                filled = self.adopt(e)
            filled.filled += e.quantity
            filled.notional += e.price * e.quantity
            if e.remaining == 0:
                del self.tracks[e.order_id]
            return filled
        if kind is OrderTriggered:
            assert isinstance(e, OrderTriggered)
            if not self.is_user(e.account):
                return None
            self.triggered[e.order_id] = e.ts
            if len(self.triggered) > KEEP_TRIGGERED:
                self.triggered.popitem(last=False)
            fired = self.tracks.get(e.order_id)
            if fired is not None:
                fired.triggered_at = e.ts
            return fired
        if kind is OrderCanceled or kind is OrderExpired:
            assert isinstance(e, OrderCanceled | OrderExpired)
            return self.tracks.pop(e.order_id, None)
        return None

    def adopt(self, e: OrderFilled) -> OrderTrack:
        """An order accepted before this process started: its totals so far from the
        projections (exact unless it also filled while unpublished)."""
        record = self.exchange.projections.open_orders.get(e.order_id)
        track = OrderTrack(record is not None and record.order_type in CONDITIONAL_TYPES)
        if record is not None:
            before = max(0, record.quantity - e.remaining - e.quantity)
            track.filled = before
            track.notional = before * e.price
        self.tracks[e.order_id] = track
        return track

    def fired_at(self, order_id: int) -> int | None:
        return self.triggered.get(order_id)
