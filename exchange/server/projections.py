"""Read models built from the event stream: what REST history endpoints and tickers answer.

They are projections, never a second source of truth: each is rebuilt by replaying events.
In memory and bounded here; the store (persistence) keeps the full history.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from exchange.core.events import (
    AdlFilled,
    Event,
    FundingPaid,
    FundingSettled,
    InsuranceFundChanged,
    LiquidationFilled,
    LiquidationStarted,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderTriggered,
    PositionTakenOver,
    Traded,
)

KLINE_INTERVALS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000,
                   "4h": 14_400_000, "1d": 86_400_000}
KEEP_BARS = 1_500
KEEP_TRADES = 1_000
KEEP_PER_ACCOUNT = 1_000
DAY_MS = 86_400_000


def _recent() -> deque[Any]:
    """A bounded per-account history (a named function, so snapshots can pickle it)."""
    return deque(maxlen=KEEP_PER_ACCOUNT)


class Bar:
    __slots__ = ("close", "high", "low", "open", "open_time", "quote_volume", "trades",
                 "volume")

    def __init__(self, open_time: int, price: int) -> None:
        self.open_time = open_time
        self.open = self.high = self.low = self.close = price
        self.volume = 0  # lots
        self.quote_volume = 0  # ticks x lots (times atoms per tick-lot: atoms)
        self.trades = 0

    def add(self, price: int, quantity: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += quantity
        self.quote_volume += price * quantity
        self.trades += 1


class OrderRecord:
    """An order's latest state, as history endpoints show it."""

    __slots__ = ("account", "avg_price_num", "client_order_id", "close_position", "created",
                 "filled", "order_id", "order_type", "price", "quantity", "reduce_only",
                 "side", "status", "stop_price", "symbol", "tif", "updated", "working_type")

    def __init__(self, e: OrderAccepted) -> None:
        self.order_id = e.order_id
        self.account = e.account
        self.symbol = e.symbol
        self.client_order_id = e.client_order_id
        self.side = e.side
        self.order_type = e.order_type
        self.tif = e.tif
        self.price = e.price
        self.quantity = e.quantity
        self.stop_price = e.stop_price
        self.working_type = e.working_type
        self.reduce_only = e.reduce_only
        self.close_position = e.close_position
        self.filled = 0
        self.avg_price_num = 0  # sum of price x quantity of fills
        self.status = "NEW"
        self.created = e.ts
        self.updated = e.ts


class Projections:
    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = list(symbols)
        self.trades: dict[str, deque[Traded]] = {s: deque(maxlen=KEEP_TRADES)
                                                 for s in self.symbols}
        self.klines: dict[tuple[str, str], deque[Bar]] = {
            (s, i): deque(maxlen=KEEP_BARS) for s in self.symbols for i in KLINE_INTERVALS}
        self.open_orders: dict[int, OrderRecord] = {}
        self.closed_orders: dict[int, deque[OrderRecord]] = defaultdict(_recent)
        self.fills: dict[int, deque[OrderFilled]] = defaultdict(_recent)
        self.funding_payments: dict[int, deque[FundingPaid]] = defaultdict(_recent)
        self.funding_rates: dict[str, deque[FundingSettled]] = {s: deque(maxlen=KEEP_BARS)
                                                                for s in self.symbols}
        self.liquidations: deque[Event] = deque(maxlen=KEEP_TRADES)
        self.insurance: deque[InsuranceFundChanged] = deque(maxlen=KEEP_TRADES)

    def apply(self, events: Iterable[Event]) -> None:
        for e in events:
            kind = type(e)
            if kind is Traded:
                assert isinstance(e, Traded)
                self._trade(e)
            elif kind is OrderAccepted:
                assert isinstance(e, OrderAccepted)
                if e.account >= 0:
                    self.open_orders[e.order_id] = OrderRecord(e)
            elif kind is OrderFilled:
                assert isinstance(e, OrderFilled)
                self.fills[e.account].append(e)
                rec = self.open_orders.get(e.order_id)
                if rec is not None:
                    rec.filled += e.quantity
                    rec.avg_price_num += e.price * e.quantity
                    rec.updated = e.ts
                    if e.remaining == 0:
                        self._close(rec, "FILLED")
                    else:
                        rec.status = "PARTIALLY_FILLED"
            elif kind is OrderCanceled or kind is OrderExpired:
                assert isinstance(e, OrderCanceled | OrderExpired)
                rec = self.open_orders.get(e.order_id)
                if rec is not None:
                    rec.updated = e.ts
                    self._close(rec, "CANCELED" if kind is OrderCanceled else "EXPIRED")
            elif kind is OrderAmended:
                assert isinstance(e, OrderAmended)
                rec = self.open_orders.get(e.order_id)
                if rec is not None:
                    rec.price = e.price
                    rec.quantity = e.quantity
                    rec.updated = e.ts
            elif kind is OrderTriggered:
                assert isinstance(e, OrderTriggered)
                rec = self.open_orders.get(e.order_id)
                if rec is not None:
                    rec.quantity = e.quantity
                    rec.status = "TRIGGERED"
            elif kind is FundingPaid:
                assert isinstance(e, FundingPaid)
                self.funding_payments[e.account].append(e)
            elif kind is FundingSettled:
                assert isinstance(e, FundingSettled)
                self.funding_rates[e.symbol].append(e)
            elif kind in (LiquidationStarted, PositionTakenOver, LiquidationFilled, AdlFilled):
                self.liquidations.append(e)
            elif kind is InsuranceFundChanged:
                assert isinstance(e, InsuranceFundChanged)
                self.insurance.append(e)

    def _close(self, rec: OrderRecord, status: str) -> None:
        rec.status = status
        del self.open_orders[rec.order_id]
        self.closed_orders[rec.account].append(rec)

    def _trade(self, e: Traded) -> None:
        self.trades[e.symbol].append(e)
        for interval, span in KLINE_INTERVALS.items():
            bars = self.klines[e.symbol, interval]
            start = e.ts - e.ts % span
            if not bars or bars[-1].open_time < start:
                bars.append(Bar(start, e.price))
            bars[-1].add(e.price, e.quantity)

    def ticker(self, symbol: str, now: int) -> dict[str, Any]:
        """24 h rolling statistics from the 1-minute bars."""
        bars = [b for b in self.klines[symbol, "1m"] if b.open_time > now - DAY_MS]
        if not bars:
            return {"open": None, "high": None, "low": None, "last": None, "volume": 0,
                    "quote_volume": 0, "trades": 0}
        return {"open": bars[0].open, "high": max(b.high for b in bars),
                "low": min(b.low for b in bars), "last": bars[-1].close,
                "volume": sum(b.volume for b in bars),
                "quote_volume": sum(b.quote_volume for b in bars),
                "trades": sum(b.trades for b in bars)}

    def orders_of(self, account: int) -> list[OrderRecord]:
        return list(self.closed_orders.get(account, ()))
