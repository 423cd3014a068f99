"""Writes the history tables from the event stream, in batches, off the sequencer's path.

``add`` (on the event loop, called with each published batch) only converts events into rows
and queues them; ``flush`` writes the queue in one transaction, from a worker thread, so the
database never makes the sequencer wait. Orders are upserted (one row per order, updated as it
lives); everything else is appended, keyed by the event's sequence number so that replaying
the journal into an existing database adds nothing twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

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
    Withdrawn,
)
from exchange.core.funding import e8_to_str
from exchange.core.instruments import Instrument
from exchange.core.units import format_usdt
from exchange.store.tables import (
    ApiKeyRow,
    FillRow,
    FundingPaymentRow,
    InsuranceRow,
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
        self._rows: list[SQLModel] = []
        self._orders: dict[int, dict[str, Any]] = {}  # order changes of the batch
        self.written = 0

    # ---------------------------------------------------------------- on the event loop

    def add_user(self, user_id: int, name: str) -> None:
        self._rows.append(UserRow(id=user_id, name=name))

    def add_key(self, api_key: str, secret: str, user_id: int,
                permissions: Iterable[str]) -> None:
        self._rows.append(ApiKeyRow(api_key=api_key, user_id=user_id, secret=secret,
                                    permissions=",".join(sorted(permissions))))

    def add(self, events: Iterable[Event]) -> None:
        for e in events:
            kind = type(e)
            if kind is OrderAccepted:
                assert isinstance(e, OrderAccepted)
                if e.account < 0:
                    continue  # the liquidation engine's orders are in the liquidation rows
                inst = self.instruments[e.symbol]
                self._orders[e.order_id] = {
                    "order_id": e.order_id, "account": e.account, "symbol": e.symbol,
                    "client_order_id": e.client_order_id, "side": _side(e.side),
                    "order_type": str(e.order_type), "time_in_force": e.tif.name,
                    "price": None if e.price is None else inst.price_str(e.price),
                    "stop_price": None if e.stop_price is None else inst.price_str(e.stop_price),
                    "quantity": inst.qty_str(e.quantity), "filled_lots": 0,
                    "status": "NEW", "reduce_only": e.reduce_only, "created": e.ts,
                    "updated": e.ts}
            elif kind is OrderFilled:
                assert isinstance(e, OrderFilled)
                inst = self.instruments[e.symbol]
                self._rows.append(FillRow(
                    seq=e.seq, ts=e.ts, account=e.account, symbol=e.symbol,
                    order_id=e.order_id, trade_id=e.trade_id, side=_side(e.side),
                    price=inst.price_str(e.price), quantity=inst.qty_str(e.quantity),
                    maker=e.maker, fee=format_usdt(e.fee),
                    realized_pnl=format_usdt(e.realized_pnl)))
                self._order_change(e.order_id, e.ts, fill=e.quantity,
                                   status="FILLED" if not e.remaining else "PARTIALLY_FILLED")
            elif kind is OrderCanceled or kind is OrderExpired:
                assert isinstance(e, OrderCanceled | OrderExpired)
                self._order_change(e.order_id, e.ts,
                                   status="CANCELED" if kind is OrderCanceled else "EXPIRED")
            elif kind is OrderAmended:
                assert isinstance(e, OrderAmended)
                inst = self.instruments[e.symbol]
                self._order_change(e.order_id, e.ts, price=inst.price_str(e.price),
                                   quantity=inst.qty_str(e.quantity))
            elif kind is FundingPaid:
                assert isinstance(e, FundingPaid)
                self._rows.append(FundingPaymentRow(
                    seq=e.seq, ts=e.ts, account=e.account, symbol=e.symbol,
                    size=self.instruments[e.symbol].qty_str(e.size),
                    amount=format_usdt(e.amount), rate=e8_to_str(e.rate_e8)))
            elif kind in LIQUIDATION_EVENTS:
                notice: Any = e  # every liquidation event has an account and a symbol
                self._rows.append(LiquidationRow(
                    seq=e.seq, ts=e.ts, kind=kind.__name__, account=notice.account,
                    symbol=notice.symbol, detail=json.dumps([_plain(v) for v in e])))
            elif kind is InsuranceFundChanged:
                assert isinstance(e, InsuranceFundChanged)
                self._rows.append(InsuranceRow(
                    seq=e.seq, ts=e.ts, symbol=e.symbol, account=e.account,
                    delta=format_usdt(e.delta), balance=format_usdt(e.balance)))
            elif kind is Deposited or kind is Withdrawn:
                assert isinstance(e, Deposited | Withdrawn)
                self._rows.append(TransferRow(
                    seq=e.seq, ts=e.ts, account=e.account,
                    kind="deposit" if kind is Deposited else "withdraw",
                    amount=format_usdt(e.amount), wallet=format_usdt(e.wallet)))

    def _order_change(self, order_id: int, ts: int, fill: int = 0, **fields: Any) -> None:
        change = self._orders.setdefault(order_id, {"order_id": order_id, "filled_lots": 0})
        change["filled_lots"] = change.get("filled_lots", 0) + fill
        change["updated"] = ts
        change.update(fields)

    def pending(self) -> bool:
        return bool(self._rows or self._orders)

    def take(self) -> tuple[list[SQLModel], dict[int, dict[str, Any]]]:
        rows, orders = self._rows, self._orders
        self._rows, self._orders = [], {}
        return rows, orders

    # ---------------------------------------------------------------- in a worker thread

    def write(self, rows: list[SQLModel], orders: dict[int, dict[str, Any]]) -> None:
        """One transaction for the batch. Rows already there (a journal replay into an
        existing database) are skipped by their unique sequence numbers."""
        with Session(self.engine) as session:
            for row in rows:
                if isinstance(row, UserRow | ApiKeyRow):
                    session.merge(row)
            appended = [r for r in rows if not isinstance(r, UserRow | ApiKeyRow)]
            if appended:
                seqs_by_type: dict[type, set[int]] = {}
                for row in appended:
                    seqs_by_type.setdefault(type(row), set()).add(row.seq)  # type: ignore[attr-defined]
                for table, seqs in seqs_by_type.items():
                    seq_column = table.seq  # type: ignore[attr-defined]
                    existing = set(session.exec(select(seq_column).where(
                        seq_column.in_(seqs))).all())
                    session.add_all(r for r in appended
                                    if type(r) is table and r.seq not in existing)  # type: ignore[attr-defined]
            for order_id, change in orders.items():
                order = session.get(OrderRow, order_id)
                filled_lots = change.pop("filled_lots", 0)
                if order is None:
                    if "account" not in change:
                        continue  # the order predates this database: nothing to update
                    order = OrderRow(filled="0", **change)
                    session.add(order)
                else:
                    for key, value in change.items():
                        setattr(order, key, value)
                if filled_lots:
                    inst = self.instruments[order.symbol]
                    order.filled = inst.qty_str(inst.parse_qty(order.filled) + filled_lots)
            session.commit()
        self.written += len(rows) + len(orders)

    def flush(self) -> None:
        """Write what is queued now (the synchronous path: shutdown, tests)."""
        if self.pending():
            self.write(*self.take())


def _plain(value: Any) -> Any:
    if hasattr(value, "value"):
        return value.value
    return value
