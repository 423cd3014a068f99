"""Auto-deleveraging ranks (MECHANICS.md, "Liquidation" 6).

``rank = PnL% x effective leverage`` when PnL% > 0, else ``PnL% / effective leverage``, with
``PnL% = unrealized PnL / entry value`` and ``effective leverage = mark value / (mark value -
bankrupt value)`` = notional / the margin backing the position (its isolated wallet plus PnL,
or for cross the account's margin balance). The most profitable, most leveraged positions are
deleveraged first; each position's quintile of that order is shown to its owner as 1-5 lights.
Ranks are exact fractions, so the order never depends on rounding.
"""

from __future__ import annotations

from fractions import Fraction

from exchange.core.positions import Position

# A position whose backing margin is gone ranks as if infinitely leveraged.
_HUGE = Fraction(10**30)


def rank(pos: Position, mark: int, backing_margin: int) -> Fraction:
    entry = pos.entry_notional
    if not pos.size or entry == 0:
        return Fraction(0)
    pnl_pct = Fraction(pos.unrealized_pnl(mark), entry)
    notional = pos.notional(mark)
    leverage = Fraction(notional, backing_margin) if backing_margin > 0 else _HUGE
    return pnl_pct * leverage if pnl_pct > 0 else pnl_pct / leverage


def quantiles(ranked: list[tuple[Fraction, int]]) -> dict[int, int]:
    """Map account -> 1..5 from (rank, account) pairs of one side of one symbol: the top fifth
    by rank gets 5."""
    order = sorted(ranked)
    n = len(order)
    return {account: 1 + (5 * i) // n for i, (_, account) in enumerate(order)}
