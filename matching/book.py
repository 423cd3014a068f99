"""A price-time-priority limit order book for one instrument.

Prices are integer ticks, quantities integer lots. Each command returns its events (see
``matching.events`` for which, in what order); queries never change anything.

How it is laid out, and why:

- Each side is a ``SortedDict`` from a *key* to a ``_Level``. Ask keys are prices; bid keys are
  negated prices, so on both sides the best level is ``peekitem(0)`` and "this level is within
  the taker's limit" is one comparison, ``key <= bound``, with no branch on the side.
- A level holds a FIFO deque of orders. Canceling from the middle of a deque is O(n), so a
  cancel marks the order dead (``remaining = 0``) and leaves it where it is: matching pops dead
  orders when it reaches them, a level whose live count falls to zero is dropped whole, and a
  level whose deque holds far more dead than live orders is compacted, so memory stays bounded.
- ``_orders`` finds any resting order by id in O(1); each owner's resting orders are chained
  through the orders themselves (a doubly linked list), for cancel-all and open-order queries
  without a scan and without a dict per owner.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Final

from sortedcontainers import SortedDict

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
from matching.tuples import new

# Module constants are ``Final``: the compiled build (mypyc) loads a Final name as a C static,
# where a plain global costs a dict lookup.

# What a caller may pass for a side, a time in force or a self-trade-prevention mode: a member
# or its int value. Keyed by ``object`` because the public methods take what they are given.
_SIDES: Final[dict[object, Side]] = {1: Side.BUY, -1: Side.SELL}
_TIFS: Final[dict[object, TimeInForce]] = {int(t): t for t in TimeInForce}
_STPS: Final[dict[object, SelfTradePrevention]] = {int(s): s for s in SelfTradePrevention}

_BUY: Final = Side.BUY
_SELL: Final = Side.SELL
_GTC: Final = TimeInForce.GTC
_IOC: Final = TimeInForce.IOC
_FOK: Final = TimeInForce.FOK
_GTX: Final = TimeInForce.GTX
_STP_NONE: Final = SelfTradePrevention.NONE
_EXPIRE_TAKER: Final = SelfTradePrevention.EXPIRE_TAKER
_EXPIRE_MAKER: Final = SelfTradePrevention.EXPIRE_MAKER
_EXPIRE_BOTH: Final = SelfTradePrevention.EXPIRE_BOTH

# A bound beyond any key: market orders without protection match whatever is there.
_NO_BOUND: Final = 1 << 80
# The best key of an empty side: above every bound, so nothing ever crosses it.
_EMPTY: Final = _NO_BOUND + 1

# Why matching stopped (returned by _match).
_FILLED: Final = 0
_AT_BOUND: Final = 1
_SIDE_EMPTY: Final = 2
_SELF_TRADE: Final = 3

_STYLES: Final = {(s, p): (s, p) for s in SelfTradePrevention for p in (False, True)}

# Compact a level's deque when it holds more than this many dead entries beyond twice its live.
_COMPACT_SLACK: Final = 32


class _Level:
    __slots__ = ("key", "live", "orders", "price", "side", "total")

    def __init__(self, side: Side, key: int, price: int) -> None:
        self.side = side
        self.key = key  # its key in the side's SortedDict
        self.price = price
        self.orders: deque[_Order] = deque()
        self.total = 0  # open quantity of the live orders
        self.live = 0  # number of live orders; dead ones may still sit in the deque


class _Order:
    """A resting order. Its side and price live on its level and its fills are ``quantity -
    remaining``, so a million of them stay small. ``prev_own``/``next_own`` chain the owner's
    resting orders, which is cheaper in memory than a dict per owner."""

    __slots__ = ("level", "next_own", "order_id", "owner", "prev_own", "quantity", "remaining",
                 "style")

    def __init__(
        self,
        order_id: int,
        owner: int,
        level: _Level,
        quantity: int,
        remaining: int,
        post_only: bool,
        stp: SelfTradePrevention,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.level = level
        self.quantity = quantity
        self.remaining = remaining  # 0 once the order has left the book (a dead entry)
        # Two rarely read fields share one slot through a shared tuple: eight slots instead of
        # nine is one allocator size class less per order (96 bytes instead of 112).
        self.style = _STYLES[stp, post_only]
        self.prev_own: _Order | None = None
        self.next_own: _Order | None = None

    @property
    def stp(self) -> SelfTradePrevention:
        return self.style[0]

    @property
    def post_only(self) -> bool:
        return self.style[1]

    def info(self) -> OrderInfo:
        level = self.level
        return OrderInfo(self.order_id, self.owner, level.side, level.price, self.quantity,
                         self.quantity - self.remaining, self.remaining, self.post_only,
                         self.stp)


class Book:
    """One instrument's order book. Not thread-safe: one writer applies commands in order.

    The commands (``place``, ``place_market``, ``cancel``, ``amend``, ``cancel_all``) take their
    arguments as ``object`` and check them: a wrong value or type is answered with a
    ``Rejected`` event and changes nothing. Order ids and owners are ints; sides, times in
    force and STP modes are members of their enums or their int values; prices and quantities
    are positive ints. An int means an ``int``: not a bool, a float or another subclass.

    (Annotated ``object`` rather than as what they should be because that is what they are
    until checked, and because the compiled build, mypyc, checks annotated types at the call
    and would raise ``TypeError`` before the check could answer.)
    """

    def __init__(self) -> None:
        self._bids: SortedDict[int, _Level] = SortedDict()  # key: -price
        self._asks: SortedDict[int, _Level] = SortedDict()  # key: price
        self._orders: dict[int, _Order] = {}
        self._owner_head: dict[int, _Order] = {}  # the newest resting order of each owner
        self._seq = 0
        # Keys of the best level of each side (_EMPTY when the side is empty), kept current so
        # that the common "does this order cross?" check costs one comparison.
        self._best_bid_key = _EMPTY
        self._best_ask_key = _EMPTY

    # ------------------------------------------------------------------ queries

    @property
    def seq(self) -> int:
        """Sequence number of the last state-changing event."""
        return self._seq

    def best_bid(self) -> int | None:
        return None if self._best_bid_key == _EMPTY else -self._best_bid_key

    def best_ask(self) -> int | None:
        return None if self._best_ask_key == _EMPTY else self._best_ask_key

    def depth(self, levels: int) -> L2Snapshot:
        """The top ``levels`` price levels of each side, best first, with the book's seq."""
        n = max(levels, 0)
        bids = [(lvl.price, lvl.total) for lvl in islice(self._bids.values(), n)]
        asks = [(lvl.price, lvl.total) for lvl in islice(self._asks.values(), n)]
        return L2Snapshot(self._seq, bids, asks)

    def order(self, order_id: int) -> OrderInfo | None:
        o = self._orders.get(order_id)
        return None if o is None else o.info()

    def open_orders(self, owner: int) -> list[OrderInfo]:
        """The owner's resting orders, in ascending order id."""
        return [o.info() for o in self._owned(owner)]

    def level_orders(self, side: Side, price: int) -> list[OrderInfo]:
        """Live orders resting at one level, in time priority."""
        level = self._bids.get(-price) if side == _BUY else self._asks.get(price)
        if level is None:
            return []
        return [o.info() for o in level.orders if o.remaining]

    def sweep_price(self, side: Side, quantity: int, limit: int | None = None) -> int | None:
        """The worst price a taker on ``side`` would reach filling ``quantity`` now (at most
        ``limit`` for a buy, at least for a sell), or None if the book within it is too thin.
        Self-trade prevention is not considered: this is an estimate for margin checks."""
        levels = self._asks if side == _BUY else self._bids
        left = quantity
        # By key, then the dict's own lookup: a SortedDict's values() view yields each value
        # through a Python-level generator, which showed in exchange.bench's profile.
        for key in levels:
            level = levels[key]
            if limit is not None and (level.price > limit if side == _BUY
                                      else level.price < limit):
                return None
            left -= level.total
            if left <= 0:
                return level.price
        return None

    def __len__(self) -> int:
        """Number of resting orders."""
        return len(self._orders)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, object]:
        """A flat form for snapshots: the live orders of each level in time priority.

        Pickling the objects as they are would follow the owners' chains order by order and
        overflow the stack on a deep book; dead entries are dropped on the way.
        """
        levels = []
        for side in (self._bids, self._asks):
            for level in side.values():
                levels.append((level.side, level.price, [
                    (o.order_id, o.owner, o.quantity, o.remaining, o.style[0], o.style[1])
                    for o in level.orders if o.remaining]))
        return {"seq": self._seq, "levels": levels}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]
        self._seq = state["seq"]  # type: ignore[assignment]
        for side, price, orders in state["levels"]:  # type: ignore[attr-defined]
            if side is _BUY:
                key = -price
                level = self._bids[key] = _Level(side, key, price)
            else:
                key = price
                level = self._asks[key] = _Level(side, key, price)
            for order_id, owner, quantity, remaining, stp, post_only in orders:
                self._add(order_id, owner, level, quantity, remaining, post_only, stp)
        self._refresh_best(_BUY)
        self._refresh_best(_SELL)

    # ------------------------------------------------------------------ commands

    def place(
        self,
        order_id: object,
        owner: object,
        side: object,
        price: object,
        quantity: object,
        tif: object = _GTC,
        stp: object = _EXPIRE_TAKER,
        accepted: bool = True,
    ) -> list[Event]:
        """Place a limit order. GTX is post-only. ``accepted=False`` leaves the ``Accepted``
        event out, for a caller that announces its orders itself (the venue): its sequence
        number is still taken, so the other events are as they would be."""
        if type(order_id) is not int or type(owner) is not int:
            return self._reject_ids(order_id, owner)
        try:
            s = _SIDES.get(side)
        except TypeError:  # unhashable: no side
            s = None
        if s is None or (side is not s and type(side) is not int):  # True == 1.0 == 1: no side
            return self._reject(order_id, owner, RejectReason.INVALID_SIDE)
        if type(quantity) is not int or quantity <= 0:
            return self._reject(order_id, owner, RejectReason.INVALID_QUANTITY)
        if type(price) is not int or price <= 0:
            return self._reject(order_id, owner, RejectReason.INVALID_PRICE)
        try:
            t = _TIFS.get(tif)
        except TypeError:
            t = None
        if t is None or (tif is not t and type(tif) is not int):
            return self._reject(order_id, owner, RejectReason.INVALID_TIME_IN_FORCE)
        try:
            mode = _STPS.get(stp)
        except TypeError:
            mode = None
        if mode is None or (stp is not mode and type(stp) is not int):
            return self._reject(order_id, owner, RejectReason.INVALID_STP_MODE)
        if order_id in self._orders:
            return self._reject(order_id, owner, RejectReason.DUPLICATE_ORDER_ID)
        if s is _BUY:
            bound = price
            crosses = self._best_ask_key <= bound
        else:
            bound = -price
            crosses = self._best_bid_key <= bound
        if t is _GTX and crosses:
            return self._reject(order_id, owner, RejectReason.POST_ONLY_WOULD_TAKE)

        seq = self._seq + 1
        events: list[Event] = [
            new(Accepted, seq, order_id, owner, s, OrderType.LIMIT, t, price, quantity)
        ] if accepted else []
        if t is _FOK and not self._fillable(owner, s, bound, quantity, mode):
            seq += 1
            events.append(new(Expired, seq, order_id, owner, s, quantity, ExpireReason.FOK))
            self._seq = seq
            return events
        remaining = quantity
        status = _AT_BOUND
        if crosses:
            seq, remaining, status = self._match(events, seq, order_id, owner, s, remaining,
                                                 bound, mode)
        if remaining:
            if status == _SELF_TRADE:
                seq += 1
                events.append(new(Expired, seq, order_id, owner, s, remaining, ExpireReason.STP))
            elif t is _GTC or t is _GTX:
                seq = self._rest(events, seq, order_id, owner, s, price, quantity, remaining,
                                 t is _GTX, mode)
            else:
                reason = ExpireReason.IOC if t is _IOC else ExpireReason.FOK
                seq += 1
                events.append(new(Expired, seq, order_id, owner, s, remaining, reason))
        self._seq = seq
        return events

    def place_market(
        self,
        order_id: object,
        owner: object,
        side: object,
        quantity: object,
        protection_price: object = None,
        stp: object = _EXPIRE_TAKER,
        accepted: bool = True,
    ) -> list[Event]:
        """Place a market order: it sweeps the opposite side until filled, until the next
        level lies beyond ``protection_price`` (if given), or until the side is empty; the
        unfilled rest expires. It never rests. ``accepted`` as for ``place``."""
        if type(order_id) is not int or type(owner) is not int:
            return self._reject_ids(order_id, owner)
        try:
            s = _SIDES.get(side)
        except TypeError:  # unhashable: no side
            s = None
        if s is None or (side is not s and type(side) is not int):  # True == 1.0 == 1: no side
            return self._reject(order_id, owner, RejectReason.INVALID_SIDE)
        if type(quantity) is not int or quantity <= 0:
            return self._reject(order_id, owner, RejectReason.INVALID_QUANTITY)
        protection: int | None = None
        bound = _NO_BOUND
        if protection_price is not None:
            if type(protection_price) is not int or protection_price <= 0:
                return self._reject(order_id, owner, RejectReason.INVALID_PRICE)
            protection = protection_price
            bound = protection if s is _BUY else -protection
        try:
            mode = _STPS.get(stp)
        except TypeError:
            mode = None
        if mode is None or (stp is not mode and type(stp) is not int):
            return self._reject(order_id, owner, RejectReason.INVALID_STP_MODE)
        if order_id in self._orders:
            return self._reject(order_id, owner, RejectReason.DUPLICATE_ORDER_ID)

        seq = self._seq + 1
        events: list[Event] = [new(Accepted, seq, order_id, owner, s, OrderType.MARKET, _IOC,
                                   protection, quantity)] if accepted else []
        seq, remaining, status = self._match(events, seq, order_id, owner, s, quantity, bound,
                                             mode)
        if remaining:
            if status == _SELF_TRADE:
                reason = ExpireReason.STP
            elif status == _AT_BOUND:
                reason = ExpireReason.PROTECTION
            else:
                reason = ExpireReason.NO_LIQUIDITY
            seq += 1
            events.append(new(Expired, seq, order_id, owner, s, remaining, reason))
        self._seq = seq
        return events

    def cancel(self, order_id: object, owner: object) -> list[Event]:
        if type(order_id) is not int or type(owner) is not int:
            return self._reject_ids(order_id, owner)
        o = self._orders.get(order_id)
        if o is None or o.owner != owner:
            return self._reject(order_id, owner, RejectReason.UNKNOWN_ORDER)
        events: list[Event] = []
        self._seq = self._cancel(events, self._seq, o)
        return events

    def cancel_all(self, owner: object) -> list[Event]:
        """Cancel every resting order of ``owner``, in ascending order id. (It names no order:
        its rejection, for an owner that is not an int, carries order id 0.)"""
        if type(owner) is not int:
            return self._reject(0, owner, RejectReason.INVALID_OWNER)
        events: list[Event] = []
        seq = self._seq
        for o in self._owned(owner):
            seq = self._cancel(events, seq, o)
        self._seq = seq
        return events

    def amend(
        self,
        order_id: object,
        owner: object,
        price: object = None,
        quantity: object = None,
    ) -> list[Event]:
        """Change a resting order's price and/or total quantity.

        Quantity down at the same price keeps time priority; quantity up or a new price loses
        it. A new total at or below the filled quantity cancels the order; so does a new price
        at which a post-only order would take (both as Binance does). At a new price the order
        may trade at once, as a taker, with its own self-trade-prevention mode.
        """
        if type(order_id) is not int or type(owner) is not int:
            return self._reject_ids(order_id, owner)
        o = self._orders.get(order_id)
        if o is None or o.owner != owner:
            return self._reject(order_id, owner, RejectReason.UNKNOWN_ORDER)
        level = o.level
        old_price = level.price
        if quantity is None:
            new_quantity = o.quantity
        elif type(quantity) is int and quantity > 0:
            new_quantity = quantity
        else:
            return self._reject(order_id, owner, RejectReason.INVALID_QUANTITY)
        if price is None:
            new_price = old_price
        elif type(price) is int and price > 0:
            new_price = price
        else:
            return self._reject(order_id, owner, RejectReason.INVALID_PRICE)
        if new_price == old_price and new_quantity == o.quantity:
            return self._reject(order_id, owner, RejectReason.NO_CHANGE)

        events: list[Event] = []
        seq = self._seq
        side = level.side
        if side is _BUY:
            bound = new_price
            crosses = self._best_ask_key <= bound
        else:
            bound = -new_price
            crosses = self._best_bid_key <= bound
        filled = o.quantity - o.remaining
        if new_quantity <= filled or (o.post_only and crosses):
            self._seq = self._cancel(events, seq, o)
            return events

        if new_price == old_price:
            if new_quantity < o.quantity:
                cut = o.quantity - new_quantity
                o.quantity = new_quantity
                o.remaining -= cut
                level.total -= cut
                priority_kept = True
            else:
                # Quantity up: the order goes to the back of its level.
                self._drop(o)
                level.total -= o.remaining
                level.live -= 1
                o.remaining = 0
                o = self._add(order_id, owner, level, new_quantity, new_quantity - filled,
                              o.post_only, o.stp)
                self._maybe_compact(level)
                priority_kept = False
            seq += 1
            events.append(Amended(seq, order_id, owner, side, new_price, new_quantity,
                                  o.remaining, priority_kept))
            seq += 1
            events.append(new(LevelChanged, seq, side, new_price, level.total))
            self._seq = seq
            return events

        # New price: leave the old level, then behave as a fresh taker that keeps its fills.
        self._unlink(o)
        remaining = new_quantity - filled
        seq += 1
        events.append(Amended(seq, order_id, owner, side, new_price, new_quantity, remaining,
                              False))
        seq += 1
        events.append(new(LevelChanged, seq, side, old_price, level.total))
        status = _AT_BOUND
        if crosses:
            seq, remaining, status = self._match(events, seq, order_id, owner, side, remaining,
                                                 bound, o.stp)
        if remaining:
            if status == _SELF_TRADE:
                seq += 1
                events.append(new(Expired, seq, order_id, owner, side, remaining, ExpireReason.STP))
            else:
                seq = self._rest(events, seq, order_id, owner, side, new_price, new_quantity,
                                 remaining, o.post_only, o.stp)
        self._seq = seq
        return events

    # ------------------------------------------------------------------ internals

    def _reject(self, order_id: object, owner: object, reason: RejectReason) -> list[Event]:
        # The event echoes the order id and owner as given, whatever they are.
        return [Rejected(self._seq, order_id, owner, reason)]  # type: ignore[arg-type]

    def _reject_ids(self, order_id: object, owner: object) -> list[Event]:
        """The rejection of a command whose order id or owner is not an int."""
        reason = (RejectReason.INVALID_ORDER_ID if type(order_id) is not int
                  else RejectReason.INVALID_OWNER)
        return self._reject(order_id, owner, reason)

    def _owned(self, owner: int) -> list[_Order]:
        """The owner's resting orders in ascending order id."""
        mine = []
        o = self._owner_head.get(owner)
        while o is not None:
            mine.append(o)
            o = o.next_own
        mine.sort(key=_order_id)
        return mine

    def _add(
        self,
        order_id: int,
        owner: int,
        level: _Level,
        quantity: int,
        remaining: int,
        post_only: bool,
        stp: SelfTradePrevention,
    ) -> _Order:
        """Append a new resting order to the back of ``level`` and index it."""
        o = _Order(order_id, owner, level, quantity, remaining, post_only, stp)
        level.orders.append(o)
        level.total += remaining
        level.live += 1
        self._orders[order_id] = o
        head = self._owner_head.get(owner)
        if head is not None:
            o.next_own = head
            head.prev_own = o
        self._owner_head[owner] = o
        return o

    def _drop(self, o: _Order) -> None:
        """Forget a resting order's indexes (by id, by owner); its level is the caller's."""
        del self._orders[o.order_id]
        prev = o.prev_own
        nxt = o.next_own
        if prev is None:
            if nxt is None:
                del self._owner_head[o.owner]
            else:
                self._owner_head[o.owner] = nxt
                nxt.prev_own = None
        else:
            prev.next_own = nxt
            if nxt is not None:
                nxt.prev_own = prev
            o.prev_own = None
        o.next_own = None

    def _rest(
        self,
        events: list[Event],
        seq: int,
        order_id: int,
        owner: int,
        side: Side,
        price: int,
        quantity: int,
        remaining: int,
        post_only: bool,
        stp: SelfTradePrevention,
    ) -> int:
        if side is _BUY:
            key = -price
            level = self._bids.get(key)
            if level is None:
                level = self._bids[key] = _Level(side, key, price)
                if key < self._best_bid_key:
                    self._best_bid_key = key
        else:
            key = price
            level = self._asks.get(key)
            if level is None:
                level = self._asks[key] = _Level(side, key, price)
                if key < self._best_ask_key:
                    self._best_ask_key = key
        self._add(order_id, owner, level, quantity, remaining, post_only, stp)
        seq += 1
        events.append(new(LevelChanged, seq, side, price, level.total))
        return seq

    def _unlink(self, o: _Order) -> None:
        """Take a resting order off the book, leaving a dead entry in its level's deque."""
        self._drop(o)
        level = o.level
        level.total -= o.remaining
        level.live -= 1
        o.remaining = 0
        if not level.live:
            if level.side is _BUY:
                del self._bids[level.key]
            else:
                del self._asks[level.key]
            self._refresh_best(level.side)
        else:
            self._maybe_compact(level)

    def _cancel(self, events: list[Event], seq: int, o: _Order) -> int:
        quantity = o.remaining
        self._unlink(o)
        level = o.level
        seq += 1
        events.append(new(Canceled, seq, o.order_id, o.owner, level.side, level.price, quantity))
        seq += 1
        events.append(new(LevelChanged, seq, level.side, level.price, level.total))
        return seq

    def _refresh_best(self, side: Side) -> None:
        """The best key of one side again, after a level of it was dropped (a SortedDict's
        peekitem runs interpreted: the other side's key still holds)."""
        if side is _BUY:
            self._best_bid_key = self._bids.peekitem(0)[0] if self._bids else _EMPTY
        else:
            self._best_ask_key = self._asks.peekitem(0)[0] if self._asks else _EMPTY

    @staticmethod
    def _maybe_compact(level: _Level) -> None:
        if len(level.orders) > 2 * level.live + _COMPACT_SLACK:
            level.orders = deque(o for o in level.orders if o.remaining)

    def _fillable(
        self,
        owner: int,
        side: Side,
        bound: int,
        quantity: int,
        mode: SelfTradePrevention,
    ) -> bool:
        """Would a FOK taker fill whole? Walks the same path matching would take."""
        opp = self._asks if side is _BUY else self._bids
        need = quantity
        for key in opp:  # not opp.values(): see sweep_price
            level = opp[key]
            if level.key > bound:
                break
            if mode is _STP_NONE:
                need -= level.total
                if need <= 0:
                    return True
                continue
            for m in level.orders:
                if not m.remaining:
                    continue
                if m.owner == owner:
                    if mode is _EXPIRE_MAKER:
                        continue
                    return False
                need -= m.remaining
                if need <= 0:
                    return True
        return False

    def _match(
        self,
        events: list[Event],
        seq: int,
        order_id: int,
        owner: int,
        side: Side,
        remaining: int,
        bound: int,
        mode: SelfTradePrevention,
    ) -> tuple[int, int, int]:
        """Match a taker against the opposite side while its levels are within ``bound``.

        Returns the new seq, the taker's unfilled quantity and why matching stopped.
        """
        if side is _BUY:
            opp = self._asks
            opp_side = _SELL
        else:
            opp = self._bids
            opp_side = _BUY
        append = events.append
        drop = self._drop
        check_self = mode is not _STP_NONE
        while remaining:
            # The cached best key and the dict's own lookup, not the SortedDict's peekitem.
            key = self._best_ask_key if side is _BUY else self._best_bid_key
            if key == _EMPTY:
                return seq, remaining, _SIDE_EMPTY
            if key > bound:
                return seq, remaining, _AT_BOUND
            level = opp[key]
            price = level.price
            queue = level.orders
            before = level.total
            self_trade = False
            while remaining and queue:
                m = queue[0]
                available = m.remaining
                if not available:
                    queue.popleft()
                    continue
                if check_self and m.owner == owner:
                    if mode is _EXPIRE_TAKER:
                        self_trade = True
                        break
                    # EXPIRE_MAKER or EXPIRE_BOTH: the resting order goes.
                    queue.popleft()
                    drop(m)
                    m.remaining = 0
                    level.total -= available
                    level.live -= 1
                    seq += 1
                    append(new(Expired, seq, m.order_id, owner, opp_side, available,
                               ExpireReason.STP))
                    if mode is _EXPIRE_BOTH:
                        self_trade = True
                        break
                    continue
                if remaining < available:
                    fill = remaining
                    available -= fill
                    remaining = 0
                    m.remaining = available
                else:
                    fill = available
                    remaining -= fill
                    available = 0
                    m.remaining = 0
                    queue.popleft()
                    level.live -= 1
                    drop(m)
                level.total -= fill
                seq += 1
                append(new(Trade, seq, m.order_id, order_id, m.owner, owner, price, fill, side,
                           available, remaining))
            total = level.total
            if total != before:
                seq += 1
                append(new(LevelChanged, seq, opp_side, price, total))
            if not level.live:
                del opp[key]
                self._refresh_best(opp_side)
            if self_trade:
                return seq, remaining, _SELF_TRADE
        return seq, 0, _FILLED


def _order_id(o: _Order) -> int:
    return o.order_id
