"""The user data stream's events, Binance's way, from the venue's events of one account:
ORDER_TRADE_UPDATE (regular orders and fills), ALGO_UPDATE (conditional orders until and when
they fire), ACCOUNT_UPDATE (balance and positions after fills, funding, transfers),
ACCOUNT_CONFIG_UPDATE (leverage) and MARGIN_CALL."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from exchange.core.events import (
    AdlFilled,
    Deposited,
    Event,
    FundingPaid,
    IsolatedMarginChanged,
    LeverageChanged,
    LiquidationFilled,
    MarginCall,
    MarginModeChanged,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderTriggered,
    PositionTakenOver,
    Withdrawn,
)
from exchange.core.orders import CONDITIONAL_TYPES, ExpireReason, MarginMode
from exchange.core.units import format_usdt
from exchange.core.views import AccountView, account_view
from exchange.server.binance import formats
from exchange.server.binance.state import FacadeState, OrderTrack
from exchange.server.projections import OrderRecord
from exchange.server.runtime import Exchange
from exchange.server.wire import side_str

ACCOUNT_REASONS: dict[type, str] = {
    OrderFilled: "ORDER", FundingPaid: "FUNDING_FEE", Deposited: "DEPOSIT",
    Withdrawn: "WITHDRAW", IsolatedMarginChanged: "MARGIN_TRANSFER",
    MarginModeChanged: "MARGIN_TYPE_CHANGE", PositionTakenOver: "ORDER",
    LiquidationFilled: "ORDER", AdlFilled: "ORDER",
}


class Changes:
    """What one batch of events changed for one account: the first reason, the symbols whose
    positions to show, and the balance change that is not PnL or fees (deposits...)."""

    __slots__ = ("balance_change", "reason", "symbols", "ts")

    def __init__(self, reason: str, ts: int) -> None:
        self.reason = reason
        self.ts = ts
        self.symbols: list[str] = []
        self.balance_change = 0


def _avg(inst: Any, track: OrderTrack | None, record: OrderRecord) -> tuple[int, str]:
    """Cumulative filled lots and average price at this event."""
    if track is not None:
        filled, total = track.filled, track.notional
    else:
        filled, total = record.filled, record.avg_price_num
    return filled, formats.average_price(inst, Fraction(total, filled) if filled else None)


def order_update(ex: Exchange, r: OrderRecord, ts: int, now: int, x: str, status: str,
                 track: OrderTrack | None, fill: OrderFilled | None = None) -> dict[str, Any]:
    inst = ex.instruments[r.symbol]
    filled, avg = _avg(inst, track, r)
    order = ex.venue.orders.get(r.order_id)
    otype = str(r.order_type)
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": ts, "o": {
        "s": r.symbol, "c": r.client_order_id, "S": side_str(r.side), "o": otype,
        "f": r.tif.name, "q": inst.qty_str(r.quantity), "p": formats.price(inst, r.price),
        "ap": avg, "sp": formats.price(inst, r.stop_price), "x": x, "X": status,
        "i": r.order_id, "l": inst.qty_str(fill.quantity if fill else 0),
        "z": inst.qty_str(filled), "L": formats.price(inst, fill.price if fill else 0),
        "N": "USDT", "n": format_usdt(fill.fee if fill else 0), "T": ts,
        "t": fill.trade_id if fill else 0, "b": "0", "a": "0",
        "m": fill.maker if fill else False, "R": r.reduce_only, "wt": str(r.working_type),
        "ot": otype, "ps": "BOTH", "cp": r.close_position,
        "rp": format_usdt(fill.realized_pnl if fill else 0), "pP": False, "si": 0, "ss": 0,
        "V": order.stp.name if order is not None else "EXPIRE_TAKER", "pm": "NONE", "gtd": 0,
    }}


def algo_update(ex: Exchange, r: OrderRecord, ts: int, now: int, status: str,
                track: OrderTrack | None, fired_at: int) -> dict[str, Any]:
    inst = ex.instruments[r.symbol]
    filled, avg = _avg(inst, track, r)
    order = ex.venue.orders.get(r.order_id)
    fired = status not in ("NEW", "CANCELED", "EXPIRED")
    return {"e": "ALGO_UPDATE", "T": ts, "E": now, "o": {
        "caid": r.client_order_id, "aid": r.order_id, "at": "CONDITIONAL",
        "o": str(r.order_type), "s": r.symbol, "S": side_str(r.side), "ps": "BOTH",
        "f": r.tif.name, "q": inst.qty_str(r.quantity), "X": status,
        "ai": str(r.order_id) if fired else "", "ap": avg, "aq": inst.qty_str(filled),
        "act": ("LIMIT" if r.price is not None else "MARKET") if fired else "0",
        "tp": formats.price(inst, r.stop_price), "p": formats.price(inst, r.price),
        "V": order.stp.name if order is not None else "EXPIRE_TAKER",
        "wt": str(r.working_type), "pm": "NONE", "cp": r.close_position, "pP": False,
        "R": r.reduce_only, "tt": fired_at, "gtd": 0, "rm": "",
    }}


def position_entry(ex: Exchange, view: AccountView, symbol: str) -> dict[str, Any]:
    inst = ex.instruments[symbol]
    v = next(p for p in view.positions if p.symbol == symbol)
    return {"s": symbol, "pa": inst.qty_str(v.size), "ep": formats.entry_price(inst, v),
            "bep": formats.break_even(inst, v), "cr": format_usdt(v.realized_pnl),
            "up": format_usdt(v.unrealized_pnl), "mt": formats.margin_type(v.mode),
            "iw": format_usdt(v.isolated_wallet), "ps": "BOTH"}


def account_update(ex: Exchange, user: int, changes: Changes, now: int) -> dict[str, Any]:
    view = account_view(ex.venue, user)
    return {"e": "ACCOUNT_UPDATE", "E": now, "T": changes.ts, "a": {
        "m": changes.reason,
        "B": [{"a": "USDT", "wb": format_usdt(view.wallet + view.isolated_wallets),
               "cw": format_usdt(view.wallet), "bc": format_usdt(changes.balance_change)}],
        "P": [position_entry(ex, view, s) for s in changes.symbols],
    }}


def margin_call(ex: Exchange, e: MarginCall, now: int) -> dict[str, Any]:
    view = account_view(ex.venue, e.account)
    rows = []
    for v in view.positions:
        if not v.size or (e.symbol is None and v.mode is MarginMode.ISOLATED) or (
                e.symbol is not None and v.symbol != e.symbol):
            continue
        inst = ex.instruments[v.symbol]
        rows.append({"s": v.symbol, "ps": "BOTH", "pa": inst.qty_str(v.size),
                     "mt": "ISOLATED" if v.mode is MarginMode.ISOLATED else "CROSSED",
                     "iw": format_usdt(v.isolated_wallet), "mp": formats.price(inst, v.mark),
                     "up": format_usdt(v.unrealized_pnl),
                     "mm": format_usdt(v.maintenance_margin)})
    return {"e": "MARGIN_CALL", "E": now, "cw": format_usdt(view.wallet), "p": rows}


def forced_fill(ex: Exchange, e: LiquidationFilled | AdlFilled, now: int) -> dict[str, Any]:
    """A liquidation or auto-deleveraging fill of the account's position, as Binance shows it:
    an order with client id ``autoclose-...`` or ``adl_autoclose``."""
    inst = ex.instruments[e.symbol]
    liquidation = type(e) is LiquidationFilled
    order_id = e.order_id if isinstance(e, LiquidationFilled) else 0
    qty, price = inst.qty_str(e.quantity), inst.price_str(e.price)
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": e.ts, "o": {
        "s": e.symbol, "c": f"autoclose-{order_id}" if liquidation else "adl_autoclose",
        "S": side_str(e.side), "o": "LIQUIDATION" if liquidation else "MARKET", "f": "IOC",
        "q": qty, "p": price, "ap": price, "sp": "0", "x": "CALCULATED", "X": "FILLED",
        "i": order_id, "l": qty, "z": qty, "L": price, "N": "USDT", "n": "0", "T": e.ts,
        "t": e.trade_id if isinstance(e, LiquidationFilled) else 0, "b": "0", "a": "0",
        "m": False, "R": True, "wt": "CONTRACT_PRICE", "ot": "LIQUIDATION", "ps": "BOTH",
        "cp": False, "rp": format_usdt(e.realized_pnl if isinstance(e, AdlFilled) else 0),
        "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE", "gtd": 0,
    }}


class UserBatch:
    """Turns one batch of events into user-stream messages for the accounts that listen."""

    def __init__(self, ex: Exchange, state: FacadeState, now: int) -> None:
        self.ex = ex
        self.state = state
        self.now = now
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.changes: dict[int, Changes] = {}

    def _out(self, account: int, message: dict[str, Any]) -> None:
        self.messages.setdefault(account, []).append(message)

    def _changed(self, account: int, e: Event, symbol: str | None) -> None:
        changes = self.changes.get(account)
        if changes is None:
            changes = self.changes[account] = Changes(ACCOUNT_REASONS[type(e)], e.ts)
        if symbol is not None and symbol not in changes.symbols:
            changes.symbols.append(symbol)

    def add(self, e: Event, account: int, track: OrderTrack | None) -> None:
        ex, now, kind = self.ex, self.now, type(e)
        if kind in ACCOUNT_REASONS:
            symbol = getattr(e, "symbol", None)
            self._changed(account, e, symbol)
            if kind is Deposited or kind is Withdrawn:
                assert isinstance(e, Deposited | Withdrawn)
                self.changes[account].balance_change += e.amount if kind is Deposited \
                    else -e.amount
        if kind is OrderAccepted or kind is OrderFilled or kind is OrderCanceled \
                or kind is OrderExpired or kind is OrderAmended or kind is OrderTriggered:
            self._order(e, account, track)
        elif kind is LiquidationFilled or kind is AdlFilled:
            assert isinstance(e, LiquidationFilled | AdlFilled)
            self._out(account, forced_fill(ex, e, now))
        elif kind is LeverageChanged:
            assert isinstance(e, LeverageChanged)
            self._out(account, {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": e.ts,
                                "ac": {"s": e.symbol, "l": e.leverage}})
        elif kind is MarginCall:
            assert isinstance(e, MarginCall)
            self._out(account, margin_call(ex, e, now))

    def _order(self, e: Event, account: int, track: OrderTrack | None) -> None:
        ex, now = self.ex, self.now
        symbol: str = getattr(e, "symbol", "")
        order_id: int = getattr(e, "order_id", 0)
        r = formats.find_record(ex, account, symbol, order_id)
        if r is None:
            return
        conditional = r.order_type in CONDITIONAL_TYPES
        fired_at = (track.triggered_at if track is not None else
                    (self.state.fired_at(order_id) or 0))
        if track is None and conditional and not fired_at and formats.has_fired(
                ex, self.state, r):
            fired_at = r.updated
        kind = type(e)
        if kind is OrderTriggered:
            self._out(account, algo_update(ex, r, e.ts, now, "TRIGGERED", track, e.ts))
            self._out(account, order_update(ex, r, e.ts, now, "NEW", "NEW", track))
            return
        if conditional and not fired_at:  # still an algo order
            status = {OrderAccepted: "NEW", OrderCanceled: "CANCELED",
                      OrderExpired: "EXPIRED"}.get(kind)
            if status is not None:
                self._out(account, algo_update(ex, r, e.ts, now, status, track, 0))
            return
        filled = track.filled if track is not None else r.filled
        if kind is OrderAccepted:
            self._out(account, order_update(ex, r, e.ts, now, "NEW", "NEW", track))
        elif kind is OrderFilled:
            assert isinstance(e, OrderFilled)
            status = "FILLED" if e.remaining == 0 else "PARTIALLY_FILLED"
            self._out(account, order_update(ex, r, e.ts, now, "TRADE", status, track, e))
            if conditional and e.remaining == 0:
                self._out(account, algo_update(ex, r, e.ts, now, "FINISHED", track, fired_at))
        elif kind is OrderCanceled or kind is OrderExpired:
            status = "CANCELED" if kind is OrderCanceled else "EXPIRED"
            self._out(account, order_update(ex, r, e.ts, now, status, status, track))
            if conditional:
                rejected = isinstance(e, OrderExpired) and (
                    e.reason is ExpireReason.TRIGGER_REJECTED)
                self._out(account, algo_update(ex, r, e.ts, now,
                                               "REJECTED" if rejected else "FINISHED", track,
                                               fired_at))
        elif kind is OrderAmended:
            status = "PARTIALLY_FILLED" if filled else "NEW"
            self._out(account, order_update(ex, r, e.ts, now, "AMENDMENT", status, track))

    def finish(self) -> dict[int, list[dict[str, Any]]]:
        """Every listening account's messages, its ACCOUNT_UPDATE last."""
        for account, changes in self.changes.items():
            self._out(account, account_update(self.ex, account, changes, self.now))
        return self.messages
