"""Commands: the only input of the venue's core.

Each command is an immutable ``NamedTuple`` carrying its own time ``ts`` (integer ms, UTC
epoch): the core reads no clock. Amounts are already integer units (ticks, lots, atoms); the
shell parses the wire's decimal strings with the instrument's tick and step sizes before it
builds a command. The same commands from the same start give the same events.
"""

from __future__ import annotations

from typing import NamedTuple

from exchange.core.orders import MarginMode, OrderType, WorkingType
from matching import SelfTradePrevention, Side, TimeInForce


class CreateAccount(NamedTuple):
    ts: int
    account: int


class Deposit(NamedTuple):
    ts: int
    account: int
    amount: int  # atoms


class Withdraw(NamedTuple):
    ts: int
    account: int
    amount: int  # atoms; at most what is available


class SetLeverage(NamedTuple):
    ts: int
    account: int
    symbol: str
    leverage: int


class SetMarginMode(NamedTuple):
    ts: int
    account: int
    symbol: str
    mode: MarginMode


class AdjustIsolatedMargin(NamedTuple):
    ts: int
    account: int
    symbol: str
    delta: int  # atoms: > 0 adds from the cross wallet, < 0 returns to it


class PlaceOrder(NamedTuple):
    ts: int
    account: int
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int  # lots; 0 with close_position
    price: int | None = None  # limit price, ticks: LIMIT, STOP, TAKE_PROFIT
    tif: TimeInForce = TimeInForce.GTC  # GTX is post-only
    reduce_only: bool = False
    close_position: bool = False  # STOP_MARKET / TAKE_PROFIT_MARKET: close all when triggered
    stop_price: int | None = None  # trigger price, ticks
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    callback_ppm: int | None = None  # TRAILING_STOP_MARKET: 1,000 (0.1%) to 100,000 (10%)
    activation_price: int | None = None  # TRAILING_STOP_MARKET, optional
    client_order_id: str | None = None
    stp: SelfTradePrevention = SelfTradePrevention.EXPIRE_TAKER


class CancelOrder(NamedTuple):
    ts: int
    account: int
    symbol: str
    order_id: int | None = None
    client_order_id: str | None = None


class AmendOrder(NamedTuple):
    """Change a resting limit order's price and/or total quantity (Binance's modify order)."""

    ts: int
    account: int
    symbol: str
    order_id: int | None = None
    client_order_id: str | None = None
    price: int | None = None
    quantity: int | None = None


class CancelAllOrders(NamedTuple):
    """Cancel every open order (resting and conditional) of the account on one symbol."""

    ts: int
    account: int
    symbol: str


class ResetAccount(NamedTuple):
    """Start over: cancel every open order (resting and conditional, all symbols) and set the
    wallet to ``balance``. Only with no position open: a position has counterparties, so it
    is closed by trading, never wiped. The wallet moves as a withdrawal or deposit, so the
    venue's money stays accounted for."""

    ts: int
    account: int
    balance: int  # atoms, >= 0


class SetIndexPrice(NamedTuple):
    """An index (spot reference) price from a feed. The venue derives the mark price from it
    and the book (MECHANICS.md, "Mark price"), samples the premium for funding, settles funding
    when its time has come, and liquidates who must be."""

    ts: int
    symbol: str
    index_price: int  # ticks


class Tick(NamedTuple):
    """Time passes: funding falls due even when no price moves. Carries nothing else."""

    ts: int


class SetMarkPrice(NamedTuple):
    """Set the mark (and index) price of one symbol directly, bypassing the mark formula:
    for tests and scripted shocks. Everything that follows a mark change follows."""

    ts: int
    symbol: str
    mark: int  # ticks
    index_price: int  # ticks


Command = (CreateAccount | Deposit | Withdraw | SetLeverage | SetMarginMode | AdjustIsolatedMargin
           | PlaceOrder | CancelOrder | AmendOrder | CancelAllOrders | ResetAccount
           | SetIndexPrice | Tick | SetMarkPrice)


# ---------------------------------------------------------------- raw views
#
# A command's fields hold what their annotations say only once the venue has checked them:
# whoever builds a command (the shell, a test, a replayed journal) may put a float, a string
# or None anywhere. The venue reads a field through the command's raw view (the same fields,
# in the same order, typed ``object``) until a check has narrowed it, so that its checks see
# the value as it is. This matters for the compiled build: mypyc reads a field of a command as
# its annotated type and raises TypeError on anything else, before the check could reject it.
# A view is only ever a ``cast`` of its command, never built; tests keep the fields in step.


class RawCreateAccount(NamedTuple):
    ts: object
    account: object


class RawDeposit(NamedTuple):
    ts: object
    account: object
    amount: object


class RawWithdraw(NamedTuple):
    ts: object
    account: object
    amount: object


class RawSetLeverage(NamedTuple):
    ts: object
    account: object
    symbol: object
    leverage: object


class RawSetMarginMode(NamedTuple):
    ts: object
    account: object
    symbol: object
    mode: object


class RawAdjustIsolatedMargin(NamedTuple):
    ts: object
    account: object
    symbol: object
    delta: object


class RawPlaceOrder(NamedTuple):
    ts: object
    account: object
    symbol: object
    side: object
    order_type: object
    quantity: object
    price: object
    tif: object
    reduce_only: object
    close_position: object
    stop_price: object
    working_type: object
    callback_ppm: object
    activation_price: object
    client_order_id: object
    stp: object


class RawCancelOrder(NamedTuple):
    ts: object
    account: object
    symbol: object
    order_id: object
    client_order_id: object


class RawAmendOrder(NamedTuple):
    ts: object
    account: object
    symbol: object
    order_id: object
    client_order_id: object
    price: object
    quantity: object


class RawCancelAllOrders(NamedTuple):
    ts: object
    account: object
    symbol: object


class RawResetAccount(NamedTuple):
    ts: object
    account: object
    balance: object


class RawSetIndexPrice(NamedTuple):
    ts: object
    symbol: object
    index_price: object


class RawSetMarkPrice(NamedTuple):
    ts: object
    symbol: object
    mark: object
    index_price: object


RAW_VIEWS: dict[type, type] = {
    CreateAccount: RawCreateAccount, Deposit: RawDeposit, Withdraw: RawWithdraw,
    SetLeverage: RawSetLeverage, SetMarginMode: RawSetMarginMode,
    AdjustIsolatedMargin: RawAdjustIsolatedMargin, PlaceOrder: RawPlaceOrder,
    CancelOrder: RawCancelOrder, AmendOrder: RawAmendOrder, CancelAllOrders: RawCancelAllOrders,
    ResetAccount: RawResetAccount, SetIndexPrice: RawSetIndexPrice,
    SetMarkPrice: RawSetMarkPrice,
}
"""Each command with a raw view, and its view (Tick has only ``ts``, which ``apply`` reads
with ``getattr``)."""
