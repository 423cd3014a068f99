"""The watch index: positions keyed by the marks at which they need attention."""

from __future__ import annotations

from exchange.core import risk
from exchange.core.commands import SetLeverage, SetMarginMode
from exchange.core.orders import MarginMode
from exchange.core.watch import Watch
from tests.exchange.core.test_venue import BTC, BUY, ONE_BTC, SELL, Sim, px


def test_due_finds_longs_at_or_below_and_shorts_at_or_above() -> None:
    w = Watch()
    w.set(1, True, 900, 950)  # long: liquidation at <= 900, margin call at <= 950
    w.set(2, False, 1100, 1050)  # short
    w.set(3, True, None, None)  # fully collateralised: never due
    assert sorted(w.due(1000)) == []
    assert sorted(w.due(950)) == [1]
    assert sorted(w.due(900)) == [1, 1]
    assert sorted(w.due(1050)) == [2]
    w.set(1, True, 800, None)  # re-keyed: the old keys are gone
    assert w.due(950) == []
    w.drop(2)
    assert w.due(2000) == [] and len(w) == 2


def test_keys_are_on_the_safe_side_of_the_exact_prices() -> None:
    s = Sim()
    s.account(1, 100_000)
    s.account(2, 1_000_000)
    s.mark(10_000)
    s.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    s.do(SetLeverage, 1, BTC, 10)
    s.limit(2, SELL, ONE_BTC, 10_000)
    s.market(1, BUY, ONE_BTC)
    s.venue.refresh_risk()
    long, liq, call = s.venue.watches[BTC].keys[1]
    assert long and liq == 90_362  # 9,036.14... rounded up to the tick: 9,036.2
    exact = risk.liquidation_price(ONE_BTC, 10_000 * 10**8, 1_000 * 10**8, 0, 0,
                                   s.venue.instruments[BTC])
    assert exact is not None and liq - 1 < exact <= liq
    assert call is not None and call > liq
    # The short side (account 2, cross, 1,000,000 USDT): far above.
    _, short_liq, _ = s.venue.watches[BTC].keys[2]
    assert short_liq is not None and short_liq > px(100_000)


def test_a_quiet_tick_checks_nobody_and_a_due_tick_finds_the_position() -> None:
    s = Sim()
    s.account(1, 100_000)
    s.account(2, 1_000_000)
    s.mark(10_000)
    s.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    s.do(SetLeverage, 1, BTC, 10)
    s.limit(2, SELL, ONE_BTC, 10_000)
    s.market(1, BUY, ONE_BTC)
    s.venue.refresh_risk()
    assert s.venue.watches[BTC].due(px(9_900)) == []
    assert 1 in s.venue.watches[BTC].due(px("9036.1"))


def test_isolated_sell_filled_above_its_limit_leaves_the_wallet_non_negative() -> None:
    # Found by the venue's state machine: a sell at the mark filled at a higher bid used to
    # move margin for the higher price (and pay its higher fee) out of a wallet sized for the
    # limit price.
    s = Sim()
    s.account(1, 100_000)
    s.account(2, 2_525)  # 5 BTC at 10,000 at 20x: 2,500 margin + 25 fee, to the last USDT
    s.mark(10_000)
    s.do(SetMarginMode, 2, BTC, MarginMode.ISOLATED)
    s.limit(1, BUY, 5 * ONE_BTC, 10_200)
    s.limit(2, SELL, 5 * ONE_BTC, 10_000)
    acct = s.venue.accounts[2]
    assert acct.wallet >= 0
    assert risk.cross_available(acct, s.venue.instruments, s.venue.marks) >= 0
