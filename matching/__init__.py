"""A pure limit-order-book library: price-time priority, integer ticks and lots, events out.

No money, clock, randomness or I/O lives here, and nothing here imports ``exchange``.
"""

from matching.book import Book
from matching.events import (
    Accepted,
    Amended,
    Canceled,
    Event,
    Expired,
    L2Snapshot,
    LevelChanged,
    Rejected,
    Trade,
)
from matching.orders import (
    ExpireReason,
    OrderInfo,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

__all__ = [
    "Accepted",
    "Amended",
    "Book",
    "Canceled",
    "Event",
    "ExpireReason",
    "Expired",
    "L2Snapshot",
    "LevelChanged",
    "OrderInfo",
    "OrderType",
    "RejectReason",
    "Rejected",
    "SelfTradePrevention",
    "Side",
    "TimeInForce",
    "Trade",
]
