"""A deliberately naive reference order book: the oracle of the stateful test.

Every resting order lives in one flat list, and every question ("which is the best ask?", "which
orders are at this level, in time priority?") is answered by filtering and sorting that list from
scratch. It is slow on purpose: with no indexes there is no cached state to go stale, so each rule
of the spec (matching/events.py and the test brief) reads as a few plain lines below. Do not
optimise it; its value is in being obviously right.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    VALID_SIDES,
    VALID_STPS,
    VALID_TIFS,
    ExpireReason,
    OrderInfo,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)


# eq=False: orders are removed from the list by identity, never by field equality.
@dataclass(eq=False)
class _Order:
    order_id: int
    owner: int
    side: Side
    price: int | None  # None only for a market order without protection, which never rests
    quantity: int  # total quantity, as amended
    filled: int
    post_only: bool
    stp: SelfTradePrevention
    arrival: int  # time priority: smaller arrived earlier

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    def info(self) -> OrderInfo:
        assert self.price is not None
        return OrderInfo(
            order_id=self.order_id,
            owner=self.owner,
            side=self.side,
            price=self.price,
            quantity=self.quantity,
            filled=self.filled,
            remaining=self.remaining,
            post_only=self.post_only,
            stp=self.stp,
        )


def _is_positive_int(value: object) -> bool:
    # type() rather than isinstance(): bools and int subclasses are not quantities or prices.
    return type(value) is int and value > 0


def _within_limit(taker_side: Side, limit: int | None, maker_price: int) -> bool:
    """Whether a taker with this limit may trade at maker_price (None: no limit)."""
    if limit is None:
        return True
    if taker_side == Side.BUY:
        return maker_price <= limit
    return maker_price >= limit


class ReferenceBook:
    def __init__(self) -> None:
        self.seq = 0
        self._orders: list[_Order] = []
        self._arrivals = 0

    # ---------------------------------------------------------------- small helpers

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _next_arrival(self) -> int:
        self._arrivals += 1
        return self._arrivals

    def _reject(self, order_id: int, owner: int, reason: RejectReason) -> list[Event]:
        return [Rejected(self.seq, order_id, owner, reason)]

    def _find(self, order_id: int) -> _Order | None:
        for order in self._orders:
            if order.order_id == order_id:
                return order
        return None

    def _side_orders(self, side: Side) -> list[_Order]:
        """All resting orders of one side in priority order: best price first, then arrival."""

        def priority(order: _Order) -> tuple[int, int]:
            assert order.price is not None
            return (-order.price if side == Side.BUY else order.price, order.arrival)

        return sorted((o for o in self._orders if o.side == side), key=priority)

    def _level_prices(self, side: Side) -> list[int]:
        prices: list[int] = []
        for order in self._side_orders(side):
            assert order.price is not None
            if order.price not in prices:
                prices.append(order.price)
        return prices

    def _level(self, side: Side, price: int) -> list[_Order]:
        return [o for o in self._side_orders(side) if o.price == price]

    def _level_total(self, side: Side, price: int) -> int:
        return sum(o.remaining for o in self._level(side, price))

    def _would_take(self, side: Side, price: int) -> bool:
        """Whether a post-only order at this price would cross the opposite best."""
        if side == Side.BUY:
            ask = self.best_ask()
            return ask is not None and ask <= price
        bid = self.best_bid()
        return bid is not None and bid >= price

    def _rest(self, order: _Order, events: list[Event]) -> None:
        assert order.price is not None
        order.arrival = self._next_arrival()
        self._orders.append(order)
        total = self._level_total(order.side, order.price)
        events.append(LevelChanged(self._next_seq(), order.side, order.price, total))

    def _cancel_resting(self, order: _Order) -> list[Event]:
        assert order.price is not None
        self._orders.remove(order)
        return [
            Canceled(
                self._next_seq(),
                order.order_id,
                order.owner,
                order.side,
                order.price,
                order.remaining,
            ),
            LevelChanged(
                self._next_seq(),
                order.side,
                order.price,
                self._level_total(order.side, order.price),
            ),
        ]

    # ---------------------------------------------------------------- matching

    def _fok_fillable(self, taker: _Order, limit: int) -> bool:
        walked = 0
        for maker in self._side_orders(Side(-taker.side)):
            assert maker.price is not None
            if not _within_limit(taker.side, limit, maker.price):
                break
            if maker.owner == taker.owner and taker.stp != SelfTradePrevention.NONE:
                if taker.stp == SelfTradePrevention.EXPIRE_MAKER:
                    continue
                break  # EXPIRE_TAKER / EXPIRE_BOTH: matching would stop here
            walked += maker.remaining
        return walked >= taker.quantity

    def _match(self, taker: _Order, limit: int | None, events: list[Event]) -> bool:
        """Match taker against the opposite side; True if STP expired the taker."""
        opposite = Side(-taker.side)
        while taker.remaining > 0:
            reachable = [
                p for p in self._level_prices(opposite) if _within_limit(taker.side, limit, p)
            ]
            if not reachable:
                return False
            price = reachable[0]
            total_before = self._level_total(opposite, price)
            taker_stopped = False
            for maker in self._level(opposite, price):
                if taker.remaining == 0:
                    break
                if maker.owner == taker.owner and taker.stp != SelfTradePrevention.NONE:
                    if taker.stp in (
                        SelfTradePrevention.EXPIRE_MAKER,
                        SelfTradePrevention.EXPIRE_BOTH,
                    ):
                        self._orders.remove(maker)
                        events.append(
                            Expired(
                                self._next_seq(),
                                maker.order_id,
                                maker.owner,
                                maker.side,
                                maker.remaining,
                                ExpireReason.STP,
                            )
                        )
                    if taker.stp in (
                        SelfTradePrevention.EXPIRE_TAKER,
                        SelfTradePrevention.EXPIRE_BOTH,
                    ):
                        taker_stopped = True
                        break
                    continue
                quantity = min(taker.remaining, maker.remaining)
                maker.filled += quantity
                taker.filled += quantity
                events.append(
                    Trade(
                        seq=self._next_seq(),
                        maker_order_id=maker.order_id,
                        taker_order_id=taker.order_id,
                        maker_owner=maker.owner,
                        taker_owner=taker.owner,
                        price=price,
                        quantity=quantity,
                        aggressor=taker.side,
                        maker_remaining=maker.remaining,
                        taker_remaining=taker.remaining,
                    )
                )
                if maker.remaining == 0:
                    self._orders.remove(maker)
            total_after = self._level_total(opposite, price)
            if total_after != total_before:
                events.append(LevelChanged(self._next_seq(), opposite, price, total_after))
            if taker_stopped:
                events.append(
                    Expired(
                        self._next_seq(),
                        taker.order_id,
                        taker.owner,
                        taker.side,
                        taker.remaining,
                        ExpireReason.STP,
                    )
                )
                return True
        return False

    # ---------------------------------------------------------------- commands

    def place(
        self,
        order_id: int,
        owner: int,
        side: Side,
        price: int,
        quantity: int,
        tif: TimeInForce = TimeInForce.GTC,
        stp: SelfTradePrevention = SelfTradePrevention.EXPIRE_TAKER,
    ) -> list[Event]:
        if side not in VALID_SIDES:
            return self._reject(order_id, owner, RejectReason.INVALID_SIDE)
        if not _is_positive_int(quantity):
            return self._reject(order_id, owner, RejectReason.INVALID_QUANTITY)
        if not _is_positive_int(price):
            return self._reject(order_id, owner, RejectReason.INVALID_PRICE)
        if tif not in VALID_TIFS:
            return self._reject(order_id, owner, RejectReason.INVALID_TIME_IN_FORCE)
        if stp not in VALID_STPS:
            return self._reject(order_id, owner, RejectReason.INVALID_STP_MODE)
        if self._find(order_id) is not None:
            return self._reject(order_id, owner, RejectReason.DUPLICATE_ORDER_ID)
        side, tif, stp = Side(side), TimeInForce(tif), SelfTradePrevention(stp)
        if tif == TimeInForce.GTX and self._would_take(side, price):
            return self._reject(order_id, owner, RejectReason.POST_ONLY_WOULD_TAKE)

        events: list[Event] = [
            Accepted(self._next_seq(), order_id, owner, side, OrderType.LIMIT, tif, price, quantity)
        ]
        taker = _Order(
            order_id,
            owner,
            side,
            price,
            quantity,
            filled=0,
            post_only=tif == TimeInForce.GTX,
            stp=stp,
            arrival=0,
        )
        if tif == TimeInForce.FOK and not self._fok_fillable(taker, price):
            events.append(
                Expired(self._next_seq(), order_id, owner, side, quantity, ExpireReason.FOK)
            )
            return events
        if self._match(taker, price, events) or taker.remaining == 0:
            return events
        if tif in (TimeInForce.GTC, TimeInForce.GTX):
            self._rest(taker, events)
        else:  # IOC, and a fillable FOK "matches like IOC"
            events.append(
                Expired(self._next_seq(), order_id, owner, side, taker.remaining, ExpireReason.IOC)
            )
        return events

    def place_market(
        self,
        order_id: int,
        owner: int,
        side: Side,
        quantity: int,
        protection_price: int | None = None,
        stp: SelfTradePrevention = SelfTradePrevention.EXPIRE_TAKER,
    ) -> list[Event]:
        if side not in VALID_SIDES:
            return self._reject(order_id, owner, RejectReason.INVALID_SIDE)
        if not _is_positive_int(quantity):
            return self._reject(order_id, owner, RejectReason.INVALID_QUANTITY)
        if protection_price is not None and not _is_positive_int(protection_price):
            return self._reject(order_id, owner, RejectReason.INVALID_PRICE)
        if stp not in VALID_STPS:
            return self._reject(order_id, owner, RejectReason.INVALID_STP_MODE)
        if self._find(order_id) is not None:
            return self._reject(order_id, owner, RejectReason.DUPLICATE_ORDER_ID)
        side, stp = Side(side), SelfTradePrevention(stp)

        events: list[Event] = [
            Accepted(
                self._next_seq(),
                order_id,
                owner,
                side,
                OrderType.MARKET,
                TimeInForce.IOC,
                protection_price,
                quantity,
            )
        ]
        taker = _Order(
            order_id,
            owner,
            side,
            protection_price,
            quantity,
            filled=0,
            post_only=False,
            stp=stp,
            arrival=0,
        )
        if self._match(taker, protection_price, events) or taker.remaining == 0:
            return events
        # Matching stopped with quantity left, so any opposite level left is beyond protection.
        reason = (
            ExpireReason.PROTECTION
            if self._level_prices(Side(-side))
            else ExpireReason.NO_LIQUIDITY
        )
        events.append(Expired(self._next_seq(), order_id, owner, side, taker.remaining, reason))
        return events

    def cancel(self, order_id: int, owner: int) -> list[Event]:
        order = self._find(order_id)
        if order is None or order.owner != owner:
            return self._reject(order_id, owner, RejectReason.UNKNOWN_ORDER)
        return self._cancel_resting(order)

    def amend(
        self,
        order_id: int,
        owner: int,
        price: int | None = None,
        quantity: int | None = None,
    ) -> list[Event]:
        order = self._find(order_id)
        if order is None or order.owner != owner:
            return self._reject(order_id, owner, RejectReason.UNKNOWN_ORDER)
        if quantity is not None and not _is_positive_int(quantity):
            return self._reject(order_id, owner, RejectReason.INVALID_QUANTITY)
        if price is not None and not _is_positive_int(price):
            return self._reject(order_id, owner, RejectReason.INVALID_PRICE)
        assert order.price is not None
        old_price = order.price
        new_price = old_price if price is None else price
        new_quantity = order.quantity if quantity is None else quantity
        if new_price == old_price and new_quantity == order.quantity:
            return self._reject(order_id, owner, RejectReason.NO_CHANGE)

        if new_quantity <= order.filled:
            return self._cancel_resting(order)

        if new_price == old_price:
            priority_kept = new_quantity < order.quantity
            order.quantity = new_quantity
            if not priority_kept:
                order.arrival = self._next_arrival()  # back of its level
            return [
                Amended(
                    self._next_seq(),
                    order_id,
                    owner,
                    order.side,
                    old_price,
                    new_quantity,
                    order.remaining,
                    priority_kept,
                ),
                LevelChanged(
                    self._next_seq(),
                    order.side,
                    old_price,
                    self._level_total(order.side, old_price),
                ),
            ]

        if order.post_only and self._would_take(order.side, new_price):
            return self._cancel_resting(order)

        self._orders.remove(order)
        order.price = new_price
        order.quantity = new_quantity
        events: list[Event] = [
            Amended(
                self._next_seq(),
                order_id,
                owner,
                order.side,
                new_price,
                new_quantity,
                order.remaining,
                False,
            ),
            LevelChanged(
                self._next_seq(),
                order.side,
                old_price,
                self._level_total(order.side, old_price),
            ),
        ]
        if self._match(order, new_price, events) or order.remaining == 0:
            return events
        self._rest(order, events)
        return events

    def cancel_all(self, owner: int) -> list[Event]:
        events: list[Event] = []
        for order in sorted(
            (o for o in self._orders if o.owner == owner), key=lambda o: o.order_id
        ):
            events.extend(self._cancel_resting(order))
        return events

    # ---------------------------------------------------------------- queries

    def best_bid(self) -> int | None:
        prices = self._level_prices(Side.BUY)
        return prices[0] if prices else None

    def best_ask(self) -> int | None:
        prices = self._level_prices(Side.SELL)
        return prices[0] if prices else None

    def depth(self, levels: int) -> L2Snapshot:
        bids = [(p, self._level_total(Side.BUY, p)) for p in self._level_prices(Side.BUY)]
        asks = [(p, self._level_total(Side.SELL, p)) for p in self._level_prices(Side.SELL)]
        return L2Snapshot(self.seq, bids[:levels], asks[:levels])

    def order(self, order_id: int) -> OrderInfo | None:
        found = self._find(order_id)
        return None if found is None else found.info()

    def open_orders(self, owner: int) -> list[OrderInfo]:
        mine = sorted((o for o in self._orders if o.owner == owner), key=lambda o: o.order_id)
        return [o.info() for o in mine]

    def level_orders(self, side: Side, price: int) -> list[OrderInfo]:
        return [o.info() for o in self._level(side, price)]
