"""Funding (MECHANICS.md, "Funding"): premium samples, the rate, and zero-sum payments.

- Premium, sampled on a fixed cadence: ``(max(0, impact_bid - index) - max(0, index -
  impact_ask)) / index``, where the impact prices are the average fill prices of a market
  order of the impact notional (200 USDT x the first tier's max leverage). A side too thin to
  fill it contributes nothing.
- Average premium over the interval, time-weighted: sample i of n weighs i.
- Rate: ``F = avg + clamp(interest - avg, -0.05%, +0.05%)``, then capped at the instrument's
  cap. Rates are integers in units of 1e-8.
- Payment at the funding time, for positions open at that instant: ``size x mark x F``; longs
  pay shorts when F > 0, shorts pay longs when F < 0.

Rounding rule, stated because it must create no money: each payer pays its exact amount
rounded down to the atom; what the payers paid in total is shared among the receivers in
proportion to their sizes, each rounded down, and the atoms left over (fewer than there are
receivers) go one each to the receivers with the largest remainders (ties: lower account id).
Receivers get exactly what payers paid; the venue keeps nothing.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from exchange.core.native import mypyc_attr
from exchange.core.prices import RATE_SCALE

CLAMP_E8: Final = 50_000  # 0.05%
PPM_TO_E8: Final = 100


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)  # see native.py
class FundingState:
    __slots__ = ("interval_ms", "next_sample", "next_time", "rate_e8", "sample_ms", "samples")

    def __init__(self, interval_ms: int, interest_e8: int) -> None:
        self.interval_ms = interval_ms
        # Binance samples the premium every 5 s; short classroom intervals sample more often
        # so that every interval has several samples.
        self.sample_ms = max(1, min(5_000, interval_ms // 8))
        self.next_time: int | None = None  # set by the first time the venue sees
        self.next_sample: int | None = None
        self.rate_e8 = interest_e8  # the last settled rate (a quiet book's rate to start)
        self.samples: list[int] = []  # premiums (1e-8) of the current interval, oldest first

    def start(self, ts: int) -> None:
        """Align the schedule to the epoch: 8 h intervals fall at 00:00, 08:00, 16:00 UTC."""
        self.next_time = (ts // self.interval_ms + 1) * self.interval_ms
        self.next_sample = (ts // self.sample_ms + 1) * self.sample_ms


def impact_price(levels: list[tuple[int, int]], notional: int,
                 atoms_per_tick_lot: int) -> Fraction | None:
    """Average fill price (ticks) of a market order of ``notional`` atoms walking ``levels``
    (price, lots) best first; None if they are too thin."""
    left = notional
    lots = Fraction(0)
    for price, total in levels:
        level_notional = price * total * atoms_per_tick_lot
        if level_notional >= left:
            lots += Fraction(left, price * atoms_per_tick_lot)
            return Fraction(notional) / (lots * atoms_per_tick_lot)
        left -= level_notional
        lots += total
    return None


def premium_e8(index: int, impact_bid: Fraction | None, impact_ask: Fraction | None) -> int:
    up = max(Fraction(0), impact_bid - index) if impact_bid is not None else Fraction(0)
    down = max(Fraction(0), index - impact_ask) if impact_ask is not None else Fraction(0)
    return int((up - down) * RATE_SCALE / index)  # int() truncates toward zero


def funding_rate_e8(samples: list[int], interest_e8: int, cap_e8: int) -> int:
    """The rate from the interval's premium samples (weights 1..n)."""
    if samples:
        weights = len(samples) * (len(samples) + 1) // 2
        weighted = sum(i * p for i, p in enumerate(samples, start=1))
        avg = int(Fraction(weighted, weights))
    else:
        avg = 0
    rate = avg + max(-CLAMP_E8, min(CLAMP_E8, interest_e8 - avg))
    return max(-cap_e8, min(cap_e8, rate))


def payments(positions: list[tuple[int, int]], mark: int, atoms_per_tick_lot: int,
             rate_e8: int) -> dict[int, int]:
    """Funding amounts by account for ``positions`` of (account, signed size): negative paid,
    positive received; they sum to zero exactly (see the module's rounding rule)."""
    if rate_e8 == 0 or not positions:
        return {}
    payer_sign = 1 if rate_e8 > 0 else -1  # longs pay when the rate is positive
    out: dict[int, int] = {}
    paid = 0
    receivers: list[tuple[int, int]] = []
    for account, size in positions:
        if (size > 0) == (payer_sign > 0):
            amount = abs(size) * mark * atoms_per_tick_lot * abs(rate_e8) // RATE_SCALE
            out[account] = -amount
            paid += amount
        else:
            receivers.append((account, abs(size)))
    total_size = sum(size for _, size in receivers)
    if not receivers or total_size == 0:
        # Nobody on the other side (cannot happen while sizes net to zero): nobody pays.
        return {}
    shares = []
    given = 0
    for account, size in receivers:
        share, remainder = divmod(paid * size, total_size)
        shares.append((remainder, account, share))
        given += share
    left = paid - given
    shares.sort(key=lambda s: (-s[0], s[1]))
    for i, (_, account, share) in enumerate(shares):
        out[account] = share + (1 if i < left else 0)
    return out


def e8_to_str(rate_e8: int) -> str:
    sign = "-" if rate_e8 < 0 else ""
    whole, frac = divmod(abs(rate_e8), RATE_SCALE)
    return f"{sign}{whole}.{frac:08d}"

