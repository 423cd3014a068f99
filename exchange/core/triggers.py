"""Conditional orders waiting for their trigger, indexed so that a price update finds the ones
it fires without scanning the rest.

Per symbol and per working type (mark or last price):
- ``_up``: orders that fire when the price rises to their stop (STOP buys, TAKE_PROFIT sells);
- ``_down``: orders that fire when it falls to their stop (STOP sells, TAKE_PROFIT buys);
- trailing stops, which move with the price and are checked one by one (there are few).
"""

from __future__ import annotations

from typing import Final

from sortedcontainers import SortedList

from exchange.core.orders import Order, OrderType, WorkingType
from exchange.core.units import PPM
from matching import Side

_STOPS: Final = frozenset({OrderType.STOP, OrderType.STOP_MARKET})


def fires_upward(order: Order) -> bool:
    """True if the order fires when the price rises to its stop price."""
    is_stop = order.order_type in _STOPS
    return is_stop == (order.side is Side.BUY)


def would_fire(order: Order, price: int) -> bool:
    """Would a stop/take-profit order fire at ``price``? (Not for trailing stops.)"""
    assert order.stop_price is not None
    return price >= order.stop_price if fires_upward(order) else price <= order.stop_price


class _Index:
    __slots__ = ("down", "trailing", "up")

    def __init__(self) -> None:
        self.up: SortedList[tuple[int, int]] = SortedList()  # (stop price, order id)
        self.down: SortedList[tuple[int, int]] = SortedList()
        self.trailing: dict[int, Order] = {}


class Triggers:
    """The waiting conditional orders of one symbol."""

    def __init__(self) -> None:
        self._by_type = {w: _Index() for w in WorkingType}

    def __len__(self) -> int:
        return sum(len(i.up) + len(i.down) + len(i.trailing) for i in self._by_type.values())

    def add(self, order: Order, price: int) -> None:
        """Start watching ``order``; ``price`` is the current price of its working type."""
        index = self._by_type[order.working_type]
        if order.order_type is OrderType.TRAILING_STOP_MARKET:
            if order.activation_price is None:
                order.extreme = price
            index.trailing[order.order_id] = order
        elif fires_upward(order):
            assert order.stop_price is not None
            index.up.add((order.stop_price, order.order_id))
        else:
            assert order.stop_price is not None
            index.down.add((order.stop_price, order.order_id))

    def remove(self, order: Order) -> None:
        index = self._by_type[order.working_type]
        if order.order_type is OrderType.TRAILING_STOP_MARKET:
            del index.trailing[order.order_id]
        else:
            assert order.stop_price is not None
            key = (order.stop_price, order.order_id)
            (index.up if fires_upward(order) else index.down).remove(key)

    def fired(self, working_type: WorkingType, price: int,
              orders: dict[int, Order]) -> list[Order]:
        """Take out and return the orders that ``price`` fires, in order id order. Trailing
        stops that do not fire update their extreme (and activate) here."""
        index = self._by_type[working_type]
        ids: list[int] = []
        up = index.up
        while up and up[0][0] <= price:
            ids.append(up.pop(0)[1])
        down = index.down
        while down and down[-1][0] >= price:
            ids.append(down.pop()[1])
        for order_id, order in list(index.trailing.items()):
            if _trail(order, price):
                del index.trailing[order_id]
                ids.append(order_id)
        ids.sort()
        return [orders[i] for i in ids]


def _trail(order: Order, price: int) -> bool:
    """Advance a trailing stop with a new price; True if it fires.

    A sell trailing stop (protecting a long) tracks the highest price since activation and
    fires when the price falls ``callback`` below it; a buy one mirrors it.
    """
    assert order.callback_ppm is not None
    sell = order.side is Side.SELL
    if order.extreme is None:
        activation = order.activation_price
        assert activation is not None
        if (price >= activation) if sell else (price <= activation):
            order.extreme = price
        return False
    if sell:
        if price > order.extreme:
            order.extreme = price
            return False
        return price * PPM <= order.extreme * (PPM - order.callback_ppm)
    if price < order.extreme:
        order.extreme = price
        return False
    return price * PPM >= order.extreme * (PPM + order.callback_ppm)
