"""Typed requests, responses and stream events: frozen dataclasses with ``Decimal`` money.

Every price, quantity, amount and rate is a ``decimal.Decimal`` parsed from the server's
decimal strings; no float is ever involved (JSON is parsed with ``parse_float=Decimal`` too).
Field names follow the server's JSON, except where noted (``Order.order_type`` is JSON
``type``; ``FundingPaid.rate`` is JSON ``rate_e8``, which carries the rate itself).

Enums are ``StrEnum``: they compare equal to the server's strings, and a value the server adds
later parses to a new member instead of failing.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Any, ClassVar, NamedTuple, TypeVar, Union, get_args, get_origin

T = TypeVar("T")

DecimalLike = Decimal | int | str


# ---------------------------------------------------------------------------------- enums


class _WireEnum(StrEnum):
    """A string enum that accepts values it does not know (a newer server's), as new members."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            member = str.__new__(cls, value)
            member._name_ = value
            member._value_ = value
            return member
        return None


class Side(_WireEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(_WireEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"  # stop-limit
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"  # take-profit-limit
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"


class TimeInForce(_WireEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"  # post-only: rejected if it would take


class WorkingType(_WireEnum):
    """Which price triggers a conditional order."""

    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"  # the last trade price


class MarginMode(_WireEnum):
    CROSS = "CROSS"
    ISOLATED = "ISOLATED"


class OrderStatus(_WireEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class SelfTradePrevention(_WireEnum):
    EXPIRE_TAKER = "EXPIRE_TAKER"
    EXPIRE_MAKER = "EXPIRE_MAKER"
    EXPIRE_BOTH = "EXPIRE_BOTH"
    NONE = "NONE"


class CancelReason(_WireEnum):
    USER = "USER"
    CANCEL_ALL = "CANCEL_ALL"
    REDUCE_ONLY = "REDUCE_ONLY"
    AMEND = "AMEND"
    LIQUIDATION = "LIQUIDATION"


class ExpireReason(_WireEnum):
    IOC = "IOC"
    FOK = "FOK"
    STP = "STP"
    PROTECTION = "PROTECTION"
    NO_LIQUIDITY = "NO_LIQUIDITY"
    TRIGGER_REJECTED = "TRIGGER_REJECTED"


KLINE_INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")


# ---------------------------------------------------------------------------------- decimals


def to_decimal(value: DecimalLike, what: str = "value") -> Decimal:
    """A Decimal from a Decimal, an int or a decimal string; floats are refused (0.1 is not
    0.1 in binary: write Decimal("0.1"))."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"{what} must be a Decimal, an int or a decimal string, not "
                        f"{type(value).__name__} {value!r} (floats are not exact)")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} is not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{what} must be finite, not {value!r}")
    return result


def decimal_str(value: Decimal) -> str:
    """Plain decimal text, never exponent notation ("1E+3" -> "1000")."""
    return format(value, "f")


def loads(data: str | bytes) -> Any:
    """JSON with every non-integer number as a Decimal."""
    return json.loads(data, parse_float=Decimal)


class PriceLevel(NamedTuple):
    price: Decimal
    quantity: Decimal


# ---------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and its secret (``user``: the user id, if known)."""

    api_key: str
    secret: str
    user: int | None = None
    name: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(api_key={self.api_key!r}, user={self.user!r}, name={self.name!r})"


def _opt_decimal(value: DecimalLike | None, what: str) -> Decimal | None:
    return None if value is None else to_decimal(value, what)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """A new order, as ``POST /api/v1/orders`` takes it. The class methods build the common
    kinds; ``client_order_id`` (1-36 of ``A-Z a-z 0-9 . : / _ -``) is what makes a lost answer
    safe to retry: the client fills in a unique one when it is left out."""

    symbol: str
    side: Side
    type: OrderType = OrderType.LIMIT
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    close_position: bool = False
    stop_price: Decimal | None = None
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    callback_rate: Decimal | None = None  # trailing stops: percent, 0.1 to 10
    activation_price: Decimal | None = None
    client_order_id: str | None = None
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.EXPIRE_TAKER

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "type", OrderType(self.type))
        object.__setattr__(self, "time_in_force", TimeInForce(self.time_in_force))
        object.__setattr__(self, "working_type", WorkingType(self.working_type))
        object.__setattr__(self, "self_trade_prevention",
                           SelfTradePrevention(self.self_trade_prevention))
        for name in ("quantity", "price", "stop_price", "callback_rate", "activation_price"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_decimal(value, name))

    @classmethod
    def limit(cls, symbol: str, side: Side, quantity: DecimalLike, price: DecimalLike, *,
              time_in_force: TimeInForce = TimeInForce.GTC, post_only: bool = False,
              reduce_only: bool = False, client_order_id: str | None = None) -> OrderRequest:
        """A limit order; ``post_only`` makes it GTX (refused rather than taking)."""
        return cls(symbol=symbol, side=side, type=OrderType.LIMIT,
                   quantity=to_decimal(quantity, "quantity"), price=to_decimal(price, "price"),
                   time_in_force=TimeInForce.GTX if post_only else time_in_force,
                   reduce_only=reduce_only, client_order_id=client_order_id)

    @classmethod
    def market(cls, symbol: str, side: Side, quantity: DecimalLike, *,
               reduce_only: bool = False, client_order_id: str | None = None) -> OrderRequest:
        return cls(symbol=symbol, side=side, type=OrderType.MARKET,
                   quantity=to_decimal(quantity, "quantity"), reduce_only=reduce_only,
                   client_order_id=client_order_id)

    @classmethod
    def stop_market(cls, symbol: str, side: Side, stop_price: DecimalLike, *,
                    quantity: DecimalLike | None = None, close_position: bool = False,
                    reduce_only: bool = False,
                    working_type: WorkingType = WorkingType.MARK_PRICE,
                    client_order_id: str | None = None) -> OrderRequest:
        """A stop: a market order once the price reaches ``stop_price``. With
        ``close_position`` it closes the whole position whatever its size (no quantity)."""
        return cls(symbol=symbol, side=side, type=OrderType.STOP_MARKET,
                   quantity=_opt_decimal(quantity, "quantity"),
                   stop_price=to_decimal(stop_price, "stop_price"),
                   close_position=close_position, reduce_only=reduce_only,
                   working_type=working_type, client_order_id=client_order_id)

    @classmethod
    def take_profit_market(cls, symbol: str, side: Side, stop_price: DecimalLike, *,
                           quantity: DecimalLike | None = None, close_position: bool = False,
                           reduce_only: bool = False,
                           working_type: WorkingType = WorkingType.MARK_PRICE,
                           client_order_id: str | None = None) -> OrderRequest:
        return cls(symbol=symbol, side=side, type=OrderType.TAKE_PROFIT_MARKET,
                   quantity=_opt_decimal(quantity, "quantity"),
                   stop_price=to_decimal(stop_price, "stop_price"),
                   close_position=close_position, reduce_only=reduce_only,
                   working_type=working_type, client_order_id=client_order_id)

    @classmethod
    def trailing_stop_market(cls, symbol: str, side: Side, quantity: DecimalLike,
                             callback_rate: DecimalLike, *,
                             activation_price: DecimalLike | None = None,
                             reduce_only: bool = True,
                             working_type: WorkingType = WorkingType.MARK_PRICE,
                             client_order_id: str | None = None) -> OrderRequest:
        """A trailing stop; ``callback_rate`` in percent (``1`` is 1%)."""
        return cls(symbol=symbol, side=side, type=OrderType.TRAILING_STOP_MARKET,
                   quantity=to_decimal(quantity, "quantity"),
                   callback_rate=to_decimal(callback_rate, "callback_rate"),
                   activation_price=_opt_decimal(activation_price, "activation_price"),
                   reduce_only=reduce_only, working_type=working_type,
                   client_order_id=client_order_id)

    def with_client_order_id(self, client_order_id: str) -> OrderRequest:
        return dataclasses.replace(self, client_order_id=client_order_id)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: decimals as plain strings, defaults left out."""
        out: dict[str, Any] = {"symbol": self.symbol, "side": str(self.side),
                               "type": str(self.type)}
        for name in ("quantity", "price", "stop_price", "callback_rate", "activation_price"):
            value = getattr(self, name)
            if value is not None:
                out[name] = decimal_str(value)
        if self.time_in_force is not TimeInForce.GTC:
            out["time_in_force"] = str(self.time_in_force)
        if self.reduce_only:
            out["reduce_only"] = True
        if self.close_position:
            out["close_position"] = True
        if self.working_type is not WorkingType.CONTRACT_PRICE:
            out["working_type"] = str(self.working_type)
        if self.client_order_id is not None:
            out["client_order_id"] = self.client_order_id
        if self.self_trade_prevention is not SelfTradePrevention.EXPIRE_TAKER:
            out["self_trade_prevention"] = str(self.self_trade_prevention)
        return out


# ---------------------------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True)
class Tier:
    tier: int
    floor: Decimal
    cap: Decimal | None
    max_leverage: int
    mmr: Decimal
    maint_amount: Decimal


@dataclass(frozen=True, slots=True)
class Instrument:
    """A listed perpetual: its filters, fees and margin tiers."""

    symbol: str
    base_asset: str
    quote_asset: str
    margin_asset: str
    contract_type: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    price_band: Decimal  # a limit price must lie within mark x (1 +- price_band)
    max_open_orders: int
    maker_fee: Decimal
    taker_fee: Decimal
    funding_interval_ms: int
    tiers: tuple[Tier, ...]

    def round_price(self, price: DecimalLike, rounding: str = ROUND_HALF_EVEN) -> Decimal:
        """``price`` on the tick grid (half-even by default; ROUND_FLOOR / ROUND_CEILING to
        stay on one side)."""
        ticks = (to_decimal(price, "price") / self.tick_size).to_integral_value(rounding)
        return (ticks * self.tick_size).quantize(self.tick_size)

    def round_qty(self, quantity: DecimalLike, rounding: str = ROUND_DOWN) -> Decimal:
        """``quantity`` on the step grid, rounded down by default."""
        lots = (to_decimal(quantity, "quantity") / self.step_size).to_integral_value(rounding)
        return (lots * self.step_size).quantize(self.step_size)

    def max_leverage(self) -> int:
        return self.tiers[0].max_leverage if self.tiers else 1


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """``GET /api/v1/depth``: the top levels, best first, and the book's sequence number."""

    symbol: str
    seq: int
    bids: tuple[PriceLevel, ...]
    asks: tuple[PriceLevel, ...]

    @classmethod
    def _parse_wire(cls, data: Any) -> DepthSnapshot:
        def levels(rows: Any) -> tuple[PriceLevel, ...]:
            return tuple(PriceLevel(to_decimal(p, "price"), to_decimal(q, "quantity"))
                         for p, q in rows)
        return cls(str(data["symbol"]), int(data["seq"]), levels(data["bids"]),
                   levels(data["asks"]))


@dataclass(frozen=True, slots=True)
class PublicTrade:
    _WIRE: ClassVar[dict[str, str]] = {"quantity": "qty"}

    id: int
    price: Decimal
    quantity: Decimal  # JSON "qty"
    time: int
    aggressor: Side


@dataclass(frozen=True, slots=True)
class Kline:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    close_time: int
    trades: int

    @classmethod
    def _parse_wire(cls, data: Any) -> Kline:
        t0, o, h, lo, c, v, qv, t1, n = data
        return cls(int(t0), to_decimal(o), to_decimal(h), to_decimal(lo), to_decimal(c),
                   to_decimal(v), to_decimal(qv), int(t1), int(n))


@dataclass(frozen=True, slots=True)
class Ticker:
    """24 hours of trading, the best bid and ask, and the mark."""

    symbol: str
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    last: Decimal | None
    volume: Decimal
    quote_volume: Decimal
    trades: int
    bid: Decimal | None
    ask: Decimal | None
    mark: Decimal | None


@dataclass(frozen=True, slots=True)
class Prices:
    """Mark, index and last price; funding: the current rate, the predicted next, when."""

    symbol: str
    mark: Decimal | None
    index: Decimal | None
    last: Decimal | None
    funding_rate: Decimal
    predicted_funding_rate: Decimal
    next_funding_time: int
    interest_rate: Decimal


@dataclass(frozen=True, slots=True)
class Account:
    """The account in USDT. ``margin_ratio`` is in percent (maintenance margin / margin
    balance: liquidation at 100), None without positions."""

    user: int
    wallet_balance: Decimal
    isolated_wallets: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    position_initial_margin: Decimal
    order_initial_margin: Decimal
    maintenance_margin: Decimal
    available_balance: Decimal
    margin_ratio: Decimal | None

    @classmethod
    def _parse_wire(cls, data: Any) -> Account:
        ratio = data.get("margin_ratio")
        values = dict(data)
        values["margin_ratio"] = None if ratio is None else str(ratio).rstrip("%").strip()
        return _build(cls, values, custom=False)


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    margin_mode: MarginMode
    leverage: int
    size: Decimal  # signed: > 0 long, < 0 short
    entry_price: Decimal | None
    mark_price: Decimal | None
    notional: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    isolated_wallet: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    adl_quantile: int | None

    @property
    def side(self) -> Side | None:
        return None if not self.size else (Side.BUY if self.size > 0 else Side.SELL)


@dataclass(frozen=True, slots=True)
class Order:
    _WIRE: ClassVar[dict[str, str]] = {"order_type": "type"}

    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType  # JSON "type"
    time_in_force: TimeInForce
    price: Decimal | None
    quantity: Decimal
    filled: Decimal
    avg_price: Decimal | None
    status: OrderStatus
    stop_price: Decimal | None
    working_type: WorkingType
    reduce_only: bool
    close_position: bool
    created: int
    updated: int

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled


@dataclass(frozen=True, slots=True)
class PlacedOrder(Order):
    """A new order as ``place_order`` answers: the order and its own immediate fills."""

    fills: tuple[OrderFilled, ...] = ()


@dataclass(frozen=True, slots=True)
class AmendedOrder(Order):
    """An amended order and the account's events of the amend (amended, filled...)."""

    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class LeverageSetting:
    symbol: str
    leverage: int


@dataclass(frozen=True, slots=True)
class MarginModeSetting:
    symbol: str
    margin_mode: MarginMode


@dataclass(frozen=True, slots=True)
class InsuranceFund:
    balance: Decimal
    history: tuple[InsuranceFundChanged, ...]


# ---------------------------------------------------------------------------------- events
#
# The venue's events as the server sends them (REST history and every websocket stream):
# JSON objects whose "type" names the class. Prices, quantities and money are Decimals.


@dataclass(frozen=True, slots=True)
class AccountCreated:
    seq: int
    ts: int
    account: int


@dataclass(frozen=True, slots=True)
class Deposited:
    seq: int
    ts: int
    account: int
    amount: Decimal
    wallet: Decimal  # the cross wallet after it


@dataclass(frozen=True, slots=True)
class Withdrawn:
    seq: int
    ts: int
    account: int
    amount: Decimal
    wallet: Decimal


@dataclass(frozen=True, slots=True)
class LeverageChanged:
    seq: int
    ts: int
    account: int
    symbol: str
    leverage: int
    max_notional: Decimal | None


@dataclass(frozen=True, slots=True)
class MarginModeChanged:
    seq: int
    ts: int
    account: int
    symbol: str
    mode: MarginMode


@dataclass(frozen=True, slots=True)
class IsolatedMarginChanged:
    seq: int
    ts: int
    account: int
    symbol: str
    delta: Decimal
    isolated_wallet: Decimal
    wallet: Decimal


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: Decimal | None
    quantity: Decimal
    stop_price: Decimal | None
    working_type: WorkingType
    reduce_only: bool
    close_position: bool


@dataclass(frozen=True, slots=True)
class OrderTriggered:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    trigger_price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One side of a trade, as the account sees it (also what ``fills()`` lists)."""

    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    trade_id: int
    side: Side
    price: Decimal
    quantity: Decimal
    maker: bool
    fee: Decimal  # paid (negative: a rebate)
    realized_pnl: Decimal  # before the fee
    remaining: Decimal  # the order's open quantity after this fill
    position_size: Decimal  # signed, after this fill
    position_entry_notional: Decimal


@dataclass(frozen=True, slots=True)
class Traded:
    """A trade on the public tape (``trades@SYMBOL``)."""

    seq: int
    ts: int
    symbol: str
    trade_id: int
    price: Decimal
    quantity: Decimal
    aggressor: Side
    maker_order_id: int
    taker_order_id: int


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    quantity: Decimal
    reason: CancelReason


@dataclass(frozen=True, slots=True)
class OrderExpired:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    quantity: Decimal
    reason: ExpireReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class OrderAmended:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    client_order_id: str
    price: Decimal
    quantity: Decimal
    remaining: Decimal
    priority_kept: bool


@dataclass(frozen=True, slots=True)
class BookChanged:
    """A depth delta (``depth@SYMBOL``): the new total at one level (0: the level is gone).
    ``book_seq`` is the book's sequence number, comparable with ``DepthSnapshot.seq``; it
    also counts the book's other events, so consecutive deltas may skip numbers.
    ``prev_book_seq``, where the server sends it, is the previous delta's ``book_seq``: with
    it a lost delta shows at once (None: this server does not send it)."""

    seq: int
    ts: int
    symbol: str
    side: Side
    price: Decimal
    total: Decimal
    book_seq: int
    prev_book_seq: int | None = None


@dataclass(frozen=True, slots=True)
class MarkPriceChanged:
    seq: int
    ts: int
    symbol: str
    mark: Decimal
    index_price: Decimal


@dataclass(frozen=True, slots=True)
class FundingSettled:
    _WIRE: ClassVar[dict[str, str]] = {"rate": "rate_e8"}

    seq: int
    ts: int
    symbol: str
    rate: Decimal  # JSON "rate_e8": the rate itself, e.g. 0.00010000
    mark: Decimal
    funding_time: int
    next_funding_time: int


@dataclass(frozen=True, slots=True)
class FundingPaid:
    _WIRE: ClassVar[dict[str, str]] = {"rate": "rate_e8"}

    seq: int
    ts: int
    account: int
    symbol: str
    size: Decimal
    amount: Decimal  # > 0 received, < 0 paid
    rate: Decimal  # JSON "rate_e8": the rate itself


@dataclass(frozen=True, slots=True)
class MarginCall:
    """The margin ratio first reached 80% (``symbol``: of that isolated position)."""

    seq: int
    ts: int
    account: int
    symbol: str | None
    margin_ratio_ppm: int

    @property
    def margin_ratio(self) -> Decimal:
        """In percent."""
        return Decimal(self.margin_ratio_ppm) / 10_000


@dataclass(frozen=True, slots=True)
class LiquidationStarted:
    seq: int
    ts: int
    account: int
    symbol: str | None  # None: the whole cross account
    margin_ratio_ppm: int

    @property
    def margin_ratio(self) -> Decimal:
        """In percent."""
        return Decimal(self.margin_ratio_ppm) / 10_000


@dataclass(frozen=True, slots=True)
class PositionTakenOver:
    seq: int
    ts: int
    account: int
    symbol: str
    size: Decimal  # signed, taken over by the liquidation engine
    mark: Decimal
    bankruptcy_price: Decimal
    leftover: Decimal  # the margin left for it (to the insurance fund; negative: a deficit)
    partial: bool


@dataclass(frozen=True, slots=True)
class LiquidationOrderPlaced:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    side: Side
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class LiquidationFilled:
    seq: int
    ts: int
    account: int
    symbol: str
    order_id: int
    trade_id: int
    side: Side
    price: Decimal
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class AdlFilled:
    seq: int
    ts: int
    account: int
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    realized_pnl: Decimal
    liquidated_account: int


@dataclass(frozen=True, slots=True)
class InsuranceFundChanged:
    seq: int
    ts: int
    symbol: str
    delta: Decimal
    balance: Decimal
    account: int


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An event type this client does not know (a newer server's): its JSON as it came."""

    type: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """``ticker@SYMBOL``: sent on each trade."""

    symbol: str
    last: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    trades: int


@dataclass(frozen=True, slots=True)
class KlineUpdate:
    """``kline_<interval>@SYMBOL``: the current bar, sent on each trade."""

    symbol: str
    interval: str
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int


Event = (AccountCreated | Deposited | Withdrawn | LeverageChanged | MarginModeChanged
         | IsolatedMarginChanged | OrderAccepted | OrderTriggered | OrderFilled | Traded
         | OrderCanceled | OrderExpired | OrderAmended | BookChanged | MarkPriceChanged
         | FundingSettled | FundingPaid | MarginCall | LiquidationStarted | PositionTakenOver
         | LiquidationOrderPlaced | LiquidationFilled | AdlFilled | InsuranceFundChanged
         | UnknownEvent)
"""Any venue event; match on the class (``case OrderFilled(...)``)."""

StreamEvent = Event | TickerUpdate | KlineUpdate
"""Anything a websocket stream delivers."""

EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(Event)
                                      if cls is not UnknownEvent}


# ---------------------------------------------------------------------------------- parsing


class WireError(ValueError):
    """The server's JSON does not have the shape this client expects."""


def _convert_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise WireError(f"expected a decimal string, got {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise WireError(f"expected a decimal string, got {value!r}") from None


def _convert_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"expected an integer, got {value!r}")
    return value


def _convert_str(value: Any) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected a string, got {value!r}")
    return value


def _convert_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise WireError(f"expected true or false, got {value!r}")
    return value


def _identity(value: Any) -> Any:
    return value


def _converter(tp: Any) -> Callable[[Any], Any]:
    if tp is Decimal:
        return _convert_decimal
    if tp is int:
        return _convert_int
    if tp is str:
        return _convert_str
    if tp is bool:
        return _convert_bool
    if tp is Any or tp is object:
        return _identity
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(tp) if a is not type(None)]
        optional = len(args) < len(get_args(tp))
        # several classes: a union of events
        inner = _converter(args[0]) if len(args) == 1 else parse_event
        if not optional:
            return inner
        return lambda v: None if v is None else inner(v)
    if origin is tuple:
        item = _converter(get_args(tp)[0])

        def as_tuple(v: Any) -> tuple[Any, ...]:
            if not isinstance(v, list | tuple):
                raise WireError(f"expected a list, got {v!r}")
            return tuple(item(x) for x in v)
        return as_tuple
    if isinstance(tp, type) and issubclass(tp, Enum):
        enum_type = tp

        def as_enum(v: Any) -> Any:
            return enum_type(_convert_str(v))
        return as_enum
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        cls = tp
        return lambda v: from_wire(cls, v)
    raise TypeError(f"no wire converter for {tp!r}")


_FIELDS: dict[type[Any], list[tuple[str, str, Callable[[Any], Any], bool]]] = {}


def _fields_of(cls: type[Any]) -> list[tuple[str, str, Callable[[Any], Any], bool]]:
    spec = _FIELDS.get(cls)
    if spec is None:
        hints = typing.get_type_hints(cls)
        renames: dict[str, str] = getattr(cls, "_WIRE", {})  # Python name -> JSON name
        spec = []
        for f in dataclasses.fields(cls):
            has_default = (f.default is not dataclasses.MISSING
                           or f.default_factory is not dataclasses.MISSING)
            spec.append((f.name, renames.get(f.name, f.name), _converter(hints[f.name]),
                         has_default))
        _FIELDS[cls] = spec
    return spec


def _build(cls: type[T], data: Any, custom: bool = True) -> T:
    if custom:
        parse = getattr(cls, "_parse_wire", None)
        if parse is not None:
            try:
                result: T = parse(data)
            except (KeyError, TypeError, ValueError, InvalidOperation) as e:
                raise WireError(f"{cls.__name__}: {e}") from None
            return result
    if not isinstance(data, Mapping):
        raise WireError(f"{cls.__name__}: expected an object, got {data!r}")
    values: dict[str, Any] = {}
    for name, wire, convert, has_default in _fields_of(cls):
        if wire in data:
            try:
                values[name] = convert(data[wire])
            except WireError as e:
                raise WireError(f"{cls.__name__}.{name}: {e}") from None
        elif not has_default:
            raise WireError(f"{cls.__name__}: the answer lacks {wire!r}")
    return cls(**values)


def from_wire(cls: type[T], data: Any) -> T:
    """Build a model from the server's JSON (extra fields are ignored, for newer servers)."""
    return _build(cls, data)


def list_from_wire(cls: type[T], data: Any) -> list[T]:
    if not isinstance(data, list):
        raise WireError(f"expected a list of {cls.__name__}, got {data!r}")
    return [from_wire(cls, item) for item in data]


def parse_event(data: Any) -> Event:
    """A venue event from its JSON, by its "type"; unknown types give ``UnknownEvent``."""
    if not isinstance(data, Mapping):
        raise WireError(f"expected an event object, got {data!r}")
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return UnknownEvent(str(kind), dict(data))
    event: Event = from_wire(cls, data)
    return event


def parse_events(data: Any) -> list[Event]:
    if not isinstance(data, list):
        raise WireError(f"expected a list of events, got {data!r}")
    return [parse_event(item) for item in data]


def parse_stream_data(stream: str, data: Any) -> StreamEvent:
    """What a websocket stream message's ``data`` holds, typed by its stream."""
    if stream.startswith("ticker@"):
        return from_wire(TickerUpdate, data)
    if stream.startswith("kline_"):
        return from_wire(KlineUpdate, data)
    return parse_event(data)
