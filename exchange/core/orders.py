"""Venue-side order vocabulary and the venue's record of an open order.

The book (``matching``) knows only limit and market orders; the venue adds conditional orders,
reduce-only and close-position, client order ids and trigger prices.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from exchange.core.native import mypyc_attr
from matching import SelfTradePrevention, Side, TimeInForce


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP = "STOP"  # stop-limit
    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT = "TAKE_PROFIT"  # take-profit-limit
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"


CONDITIONAL_TYPES: Final = frozenset({OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT,
                               OrderType.TAKE_PROFIT_MARKET, OrderType.TRAILING_STOP_MARKET})
# Conditional types that become a limit order when triggered (the rest become market orders).
LIMIT_ON_TRIGGER: Final = frozenset({OrderType.STOP, OrderType.TAKE_PROFIT})


class WorkingType(StrEnum):
    """Which price triggers a conditional order (Binance's names)."""

    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"  # the last trade price


class MarginMode(StrEnum):
    CROSS = "CROSS"
    ISOLATED = "ISOLATED"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class CancelReason(StrEnum):
    USER = "USER"
    CANCEL_ALL = "CANCEL_ALL"
    REDUCE_ONLY = "REDUCE_ONLY"  # the position it could reduce shrank, flipped or closed
    AMEND = "AMEND"  # an amend cancelled it (new quantity at or below the filled quantity...)
    LIQUIDATION = "LIQUIDATION"  # canceled to free margin before a liquidation


class ExpireReason(StrEnum):
    IOC = "IOC"
    FOK = "FOK"
    STP = "STP"
    PROTECTION = "PROTECTION"
    NO_LIQUIDITY = "NO_LIQUIDITY"
    TRIGGER_REJECTED = "TRIGGER_REJECTED"  # triggered, then failed a check (margin, position)


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)  # see native.py
class Order:
    """An open order as the venue tracks it: resting on the book, or conditional and waiting
    for its trigger. Mutable; it leaves ``Venue.orders`` when it is filled, canceled or
    expired."""

    __slots__ = ("account", "activation_price", "callback_ppm", "client_order_id",
                 "close_position", "created", "extreme", "filled", "order_id", "order_type",
                 "price", "quantity", "reduce_only", "side", "status", "stop_price", "stp",
                 "symbol", "tif", "triggered", "working_type")

    def __init__(
        self,
        order_id: int,
        account: int,
        symbol: str,
        client_order_id: str,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        price: int | None,
        quantity: int,
        reduce_only: bool,
        close_position: bool,
        stop_price: int | None,
        working_type: WorkingType,
        callback_ppm: int | None,
        activation_price: int | None,
        stp: SelfTradePrevention,
        created: int,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.symbol = symbol
        self.client_order_id = client_order_id
        self.side = side
        self.order_type = order_type
        self.tif = tif
        self.price = price  # limit price (ticks); None for market and *_MARKET orders
        self.quantity = quantity  # lots; 0 for close-position orders until triggered
        self.filled = 0
        self.reduce_only = reduce_only
        self.close_position = close_position
        self.stop_price = stop_price
        self.working_type = working_type
        self.callback_ppm = callback_ppm
        self.activation_price = activation_price
        # Trailing stops: the best price seen since activation (None until activated).
        self.extreme: int | None = None
        self.stp = stp
        self.created = created
        self.triggered = False
        self.status = OrderStatus.NEW

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def is_conditional(self) -> bool:
        return self.order_type in CONDITIONAL_TYPES and not self.triggered
