"""A local L2 order book, built from a REST snapshot and kept current by depth deltas.

``StreamClient.order_book(symbol)`` makes one and keeps it in sync (see there for how gaps
are found and repaired); this class is the data structure: levels by price, best first.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal

from clients.models import BookChanged, DepthSnapshot, PriceLevel, Side

_ZERO = Decimal(0)


class OrderBook:
    """Price levels of one symbol. ``seq`` is the book sequence number it reflects: the
    snapshot's, then each applied delta's ``book_seq``.

    ``synced`` is False while (re)building from a snapshot: reads then give the last state.
    ``resyncs`` counts rebuilds from a snapshot (the first one included), ``gaps`` the times
    the stream was found inconsistent (a sequence number going back, or a verification that
    found the book different from a fresh snapshot)."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.seq = 0
        self.snapshot_seq = 0
        self.synced = False
        self.resyncs = 0
        self.gaps = 0
        self.truncated = (False, False)  # the snapshot held only the top levels (bids, asks)
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._bid_prices: list[Decimal] = []  # ascending: best bid last
        self._ask_prices: list[Decimal] = []  # ascending: best ask first
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------- reading

    def bids(self, depth: int | None = None) -> list[PriceLevel]:
        """Bid levels, best (highest) first."""
        prices = self._bid_prices if depth is None else self._bid_prices[-depth:]
        return [PriceLevel(p, self._bids[p]) for p in reversed(prices)]

    def asks(self, depth: int | None = None) -> list[PriceLevel]:
        """Ask levels, best (lowest) first."""
        prices = self._ask_prices if depth is None else self._ask_prices[:depth]
        return [PriceLevel(p, self._asks[p]) for p in prices]

    def best_bid(self) -> PriceLevel | None:
        if not self._bid_prices:
            return None
        p = self._bid_prices[-1]
        return PriceLevel(p, self._bids[p])

    def best_ask(self) -> PriceLevel | None:
        if not self._ask_prices:
            return None
        p = self._ask_prices[0]
        return PriceLevel(p, self._asks[p])

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid.price + ask.price) / 2

    def spread(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return ask.price - bid.price

    def quantity_at(self, side: Side, price: Decimal) -> Decimal:
        levels = self._bids if side is Side.BUY else self._asks
        return levels.get(price, _ZERO)

    def levels(self) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
        """Copies of every level: (bids, asks), price -> quantity."""
        return dict(self._bids), dict(self._asks)

    async def wait_update(self, timeout: float | None = None) -> bool:
        """Wait for the next change (delta or resync); False on timeout."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def __repr__(self) -> str:
        return (f"OrderBook({self.symbol}, seq={self.seq}, bid={self.best_bid()}, "
                f"ask={self.best_ask()}, synced={self.synced})")

    # ------------------------------------------------------------------- writing

    def _set(self, side: Side, price: Decimal, quantity: Decimal) -> None:
        levels, prices = ((self._bids, self._bid_prices) if side is Side.BUY
                          else (self._asks, self._ask_prices))
        if quantity > 0:
            if price not in levels:
                insort(prices, price)
            levels[price] = quantity
        elif price in levels:
            del levels[price]
            del prices[bisect_left(prices, price)]

    def apply(self, delta: BookChanged) -> None:
        """Apply one delta (no sequence checks: the syncing code does those)."""
        self._set(delta.side, delta.price, delta.total)
        self.seq = delta.book_seq
        self._changed.set()

    def load(self, snapshot: DepthSnapshot, limit: int) -> None:
        """Replace everything with ``snapshot`` (taken with ``limit`` levels a side)."""
        self._bids = {lvl.price: lvl.quantity for lvl in snapshot.bids if lvl.quantity > 0}
        self._asks = {lvl.price: lvl.quantity for lvl in snapshot.asks if lvl.quantity > 0}
        self._bid_prices = sorted(self._bids)
        self._ask_prices = sorted(self._asks)
        self.seq = self.snapshot_seq = snapshot.seq
        self.truncated = (len(snapshot.bids) >= limit, len(snapshot.asks) >= limit)
        self._changed.set()

    def copy_from(self, other: OrderBook) -> None:
        self._bids, self._asks = dict(other._bids), dict(other._asks)
        self._bid_prices, self._ask_prices = list(other._bid_prices), list(other._ask_prices)
        self.seq, self.snapshot_seq = other.seq, other.snapshot_seq
        self.truncated = other.truncated
        self._changed.set()

    def same_as(self, other: OrderBook) -> bool:
        """Equal levels, within the price range ``other``'s snapshot covered (a truncated
        snapshot says nothing about levels beyond its last)."""
        return (_same(self._bids, other._bids, other._bid_prices, other.truncated[0], True)
                and _same(self._asks, other._asks, other._ask_prices, other.truncated[1],
                          False))


def _same(mine: dict[Decimal, Decimal], theirs: dict[Decimal, Decimal],
          their_prices: Iterable[Decimal], truncated: bool, bids: bool) -> bool:
    if not truncated:
        return mine == theirs
    prices = list(their_prices)
    if not prices:
        return not mine
    edge = prices[0] if bids else prices[-1]  # the worst level the snapshot holds

    def inside(p: Decimal) -> bool:
        return p >= edge if bids else p <= edge

    return ({p: q for p, q in mine.items() if inside(p)}
            == {p: q for p, q in theirs.items() if inside(p)})
