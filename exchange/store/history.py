"""Writes the history tables from the event stream, in batches, off the sequencer's path.

``add`` (on the event loop, called with each published batch) only turns events into row
values and queues them; ``write`` puts the queue in the database as bulk inserts in one
transaction, from a worker thread, so the database never makes the sequencer wait. Orders are
upserted (one row per order, its whole current state); everything else is appended, keyed by
the event's sequence number, so replaying the journal into an existing database adds nothing
twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from exchange.core.events import (
    AdlFilled,
    Deposited,
    Event,
    FundingPaid,
    InsuranceFundChanged,
    LiquidationFilled,
    LiquidationStarted,
    MarginCall,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    PositionTakenOver,
    Traded,
    Withdrawn,
)
from exchange.core.funding import e8_to_str
from exchange.core.instruments import Instrument
from exchange.core.units import format_usdt
from exchange.server.projections import KLINE_INTERVALS
from exchange.store.codec import plain
from exchange.store.tables import (
    ApiKeyRow,
    FillRow,
    FundingPaymentRow,
    InstrumentRow,
    InsuranceRow,
    KlineRow,
    LiquidationRow,
    OrderRow,
    TransferRow,
    UserRow,
)

log = logging.getLogger("paper_exchange")

LIQUIDATION_EVENTS = (MarginCall, LiquidationStarted, PositionTakenOver, LiquidationFilled,
                      AdlFilled)


def _side(side: int) -> str:
    return "BUY" if side > 0 else "SELL"


class History:
    def __init__(self, engine: Engine, instruments: Mapping[str, Instrument]) -> None:
        self.engine = engine
        self.instruments = instruments
        self._rows: dict[type[SQLModel], list[dict[str, Any]]] = {}
        self._live: dict[int, dict[str, Any]] = {}  # open orders: their current row
        self._dirty: dict[int, dict[str, Any]] = {}  # order rows changed since the last write
        self._filled_lots: dict[int, int] = {}  # open orders: lots filled so far
        # The current bar of each (symbol, interval): [open_time, o, h, l, c, volume, trades]
        # in ticks and lots, and those changed since the last write.
        self._bars: dict[tuple[str, str], list[int]] = {}
        self._bars_dirty: set[tuple[str, str]] = set()
        # (table, columns) -> the compiled insert's SQL and parameter order (see write)
        self._statements: dict[tuple[type[SQLModel], tuple[str, ...]],
                               tuple[str, list[str] | None]] = {}
        self.written = 0

    # ---------------------------------------------------------------- on the event loop

    def _row(self, table: type[SQLModel], **values: Any) -> None:
        self._rows.setdefault(table, []).append(values)

    def record_instruments(self, now: int) -> None:
        """Store the instruments configuration the server runs with (written at start)."""
        with self.engine.begin() as conn:
            insert = sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert
            for symbol, inst in sorted(self.instruments.items()):
                config = json.dumps({
                    "base_asset": inst.base_asset, "quote_asset": inst.quote_asset,
                    "tick_size": str(inst.tick_size), "step_size": str(inst.step_size),
                    "min_qty": inst.qty_str(inst.min_qty), "max_qty": inst.qty_str(inst.max_qty),
                    "market_max_qty": inst.qty_str(inst.market_max_qty),
                    "min_notional": format_usdt(inst.min_notional),
                    "price_band_ppm": inst.price_band_ppm, "market_band_ppm": inst.market_band_ppm,
                    "max_open_orders": inst.max_open_orders,
                    "max_conditional_orders": inst.max_conditional_orders,
                    "maker_fee_ppm": inst.maker_fee_ppm, "taker_fee_ppm": inst.taker_fee_ppm,
                    "funding_interval_ms": inst.funding_interval_ms,
                    "interest_ppm": inst.interest_ppm, "funding_cap_ppm": inst.funding_cap_ppm,
                    "liquidation_fee_ppm": inst.liquidation_fee_ppm,
                    "tiers": [[t.tier, format_usdt(t.floor),
                               None if t.cap is None else format_usdt(t.cap), t.max_leverage,
                               t.mmr_ppm, format_usdt(t.maint_amount)] for t in inst.tiers],
                }, sort_keys=True)
                statement = insert(InstrumentRow).values(symbol=symbol, config=config,
                                                         updated=now)
                conn.execute(statement.on_conflict_do_update(
                    index_elements=["symbol"], set_={"config": config, "updated": now}))

    def add_user(self, user_id: int, name: str) -> None:
        self._row(UserRow, id=user_id, name=name)

    def add_key(self, api_key: str, secret: str, user_id: int,
                permissions: Iterable[str]) -> None:
        self._row(ApiKeyRow, api_key=api_key, user_id=user_id, secret=secret,
                  permissions=",".join(sorted(permissions)))

    def add(self, events: Iterable[Event]) -> None:
        for e in events:
            kind = type(e)
            if kind is OrderAccepted:
                assert isinstance(e, OrderAccepted)
                if e.account < 0:
                    continue  # the liquidation engine's orders are in the liquidation rows
                inst = self.instruments[e.symbol]
                row = {"order_id": e.order_id, "account": e.account, "symbol": e.symbol,
                       "client_order_id": e.client_order_id, "side": _side(e.side),
                       "order_type": str(e.order_type), "time_in_force": e.tif.name,
                       "price": None if e.price is None else inst.price_str(e.price),
                       "stop_price": (None if e.stop_price is None
                                      else inst.price_str(e.stop_price)),
                       "quantity": inst.qty_str(e.quantity), "filled": inst.qty_str(0),
                       "status": "NEW", "reduce_only": e.reduce_only, "created": e.ts,
                       "updated": e.ts}
                self._live[e.order_id] = self._dirty[e.order_id] = row
                self._filled_lots[e.order_id] = 0
            elif kind is OrderFilled:
                assert isinstance(e, OrderFilled)
                inst = self.instruments[e.symbol]
                self._row(FillRow, seq=e.seq, ts=e.ts, account=e.account, symbol=e.symbol,
                          order_id=e.order_id, trade_id=e.trade_id, side=_side(e.side),
                          price=inst.price_str(e.price), quantity=inst.qty_str(e.quantity),
                          maker=e.maker, fee=format_usdt(e.fee),
                          realized_pnl=format_usdt(e.realized_pnl))
                order = self._live.get(e.order_id)
                if order is not None:
                    self._filled_lots[e.order_id] += e.quantity
                    order["filled"] = inst.qty_str(self._filled_lots[e.order_id])
                    self._changed(e.order_id, e.ts,
                                  "FILLED" if not e.remaining else "PARTIALLY_FILLED")
            elif kind is OrderCanceled or kind is OrderExpired:
                assert isinstance(e, OrderCanceled | OrderExpired)
                self._changed(e.order_id, e.ts,
                              "CANCELED" if kind is OrderCanceled else "EXPIRED")
            elif kind is OrderAmended:
                assert isinstance(e, OrderAmended)
                order = self._live.get(e.order_id)
                if order is not None:
                    inst = self.instruments[e.symbol]
                    order["price"] = inst.price_str(e.price)
                    order["quantity"] = inst.qty_str(e.quantity)
                    self._changed(e.order_id, e.ts, order["status"])
            elif kind is Traded:
                assert isinstance(e, Traded)
                self._trade(e)
            elif kind is FundingPaid:
                assert isinstance(e, FundingPaid)
                self._row(FundingPaymentRow, seq=e.seq, ts=e.ts, account=e.account,
                          symbol=e.symbol, size=self.instruments[e.symbol].qty_str(e.size),
                          amount=format_usdt(e.amount), rate=e8_to_str(e.rate_e8))
            elif kind in LIQUIDATION_EVENTS:
                notice: Any = e  # every liquidation event has an account and a symbol
                self._row(LiquidationRow, seq=e.seq, ts=e.ts, kind=kind.__name__,
                          account=notice.account, symbol=notice.symbol,
                          detail=json.dumps([plain(v) for v in e]))
            elif kind is InsuranceFundChanged:
                assert isinstance(e, InsuranceFundChanged)
                self._row(InsuranceRow, seq=e.seq, ts=e.ts, symbol=e.symbol,
                          account=e.account, delta=format_usdt(e.delta),
                          balance=format_usdt(e.balance))
            elif kind is Deposited or kind is Withdrawn:
                assert isinstance(e, Deposited | Withdrawn)
                self._row(TransferRow, seq=e.seq, ts=e.ts, account=e.account,
                          kind="deposit" if kind is Deposited else "withdraw",
                          amount=format_usdt(e.amount), wallet=format_usdt(e.wallet))

    def _trade(self, e: Traded) -> None:
        for interval, span in KLINE_INTERVALS.items():
            key = (e.symbol, interval)
            start = e.ts - e.ts % span
            bar = self._bars.get(key)
            if bar is None or bar[0] < start:
                if bar is not None and key in self._bars_dirty:
                    # It closes before it was written: queued as it ended, or it would be lost
                    # (take writes only the current bar of each key).
                    self._row(KlineRow, **self._bar_row(key))
                bar = self._bars[key] = [start, e.price, e.price, e.price, e.price, 0, 0]
            bar[2] = max(bar[2], e.price)
            bar[3] = min(bar[3], e.price)
            bar[4] = e.price
            bar[5] += e.quantity
            bar[6] += 1
            self._bars_dirty.add(key)

    def _changed(self, order_id: int, ts: int, status: str) -> None:
        order = self._live.get(order_id)
        if order is None:
            return  # the order predates this database (or is the engine's)
        order["status"] = status
        order["updated"] = ts
        self._dirty[order_id] = order
        if status in ("FILLED", "CANCELED", "EXPIRED"):
            del self._live[order_id]
            del self._filled_lots[order_id]

    def pending(self) -> bool:
        return bool(self._rows or self._dirty or self._bars_dirty)

    def take(self) -> tuple[dict[type[SQLModel], list[dict[str, Any]]], list[dict[str, Any]]]:
        rows = self._rows
        orders = [dict(o) for o in self._dirty.values()]  # copies: the live rows change on
        if self._bars_dirty:
            rows.setdefault(KlineRow, []).extend(self._bar_row(k) for k in sorted(self._bars_dirty))
        self._rows, self._dirty, self._bars_dirty = {}, {}, set()
        return rows, orders

    def _bar_row(self, key: tuple[str, str]) -> dict[str, Any]:
        symbol, interval = key
        inst = self.instruments[symbol]
        start, o, h, low, c, volume, trades = self._bars[key]
        return {"symbol": symbol, "interval": interval, "open_time": start,
                "open": inst.price_str(o), "high": inst.price_str(h), "low": inst.price_str(low),
                "close": inst.price_str(c), "volume": inst.qty_str(volume), "trades": trades}

    def put_back(self, rows: dict[type[SQLModel], list[dict[str, Any]]],
                 orders: list[dict[str, Any]]) -> None:
        """Queue again a batch whose write failed (it wrote nothing: one transaction)."""
        for table, values in rows.items():
            self._rows.setdefault(table, [])[:0] = values
        for order in orders:
            # A newer state of the same order queued since wins over the failed one.
            self._dirty.setdefault(order["order_id"], order)

    # ---------------------------------------------------------------- in a worker thread

    def write(self, rows: dict[type[SQLModel], list[dict[str, Any]]],
              orders: list[dict[str, Any]]) -> None:
        """One transaction for the batch, as bulk inserts. Rows already there (a journal
        replay into an existing database) are skipped by their keys; orders are upserted
        whole, so the last state written wins."""
        with self.engine.begin() as conn:
            for table, values in rows.items():
                conn.exec_driver_sql(*self._driver_batch(table, values))
            if orders:
                conn.exec_driver_sql(*self._driver_batch(OrderRow, orders))
        self.written += sum(len(v) for v in rows.values()) + len(orders)

    def _driver_batch(self, table: type[SQLModel], values: list[dict[str, Any]]
                      ) -> tuple[str, list[Any]]:
        """A batch as the driver's own SQL and parameters, for its ``executemany``: with
        SQLAlchemy's ``execute``, building each row's parameters cost the worker thread more
        time than the database did, time it held the GIL against the sequencer. The columns
        need no conversion on the way (integers, strings, booleans)."""
        keys = tuple(values[0])
        cached = self._statements.get((table, keys))
        if cached is None:
            compiled = self._statement(table).compile(dialect=self.engine.dialect,
                                                      column_keys=list(keys))
            cached = self._statements[table, keys] = (compiled.string, compiled.positiontup)
        sql, positions = cached
        if positions is None:  # a named paramstyle (psycopg): the rows as they are
            return sql, values
        return sql, [tuple(row[k] for k in positions) for row in values]

    def _statement(self, table: type[SQLModel]) -> Any:
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else pg_insert
        statement = insert(table)
        if table is KlineRow:
            # A bar is written again as it grows: the latest values win.
            return statement.on_conflict_do_update(
                index_elements=["symbol", "interval", "open_time"],
                set_={c: statement.excluded[c] for c in
                      ("high", "low", "close", "volume", "trades")})
        if table is OrderRow:
            return statement.on_conflict_do_update(
                index_elements=["order_id"],
                set_={c: statement.excluded[c] for c in
                      ("price", "quantity", "filled", "status", "updated")})
        return statement.on_conflict_do_nothing()

    def flush(self) -> None:
        """Write what is queued now (the synchronous path: shutdown, tests)."""
        if self.pending():
            self.write(*self.take())

