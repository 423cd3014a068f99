"""Events: the only output of the venue's core.

Every event is an immutable ``NamedTuple`` with the venue's sequence number ``seq`` and the
time ``ts`` of the command that caused it. Each state-changing event advances ``seq`` by one; a
``Rejected`` event changes nothing and carries the current ``seq``. REST answers, websocket
streams, history tables and reports are projections of these events.

Units: prices in ticks, quantities in lots, money in atoms of USDT, rates in ppm.
"""

from __future__ import annotations

from typing import NamedTuple

from exchange.core.errors import Code
from exchange.core.orders import CancelReason, ExpireReason, MarginMode, OrderType, WorkingType
from matching import Side, TimeInForce


class Rejected(NamedTuple):
    seq: int
    ts: int
    command: str  # the command's type name, e.g. "PlaceOrder"
    account: int | None
    code: Code
    message: str
    client_order_id: str | None = None


class AccountCreated(NamedTuple):
    seq: int
    ts: int
    account: int


class Deposited(NamedTuple):
    seq: int
    ts: int
    account: int
    amount: int
    wallet: int  # the cross wallet balance after it


class Withdrawn(NamedTuple):
    seq: int
    ts: int
    account: int
    amount: int
    wallet: int


class LeverageChanged(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    leverage: int
    max_notional: int | None  # the largest position notional this leverage allows


class MarginModeChanged(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    mode: MarginMode


class IsolatedMarginChanged(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    delta: int
    isolated_wallet: int
    wallet: int  # the cross wallet after the transfer


class OrderAccepted(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int | None
    quantity: int
    stop_price: int | None
    working_type: WorkingType
    reduce_only: bool
    close_position: bool


class OrderTriggered(NamedTuple):
    """A conditional order's trigger fired: it now enters the book as a limit or market
    order (its quantity fixed now for close-position orders)."""

    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    trigger_price: int
    quantity: int


class OrderFilled(NamedTuple):
    """One side of a trade, as the account sees it."""

    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    trade_id: int
    side: Side
    price: int
    quantity: int
    maker: bool
    fee: int  # atoms paid (negative: a rebate received)
    realized_pnl: int  # atoms, before the fee
    remaining: int  # open quantity of the order after this fill
    position_size: int  # signed lots after this fill
    position_entry_notional: int  # atoms: cost of the open position after this fill


class Traded(NamedTuple):
    """A trade on the public tape."""

    seq: int
    ts: int
    symbol: str
    trade_id: int
    price: int
    quantity: int
    aggressor: Side
    maker_order_id: int
    taker_order_id: int


class OrderCanceled(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    quantity: int  # the open quantity canceled
    reason: CancelReason


class OrderExpired(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    quantity: int
    reason: ExpireReason
    detail: str = ""  # for TRIGGER_REJECTED: the rejection code


class OrderAmended(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    price: int
    quantity: int
    remaining: int
    priority_kept: bool


class BookChanged(NamedTuple):
    """An L2 delta: the new total at one price level (0: the level is gone)."""

    seq: int
    ts: int
    symbol: str
    side: Side
    price: int
    total: int
    book_seq: int  # the book's own sequence number, to sync against depth snapshots


class MarkPriceChanged(NamedTuple):
    seq: int
    ts: int
    symbol: str
    mark: int
    index_price: int


class FundingSettled(NamedTuple):
    """The funding rate of the interval that ended at ``funding_time``; payments follow."""

    seq: int
    ts: int
    symbol: str
    rate_e8: int  # 1e-8 units: 10_000 = 0.01%
    mark: int
    funding_time: int
    next_funding_time: int


class FundingPaid(NamedTuple):
    seq: int
    ts: int
    account: int
    symbol: str
    size: int  # the position at the funding time
    amount: int  # atoms: > 0 received, < 0 paid
    rate_e8: int


class MarginCall(NamedTuple):
    """The margin ratio first reached 80% (``symbol`` set: of that isolated position)."""

    seq: int
    ts: int
    account: int
    symbol: str | None
    margin_ratio_ppm: int


class LiquidationStarted(NamedTuple):
    """Margin ratio at or past 100%: the account (cross, ``symbol`` None) or the isolated
    position is being liquidated; its open orders are canceled first."""

    seq: int
    ts: int
    account: int
    symbol: str | None
    margin_ratio_ppm: int


class PositionTakenOver(NamedTuple):
    """The liquidation engine took over ``quantity`` of the position at the mark; the
    account's remaining margin for it (``leftover``, possibly negative) goes to the insurance
    fund. ``bankruptcy_price`` is where the engine's order goes into the book."""

    seq: int
    ts: int
    account: int
    symbol: str
    size: int  # signed lots taken over
    mark: int
    bankruptcy_price: int
    leftover: int
    partial: bool  # a step down the tiers, not the whole position


class LiquidationOrderPlaced(NamedTuple):
    seq: int
    ts: int
    account: int  # whose position it closes
    symbol: str
    order_id: int
    side: Side
    price: int
    quantity: int


class LiquidationFilled(NamedTuple):
    seq: int
    ts: int
    account: int  # whose position it closes
    symbol: str
    order_id: int
    trade_id: int
    side: Side
    price: int
    quantity: int


class AdlFilled(NamedTuple):
    """Auto-deleveraging: ``account``'s position was closed by ``quantity`` at the bankruptcy
    price of ``liquidated_account``'s position, which the insurance fund could not cover."""

    seq: int
    ts: int
    account: int
    symbol: str
    side: Side  # the side of the closing trade for ``account``
    price: int
    quantity: int
    realized_pnl: int
    liquidated_account: int


class InsuranceFundChanged(NamedTuple):
    seq: int
    ts: int
    symbol: str
    delta: int
    balance: int
    account: int  # the liquidated account it came from or went to


Event = (Rejected | AccountCreated | Deposited | Withdrawn | LeverageChanged | MarginModeChanged
         | IsolatedMarginChanged | OrderAccepted | OrderTriggered | OrderFilled | Traded
         | OrderCanceled | OrderExpired | OrderAmended | BookChanged | MarkPriceChanged
         | FundingSettled | FundingPaid | MarginCall | LiquidationStarted | PositionTakenOver
         | LiquidationOrderPlaced | LiquidationFilled | AdlFilled | InsuranceFundChanged)
