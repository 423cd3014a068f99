"""Events: the only output of the book.

Every event is an immutable ``NamedTuple`` whose first field ``seq`` is the book's sequence
number. Each state-changing event advances the sequence by one, so events of one book are
totally ordered and an L2 snapshot taken at ``seq = S`` is brought up to date by applying the
``LevelChanged`` events with ``seq > S``. A ``Rejected`` event changes nothing and so does not
advance the sequence: it carries the current one.

Order of events for one command (the reference model in the tests keeps the same order):

place (limit)
    ``Accepted``; then, for each opposite level the order reaches, best first, one event per
    resting order met in time priority (``Trade``, or ``Expired`` of the maker under
    EXPIRE_MAKER/EXPIRE_BOTH) followed by one ``LevelChanged`` for that level if its total
    changed; then exactly one of: ``Expired(STP)`` of the taker (EXPIRE_TAKER/EXPIRE_BOTH met
    its own order), ``LevelChanged`` of its own side (the GTC/GTX rest is now on the book),
    ``Expired(IOC)``, or nothing (filled). A FOK that cannot fill whole gives ``Accepted``,
    ``Expired(FOK)`` and changes no level.
place (market)
    as a limit order without a limit price; the rest expires with ``PROTECTION`` (stopped by
    the protection price) or ``NO_LIQUIDITY`` (the opposite side ran out).
place, place_market with ``accepted=False``
    the same without ``Accepted``, whose sequence number is still taken (for a caller that
    announces its orders itself).
cancel
    ``Canceled`` and the ``LevelChanged`` of its level.
amend
    quantity down at the same price: ``Amended(priority_kept=True)``, ``LevelChanged``. Same
    price, quantity up: ``Amended(priority_kept=False)``, ``LevelChanged`` (back of the queue).
    New price: ``Amended(priority_kept=False)``, ``LevelChanged`` of the old level, then the
    order matches as a taker at its new price (as place does) and rests. A new quantity at or
    below what is already filled cancels the order (``Canceled``, ``LevelChanged``), and so does
    a new price at which a post-only order would take, as on Binance.
cancel_all
    for each of the owner's orders in ascending order id: ``Canceled``, ``LevelChanged``.
"""

from __future__ import annotations

from typing import NamedTuple

from matching.orders import ExpireReason, OrderType, RejectReason, Side, TimeInForce


class Accepted(NamedTuple):
    seq: int
    order_id: int
    owner: int
    side: Side
    order_type: OrderType
    tif: TimeInForce  # IOC for market orders
    price: int | None  # the limit price; a market order's protection price, or None
    quantity: int


class Rejected(NamedTuple):
    seq: int
    order_id: int
    owner: int
    reason: RejectReason


class Trade(NamedTuple):
    seq: int
    maker_order_id: int
    taker_order_id: int
    maker_owner: int
    taker_owner: int
    price: int  # always the maker's price
    quantity: int
    aggressor: Side  # the taker's side
    maker_remaining: int  # 0: the maker order is filled and gone from the book
    taker_remaining: int


class Canceled(NamedTuple):
    seq: int
    order_id: int
    owner: int
    side: Side
    price: int
    quantity: int  # the open quantity that was canceled


class Amended(NamedTuple):
    seq: int
    order_id: int
    owner: int
    side: Side
    price: int
    quantity: int  # new total quantity
    remaining: int  # new open quantity (quantity - filled)
    priority_kept: bool


class Expired(NamedTuple):
    seq: int
    order_id: int
    owner: int
    side: Side
    quantity: int  # the open quantity that expired
    reason: ExpireReason


class LevelChanged(NamedTuple):
    seq: int
    side: Side
    price: int
    total: int  # new total open quantity at the level; 0 means the level is gone


Event = Accepted | Rejected | Trade | Canceled | Amended | Expired | LevelChanged


class L2Snapshot(NamedTuple):
    seq: int  # the sequence number of the last event the snapshot includes
    bids: list[tuple[int, int]]  # (price, total), best first
    asks: list[tuple[int, int]]
