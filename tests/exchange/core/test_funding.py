"""Funding: the rate from premium samples, clamp and cap, payment signs, zero-sum payments."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from exchange.config import load_instruments
from exchange.core import funding
from exchange.core.commands import CreateAccount, Deposit, PlaceOrder, SetIndexPrice, Tick
from exchange.core.events import FundingPaid, FundingSettled
from exchange.core.orders import OrderType
from exchange.core.venue import Venue
from matching import Side

USDT = 10**8
E8 = 10**8
INTEREST = 10_000  # 0.01% in 1e-8
CAP = 300_000  # 0.30%


def test_a_quiet_book_pays_the_interest_rate() -> None:
    assert funding.funding_rate_e8([], INTEREST, CAP) == INTEREST
    assert funding.funding_rate_e8([0, 0, 0], INTEREST, CAP) == INTEREST


def test_premium_within_the_clamp_gives_the_interest_rate() -> None:
    # avg 0.03%: F = 0.03% + clamp(0.01% - 0.03%, -0.05%, 0.05%) = 0.01%
    assert funding.funding_rate_e8([30_000] * 4, INTEREST, CAP) == INTEREST


def test_premium_beyond_the_clamp() -> None:
    # avg 0.10%: F = 0.10% - 0.05% = 0.05%; avg -0.10%: F = -0.10% + 0.05% = -0.05%
    assert funding.funding_rate_e8([100_000] * 3, INTEREST, CAP) == 50_000
    assert funding.funding_rate_e8([-100_000] * 3, INTEREST, CAP) == -50_000


def test_the_cap_bounds_the_rate() -> None:
    assert funding.funding_rate_e8([1_000_000], INTEREST, CAP) == CAP
    assert funding.funding_rate_e8([-1_000_000], INTEREST, CAP) == -CAP


def test_later_samples_weigh_more() -> None:
    # weights 1, 2, 3: (0 + 0 + 3 x 600,000) / 6 = 300,000 -> F = 300,000 - 50,000, capped
    assert funding.funding_rate_e8([0, 0, 600_000], INTEREST, 10**8) == 250_000
    assert funding.funding_rate_e8([600_000, 0, 0], INTEREST, 10**8) == 50_000


def test_premium_from_impact_prices() -> None:
    # Bids 10 lots at 101 and 10 at 100 (1 atom per tick-lot); impact notional 1,500:
    # 1,010 at 101 then 490 at 100 (4.9 lots): 1,500 / 14.9 = 100.67...
    bid = funding.impact_price([(101, 10), (100, 10)], 1_500, 1)
    assert bid == Fraction(1_500) / (10 + Fraction(49, 10))
    assert funding.impact_price([(101, 10)], 1_500, 1) is None  # too thin
    # index 100: premium = (bid - 100)/100
    assert funding.premium_e8(100, bid, None) == int((bid - 100) * E8 / 100)
    assert funding.premium_e8(100, Fraction(99), Fraction(99)) == -E8 // 100


def test_payment_signs() -> None:
    # Positive rate: longs pay shorts. 2 lots long, 2 lots short, mark 50,000, 1 atom/tick-lot.
    paid = funding.payments([(1, 2), (2, -2)], 50_000, 1, 10_000)
    assert paid == {1: -10, 2: 10}
    paid = funding.payments([(1, 2), (2, -2)], 50_000, 1, -10_000)
    assert paid == {1: 10, 2: -10}


@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=12),
       st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=12),
       st.integers(min_value=1, max_value=10**7), st.integers(min_value=1, max_value=10**4),
       st.integers(min_value=-CAP, max_value=CAP))
def test_payments_sum_to_zero_exactly(longs: list[int], shorts: list[int], mark: int,
                                      atpl: int, rate: int) -> None:
    # Make the two sides net to zero, as open positions always do.
    total_long, total_short = sum(longs), sum(shorts)
    if total_long > total_short:
        shorts = [*shorts, total_long - total_short]
    elif total_short > total_long:
        longs = [*longs, total_short - total_long]
    positions = [(i, s) for i, s in enumerate(longs)]
    positions += [(100 + i, -s) for i, s in enumerate(shorts)]
    paid = funding.payments(positions, mark, atpl, rate)
    assert sum(paid.values()) == 0
    payers = sum(1 for _, size in positions if (size > 0) == (rate > 0))
    for account, size in positions:
        exact = -Fraction(size * mark * atpl * rate, E8)  # what it should get (paid: < 0)
        amount = paid.get(account, 0)
        if exact < 0:
            assert exact <= amount < exact + 1  # a payer pays its exact amount rounded down
        else:
            # A receiver gets its share of what was paid: never more than exact (plus the
            # leftover atom), never less by more than the payers' rounding.
            assert exact - payers - 1 < amount <= exact + 1


def short_interval_venue() -> Venue:
    instruments = {s: dataclasses.replace(i, funding_interval_ms=60_000)
                   for s, i in load_instruments().items()}
    return Venue(instruments)


def test_funding_is_paid_at_the_interval_through_the_venue() -> None:
    venue = short_interval_venue()
    btc = "BTCUSDT"
    t = 1_700_000_080_000  # 20 s before a whole minute, when funding falls
    for account in (1, 2):
        venue.apply(CreateAccount(t, account))
        venue.apply(Deposit(t, account, 100_000 * USDT))
    venue.apply(SetIndexPrice(t, btc, 100_000))
    venue.apply(PlaceOrder(t, 2, btc, Side.SELL, OrderType.LIMIT, 1_000, 100_000))
    venue.apply(PlaceOrder(t, 1, btc, Side.BUY, OrderType.MARKET, 1_000))
    wallets = {a: venue.accounts[a].wallet for a in (1, 2)}
    events = []
    for second in range(1, 25):
        events += venue.apply(SetIndexPrice(t + second * 1000, btc, 100_000))
    settled = [e for e in events if type(e) is FundingSettled and e.symbol == btc]
    assert len(settled) == 1 and settled[0].funding_time == 1_700_000_100_000
    rate = settled[0].rate_e8
    paid = {e.account: e.amount for e in events if type(e) is FundingPaid}
    assert sum(paid.values()) == 0
    # 1 BTC at mark ~10,000 x rate: the long pays when the rate is positive.
    assert (paid[1] < 0) == (rate > 0)
    assert venue.accounts[1].wallet - wallets[1] == paid[1]
    assert venue.conservation_gap() == 0
    # The next funding is one interval later, and a bare Tick gets there too.
    events = venue.apply(Tick(1_700_000_160_000))
    assert [e.funding_time for e in events if type(e) is FundingSettled and e.symbol == btc] == [
        1_700_000_160_000]
