"""Liquidation, insurance fund and ADL: worked examples checked by hand (MECHANICS.md)."""

from __future__ import annotations

from fractions import Fraction

from exchange.core import adl
from exchange.core.commands import SetLeverage, SetMarginMode
from exchange.core.events import (
    AdlFilled,
    Event,
    InsuranceFundChanged,
    LiquidationFilled,
    LiquidationOrderPlaced,
    LiquidationStarted,
    MarginCall,
    OrderCanceled,
    PositionTakenOver,
)
from exchange.core.orders import CancelReason, MarginMode
from exchange.core.views import account_view
from tests.exchange.core.test_venue import BTC, BUY, ONE_BTC, SELL, USDT, Sim, of, px


def isolated_long(fund: int = 0) -> Sim:
    """MECHANICS.md's example: account 1 long 1 BTC at 10,000, 10x isolated (wallet 1,000),
    liquidation price 9,036.14..., bankruptcy price 9,000. Account 2 is the maker; account 3
    will bid below. ``fund`` seeds the insurance fund."""
    s = Sim()
    s.account(1, 100_000)
    s.account(2, 1_000_000)
    s.account(3, 100_000)
    s.venue.insurance_fund = fund * USDT
    s.venue.deposits += fund * USDT  # the fund's seed counts as money put in
    s.mark(10_000)
    s.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    s.do(SetLeverage, 1, BTC, 10)
    s.limit(2, SELL, ONE_BTC, 10_000)
    s.market(1, BUY, ONE_BTC)
    s.mark(9_400)  # inside the band for bids near 9,000, above the liquidation price
    return s


def test_isolated_long_is_liquidated_at_the_mechanics_liquidation_price() -> None:
    s = isolated_long()
    s.limit(3, BUY, ONE_BTC, 9_030)
    # 9,036.2 is above LP = 9,036.14...: a margin call (ratio past 80%), no liquidation.
    events = s.mark("9036.2")
    assert of(events, MarginCall) and not of(events, LiquidationStarted)
    events = s.mark("9036.1")
    started = of(events, LiquidationStarted)
    assert started and started[0].account == 1 and started[0].symbol == BTC
    taken = of(events, PositionTakenOver)[0]
    # At mark 9,036.1 the isolated margin left is 36.1 USDT: the bankruptcy price is 9,000.
    assert (taken.size, taken.leftover, taken.bankruptcy_price) == (
        ONE_BTC, Fraction("36.1") * USDT, px(9_000))
    order = of(events, LiquidationOrderPlaced)[0]
    assert (order.side, order.price, order.quantity) == (SELL, px(9_000), ONE_BTC)
    fill = of(events, LiquidationFilled)[0]
    assert (fill.account, fill.price, fill.quantity) == (1, px(9_030), ONE_BTC)
    # Sold at 9,030, 30 above bankruptcy: the surplus goes to the fund.
    fund = of(events, InsuranceFundChanged)[0]
    assert fund.delta == 30 * USDT and s.venue.insurance_fund == 30 * USDT
    assert s.pos(1).size == 0 and s.pos(1).isolated_wallet == 0
    # The cross wallet lost exactly the isolated margin and the opening fee.
    assert s.wallet(1) == (100_000 - 1_000 - 5) * USDT
    assert s.venue.conservation_gap() == 0


def test_deficit_is_paid_by_the_fund() -> None:
    s = isolated_long(fund=50)
    s.limit(3, BUY, ONE_BTC, 8_990)  # the only bid is 10 below bankruptcy
    events = s.mark("9036.1")
    orders = of(events, LiquidationOrderPlaced)
    assert [o.price for o in orders] == [px(9_000), px(8_990)]
    assert of(events, LiquidationFilled)[0].price == px(8_990)
    assert not of(events, AdlFilled)
    assert of(events, InsuranceFundChanged)[0].delta == -10 * USDT
    assert s.venue.insurance_fund == 40 * USDT
    assert s.venue.conservation_gap() == 0


def test_the_fund_pays_only_what_it_has_and_adl_closes_the_rest() -> None:
    s = isolated_long(fund=5)
    s.limit(3, BUY, 500, 8_990)  # 0.5 BTC, 10 below bankruptcy: the fund can pay for 0.5 only
    s.limit(3, BUY, 500, 8_900)
    events = s.mark("9036.1")
    fills = of(events, LiquidationFilled)
    assert [(f.price, f.quantity) for f in fills] == [(px(8_990), 500)]
    adl_fills = of(events, AdlFilled)
    # The rest, 0.5 BTC, closes against the short (account 2) at the bankruptcy price.
    assert [(a.account, a.quantity, a.price, a.side) for a in adl_fills] == [
        (2, 500, px(9_000), BUY)]
    assert s.venue.insurance_fund == 0
    assert s.venue.conservation_gap() == 0


def test_adl_rank_order_checked_by_hand() -> None:
    """Three shorts against one long that no bid can close and no fund can cover.

    At mark 9,036.1 (entries in USDT, wallets after fees, cross margin):
    - account 2: short 1 at 10,000, wallet 1,000,000: PnL% = 963.9/10,000 = 9.639%,
      effective leverage = 9,036.1 / (wallet + 963.9): tiny; rank ~ 0.0000087;
    - account 4: short 0.5 at 9,600 from 600 USDT: PnL% = 281.95/4,800 = 5.87%,
      effective leverage = 4,518.05 / (600 - 2.4 + 281.95) = 5.14; rank = 0.302;
    - account 5: short 0.5 at 9,500 from 300 USDT: PnL% = 231.95/4,750 = 4.88%,
      effective leverage = 4,518.05 / (300 - 2.375 + 231.95) = 8.53; rank = 0.417.
    Order: 5, 4, then 2.
    """
    s = isolated_long()
    for account, usdt in ((4, 600), (5, 300)):
        s.account(account, usdt)
    s.mark(9_600)
    s.limit(3, BUY, 500, 9_600)
    s.market(4, SELL, 500)
    s.mark(9_500)
    s.limit(3, BUY, 500, 9_500)
    s.market(5, SELL, 500)
    # Account 3 now holds 1 BTC long; account 1's long goes at 9,036.1. The ranks there
    # (cross margin: the backing is the wallet plus the PnL at that mark):
    ranks = {}
    mark = px("9036.1")
    for account in (2, 4, 5):
        pos = s.pos(account)
        ranks[account] = adl.rank(pos, mark, s.wallet(account) + pos.unrealized_pnl(mark))
    assert ranks[5] > ranks[4] > ranks[2] > 0
    assert round(float(ranks[4]), 3) == 0.302 and round(float(ranks[5]), 3) == 0.417
    events = s.mark("9036.1")
    assert [a.account for a in of(events, AdlFilled)] == [5, 4]  # 0.5 + 0.5 covers 1 BTC
    assert s.pos(5).size == 0 and s.pos(4).size == 0 and s.pos(2).size == -ONE_BTC
    assert s.venue.conservation_gap() == 0
    quantiles = account_view(s.venue, 2).positions[0].adl_quantile
    assert quantiles is not None and 1 <= quantiles <= 5


def test_cross_account_is_liquidated_whole_and_ends_at_zero() -> None:
    s = Sim()
    s.account(1, 600)
    s.account(2, 1_000_000)
    s.account(3, 100_000)
    s.mark(10_000)
    s.limit(2, SELL, ONE_BTC, 10_000)
    s.market(1, BUY, ONE_BTC)  # 1 BTC long from 600 USDT (20x): wallet 595
    s.limit(1, BUY, 20, 9_700)  # an open order, canceled first
    s.mark(9_500)
    s.limit(3, BUY, ONE_BTC, 9_420)
    view = account_view(s.venue, 1).positions[0]
    assert view.liquidation_price is not None
    lp = view.liquidation_price / 10  # (595 - 10,000) / (0.004 - 1) = 9,442.77 USDT
    assert lp == Fraction(595 - 10_000) / Fraction(4 - 1000, 1000)
    assert not of(s.mark("9442.8"), LiquidationStarted)
    events = s.mark("9442.7")
    canceled = of(events, OrderCanceled)
    assert canceled and canceled[0].reason is CancelReason.LIQUIDATION
    assert of(events, LiquidationStarted)[0].symbol is None
    assert s.wallet(1) == 0 and s.pos(1).size == 0
    # Bankruptcy 9,405 (595 below 10,000 per BTC); sold at 9,420: 15 USDT to the fund.
    assert of(events, PositionTakenOver)[0].bankruptcy_price == px(9_405)
    assert s.venue.insurance_fund == 15 * USDT
    assert s.venue.conservation_gap() == 0


def test_high_tier_positions_are_reduced_in_steps() -> None:
    # 30 BTC at 10,000 = 300,000 USDT: tier 3 (1% - 1,300). A step takes it to tier 2's cap
    # (250,000: 25 BTC) before the rest is considered.
    s = Sim()
    s.account(1, 6_500)
    s.account(2, 10_000_000)
    s.mark(10_000)
    s.do(SetLeverage, 1, BTC, 50)
    s.limit(2, SELL, 30 * ONE_BTC, 10_000)
    s.market(1, BUY, 30 * ONE_BTC)
    s.mark(9_850)
    s.limit(2, BUY, 40 * ONE_BTC, 9_800)
    events: list[Event] = s.mark(9_810)
    taken = of(events, PositionTakenOver)
    assert taken and taken[0].partial and taken[0].size == 30 * ONE_BTC - 25_484
    assert s.venue.conservation_gap() == 0
    assert s.wallet(1) >= 0


def test_a_maker_pushed_past_bankruptcy_by_a_liquidation_is_liquidated_in_the_same_tick() -> None:
    # Found by the state machine's after-tick check: the engine sells account 1's position
    # into account 4's bid, which the mark has left 3% behind; at 50x that fill is past
    # bankruptcy at once. The tick goes round again over the accounts it changed.
    s = isolated_long()
    s.account(4, 200)
    s.do(SetLeverage, 4, BTC, 50)
    s.limit(4, BUY, ONE_BTC, 9_300)
    events = s.mark("9036.1")
    assert [e.account for e in of(events, LiquidationStarted)] == [1, 4]
    assert s.pos(1).size == 0 and s.pos(4).size == 0
    assert s.wallet(4) == 0
    assert s.venue.insurance_fund >= 0 and s.venue.conservation_gap() == 0
