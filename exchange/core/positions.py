"""A position in one symbol (one-way mode), with the account's settings for that symbol and
the totals of its open orders there.

The cost basis is kept as an exact integer, ``entry_notional`` (atoms paid for the open size),
not as an average price: a reduce removes a proportional share of it (rounded down) and the last
close removes all that is left, so over a position's life the realized PnL is exactly what was
received minus what was paid, and no rounding creates money.
"""

from __future__ import annotations

from exchange.core.native import mypyc_attr
from exchange.core.orders import MarginMode, Order


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)  # see native.py
class Position:
    __slots__ = ("atpl", "buy_lots", "buy_notional", "entry_notional", "isolated_wallet",
                 "leverage", "mode", "order_im", "orders", "realized_pnl", "reduce_buy_lots",
                 "reduce_sell_lots", "resting", "sell_lots", "sell_notional", "size", "symbol",
                 "warned")

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
        # The initial margin the resting orders reserve, kept current by every change of the
        # totals above, of the size and of the leverage (margin checks read it often).
        self.order_im = 0
        self.warned = False  # isolated: a margin call went out for this position

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
        if self.buy_lots or self.sell_lots:
            self.order_im = self.order_margin_with()
        return pnl, closed

    def set_leverage(self, leverage: int) -> None:
        self.leverage = leverage
        self.order_im = self.order_margin_with()

    def reserve(self, side: int, price: int, lots: int, reduce_only: bool, sign: int) -> None:
        """Add (sign 1) or remove (-1) resting lots to the order totals."""
        if reduce_only:
            if side > 0:
                self.reduce_buy_lots += sign * lots
            else:
                self.reduce_sell_lots += sign * lots
            # Reduce-only lots change how much of the other orders counts as closing.
        elif side > 0:
            self.buy_lots += sign * lots
            self.buy_notional += sign * lots * price * self.atpl
        else:
            self.sell_lots += sign * lots
            self.sell_notional += sign * lots * price * self.atpl
        self.order_im = self.order_margin_with()

    def order_margin_with(self, side: int = 0, lots: int = 0, notional: int = 0) -> int:
        """Initial margin the resting orders reserve, with an extra (non-reduce-only) order of
        ``lots`` on ``side`` costing ``notional`` atoms if one is given.

        Buy and sell orders offset in one-way mode, so the larger side counts:
        ``ceil(max(opening buy notional, opening sell notional) / leverage)``. The opening part
        of the buys is what is left after they would close the short position (net of the
        reduce-only buys already set to close it), priced at the buys' average limit price;
        likewise for the sells.
        """
        buy_lots, buy_notional = self.buy_lots, self.buy_notional
        sell_lots, sell_notional = self.sell_lots, self.sell_notional
        if side > 0:
            buy_lots += lots
            buy_notional += notional
        elif side < 0:
            sell_lots += lots
            sell_notional += notional
        size = self.size
        buy = sell = 0
        if buy_lots:
            opening = buy_lots - max(0, -size - self.reduce_buy_lots)
            if opening > 0:
                buy = -(-buy_notional * opening // buy_lots)
        if sell_lots:
            opening = sell_lots - max(0, size - self.reduce_sell_lots)
            if opening > 0:
                sell = -(-sell_notional * opening // sell_lots)
        return -(-max(buy, sell) // self.leverage)

    def worst_case_lots(self, side: int = 0, lots: int = 0) -> int:
        """The largest position (lots) the resting orders, and an extra order of ``lots`` on
        ``side`` if given, could build if all of them filled."""
        buy_lots = self.buy_lots + (lots if side > 0 else 0)
        sell_lots = self.sell_lots + (lots if side < 0 else 0)
        # Two-argument max: the compiled build calls the builtin for three.
        return max(max(self.size + buy_lots, sell_lots - self.size), 0)
