"""Order vocabulary of the book: sides, types, time in force, self-trade prevention, codes.

Enums are ``IntEnum``/``StrEnum`` so that they compare and hash as plain ints/strings: the book
stores and compares them on its hot path, and their values are what goes on the wire.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NamedTuple


class Side(IntEnum):
    """+1 buys, -1 sells: the sign is used directly in price comparisons and PnL."""

    BUY = 1
    SELL = -1


class OrderType(IntEnum):
    LIMIT = 0
    MARKET = 1


class TimeInForce(IntEnum):
    GTC = 0
    IOC = 1
    FOK = 2
    # Post-only, Binance's name for it: rejected, never re-priced, if it would take.
    GTX = 3


class SelfTradePrevention(IntEnum):
    """What happens when a taker would trade with a resting order of the same owner.

    The taker's mode decides, as on Binance.
    """

    EXPIRE_TAKER = 0
    EXPIRE_MAKER = 1
    EXPIRE_BOTH = 2
    NONE = 3


class RejectReason(StrEnum):
    """Stable codes: clients match on them, so never rename one."""

    INVALID_SIDE = "INVALID_SIDE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_TIME_IN_FORCE = "INVALID_TIME_IN_FORCE"
    INVALID_STP_MODE = "INVALID_STP_MODE"
    DUPLICATE_ORDER_ID = "DUPLICATE_ORDER_ID"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    NO_CHANGE = "NO_CHANGE"
    INVALID_ORDER_ID = "INVALID_ORDER_ID"  # an order id is an int (not a bool)
    INVALID_OWNER = "INVALID_OWNER"  # an owner is an int (not a bool)


class ExpireReason(StrEnum):
    IOC = "IOC"  # the unfilled rest of an IOC order
    FOK = "FOK"  # a FOK order that could not fill whole: nothing traded
    STP = "STP"  # self-trade prevention expired this order (taker or maker)
    PROTECTION = "PROTECTION"  # a market order reached its protection price
    NO_LIQUIDITY = "NO_LIQUIDITY"  # a market order swept the whole opposite side


class OrderInfo(NamedTuple):
    """A resting order as the book's queries report it (a copy, safe to keep)."""

    order_id: int
    owner: int
    side: Side
    price: int
    quantity: int  # the order's total quantity (as amended)
    filled: int
    remaining: int  # open on the book; quantity == filled + remaining while it rests
    post_only: bool
    stp: SelfTradePrevention


VALID_SIDES = frozenset((1, -1))
VALID_TIFS = frozenset(int(t) for t in TimeInForce)
VALID_STPS = frozenset(int(s) for s in SelfTradePrevention)
