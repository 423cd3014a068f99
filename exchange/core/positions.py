"""A position in one symbol (one-way mode), with the account's settings for that symbol and
the totals of its open orders there.

The cost basis is kept as an exact integer, ``entry_notional`` (atoms paid for the open size),
not as an average price: a reduce removes a proportional share of it (rounded down) and the last
close removes all that is left, so over a position's life the realized PnL is exactly what was
received minus what was paid, and no rounding creates money.
"""

from __future__ import annotations

from exchange.core.orders import MarginMode, Order


class Position:
    __slots__ = ("atpl", "buy_lots", "buy_notional", "entry_notional", "isolated_wallet",
                 "leverage", "mode", "orders", "realized_pnl", "reduce_buy_lots",
                 "reduce_sell_lots", "resting", "sell_lots", "sell_notional", "size", "symbol")

    def __init__(self, symbol: str, leverage: int, atoms_per_tick_lot: int) -> None:
        self.symbol = symbol
        self.atpl = atoms_per_tick_lot  # atoms of notional in one tick x one lot
        self.leverage = leverage
        self.mode = MarginMode.CROSS
        self.size = 0  # signed lots: > 0 long, < 0 short
        self.entry_notional = 0  # atoms paid for the open size (always >= 0)
        self.isolated_wallet = 0  # atoms; isolated mode only
        self.realized_pnl = 0  # atoms, cumulative, before fees
        # Open orders of this account in this symbol: resting ones and conditional ones.
        self.orders: dict[int, Order] = {}
        self.resting = 0  # how many of them rest on the book
        # Totals of resting orders that may grow the position (they reserve margin), notionals
        # in atoms at the orders' limit prices...
        self.buy_lots = 0
        self.buy_notional = 0
        self.sell_lots = 0
        self.sell_notional = 0
        # ...and of resting reduce-only orders (they reserve none).
        self.reduce_buy_lots = 0
        self.reduce_sell_lots = 0

    @property
    def side(self) -> int:
        return (self.size > 0) - (self.size < 0)

    def signed_cost(self) -> int:
        return self.entry_notional if self.size >= 0 else -self.entry_notional

    def unrealized_pnl(self, mark: int) -> int:
        return self.size * mark * self.atpl - self.signed_cost()

    def notional(self, mark: int) -> int:
        return abs(self.size) * mark * self.atpl

    def trade(self, side: int, price: int, quantity: int) -> tuple[int, int]:
        """Apply a fill of ``quantity`` lots bought (side +1) or sold (-1) at ``price``.

        Returns (realized PnL in atoms, lots closed). A fill larger than an opposite position
        closes it and opens the rest the other way (a flip).
        """
        size = self.size
        pnl = 0
        closed = 0
        if size and (size > 0) != (side > 0):
            held = abs(size)
            closed = min(quantity, held)
            removed = (self.entry_notional if closed == held
                       else self.entry_notional * closed // held)
            exit_notional = price * closed * self.atpl
            pnl = exit_notional - removed if size > 0 else removed - exit_notional
            self.entry_notional -= removed
            size += side * closed
            self.realized_pnl += pnl
        opened = quantity - closed
        if opened:
            size += side * opened
            self.entry_notional += price * opened * self.atpl
        self.size = size
        return pnl, closed
