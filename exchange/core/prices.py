"""Index, last and mark prices of one symbol (MECHANICS.md, "Prices").

``mark = median(P1, P2, last)`` where ``P1 = index x (1 + last funding rate x time to next
funding / interval)`` (the funding basis) and ``P2 = index + 5-minute moving average of
(mid - index)`` sampled once a second (300 samples); with no trade yet, ``mark = median(P1,
P2)``. The mark follows the index, so a thin or manipulated book cannot liquidate people.

All arithmetic is on integers: the mid is kept in half ticks, rounding is to the nearest tick
(halves away from zero, so the result never depends on the platform).
"""

from __future__ import annotations

from collections import deque
from typing import Final

BASIS_SAMPLES: Final = 300  # one a second for 5 minutes
RATE_SCALE: Final = 10**8  # funding rates are in units of 1e-8, as Binance prints them


def round_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero."""
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


class PriceState:
    __slots__ = ("basis", "basis_second", "basis_sum", "index", "last", "mark")

    def __init__(self) -> None:
        self.index: int | None = None
        self.last: int | None = None  # last trade price
        self.mark: int | None = None
        # (bid + ask - 2 x index) in half ticks, one sample per second, the newest last.
        self.basis: deque[int] = deque(maxlen=BASIS_SAMPLES)
        self.basis_sum = 0
        self.basis_second = -1  # the second of the newest sample

    def sample_basis(self, ts: int, best_bid: int | None, best_ask: int | None) -> None:
        """Take this second's sample of the mid's basis (once per second; none without a
        two-sided book)."""
        second = ts // 1000
        if second <= self.basis_second or self.index is None:
            return
        self.basis_second = second
        if best_bid is None or best_ask is None:
            return
        if len(self.basis) == BASIS_SAMPLES:
            self.basis_sum -= self.basis[0]
        sample = best_bid + best_ask - 2 * self.index
        self.basis.append(sample)
        self.basis_sum += sample

    def compute_mark(self, rate_e8: int, to_next_ms: int, interval_ms: int) -> int:
        """The mark from the current index, basis samples, last price and funding basis."""
        index = self.index
        assert index is not None
        p1 = index + round_div(index * rate_e8 * to_next_ms, RATE_SCALE * interval_ms)
        n = len(self.basis)
        p2 = index + round_div(self.basis_sum, 2 * n) if n else index
        if self.last is None:
            return max(1, round_div(p1 + p2, 2))
        return max(1, sorted((p1, p2, self.last))[1])
