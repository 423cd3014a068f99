"""Worked examples of the venue's core, checked by hand against MECHANICS.md."""

from __future__ import annotations

from fractions import Fraction

import pytest

from exchange.config import load_instruments
from exchange.core.commands import (
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    ResetAccount,
    SetLeverage,
    SetMarginMode,
    SetMarkPrice,
    Withdraw,
)
from exchange.core.errors import Code
from exchange.core.events import (
    Deposited,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderTriggered,
    Rejected,
    Withdrawn,
)
from exchange.core.orders import (
    CancelReason,
    ExpireReason,
    MarginMode,
    OrderType,
    WorkingType,
)
from exchange.core.venue import STATE_FORMAT, Venue
from exchange.core.views import account_view
from matching import Side, TimeInForce

USDT = 10**8
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
BTC = "BTCUSDT"
# BTCUSDT: tick 0.10, step 0.001, so one tick x one lot = 0.0001 USDT = 10,000 atoms.
ONE_BTC = 1000  # lots
SOL = "SOLUSDT"


def px(usdt: int | str) -> int:
    """A BTCUSDT price in ticks."""
    return int(Fraction(str(usdt)) * 10)


class Sim:
    """A venue with a clock: every command gets the next millisecond."""

    def __init__(self) -> None:
        self.venue = Venue(load_instruments())
        self.ts = 1_700_000_000_000

    def do(self, command_type: type, *args: object, **kwargs: object) -> list[Event]:
        self.ts += 1
        command: Command = command_type(self.ts, *args, **kwargs)
        return self.venue.apply(command)

    def account(self, account: int, usdt: int) -> None:
        self.do(CreateAccount, account)
        self.do(Deposit, account, usdt * USDT)

    def mark(self, price_usdt: int | str, symbol: str = BTC) -> list[Event]:
        return self.do(SetMarkPrice, symbol, px(price_usdt), px(price_usdt))

    def limit(self, account: int, side: Side, lots: int, price_usdt: int | str,
              **kwargs: object) -> list[Event]:
        return self.do(PlaceOrder, account, BTC, side, LIMIT, lots, px(price_usdt), **kwargs)

    def market(self, account: int, side: Side, lots: int, **kwargs: object) -> list[Event]:
        return self.do(PlaceOrder, account, BTC, side, MARKET, lots, **kwargs)

    def pos(self, account: int, symbol: str = BTC):  # type: ignore[no-untyped-def]
        return self.venue.accounts[account].positions[symbol]

    def wallet(self, account: int) -> int:
        return self.venue.accounts[account].wallet


def of(events: list[Event], cls: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, cls)]


def rejected(events: list[Event]) -> Code | None:
    return events[0].code if len(events) == 1 and isinstance(events[0], Rejected) else None


@pytest.fixture
def sim() -> Sim:
    s = Sim()
    s.account(1, 100_000)  # the trader under test
    s.account(2, 1_000_000)  # a market maker
    s.account(3, 100_000)
    s.mark(10_000)
    return s


# ---------------------------------------------------------------- MECHANICS.md's example


def test_isolated_liquidation_price_of_mechanics_example_to_the_last_atom(sim: Sim) -> None:
    sim.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    sim.do(SetLeverage, 1, BTC, 10)
    sim.limit(2, SELL, ONE_BTC, 10_000)
    fills = of(sim.market(1, BUY, ONE_BTC), OrderFilled)
    assert fills[-1].account == 1 and fills[-1].price == px(10_000)
    pos = sim.pos(1)
    assert pos.size == ONE_BTC and pos.entry_notional == 10_000 * USDT
    assert pos.isolated_wallet == 1_000 * USDT  # 10,000 / 10x

    view = account_view(sim.venue, 1).positions[0]
    # LP = (1000 - 10000) / (0.004 - 1) = 9036.1445... USDT, exactly 2,250,000/249 USDT.
    assert view.liquidation_price == Fraction(2_250_000, 249) * 10
    lp_usdt = view.liquidation_price / 10
    margin_left = 1_000 + (lp_usdt - 10_000)  # isolated wallet + unrealized PnL, USDT
    assert margin_left == Fraction(4, 1000) * lp_usdt  # = maintenance margin, exactly
    assert round(float(margin_left), 2) == 36.14
    # Bankruptcy: entry - isolated wallet / size = 9,000 USDT.
    assert view.bankruptcy_price == px(9_000)


def test_cross_liquidation_price_counts_the_whole_wallet(sim: Sim) -> None:
    # 100,000 USDT wallet behind a 1 BTC long at 10,000: LP = (100000 - 10000)/(0.004 - 1) < 0,
    # so no positive price liquidates it.
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    view = account_view(sim.venue, 1).positions[0]
    assert view.liquidation_price is None
    # A short of 1 BTC from the same wallet: LP = (W + 10000)/(0.004 + 1) with W the wallet
    # after the 5 USDT taker fee.
    sim.market(1, SELL, 2 * ONE_BTC) if False else None
    s = Sim()
    s.account(1, 1_000)
    s.account(2, 1_000_000)
    s.mark(10_000)
    s.limit(2, BUY, ONE_BTC, 10_000)
    s.market(1, SELL, ONE_BTC)
    view = account_view(s.venue, 1).positions[0]
    wallet = Fraction(s.wallet(1), USDT)
    assert wallet == 995  # 1,000 less the 0.05% taker fee on 10,000
    expected = (wallet + 10_000) / Fraction(1004, 1000)
    assert view.liquidation_price == expected * 10
    # At that mark the margin balance equals the maintenance margin.
    assert wallet + (10_000 - expected) == Fraction(4, 1000) * expected


# ---------------------------------------------------------------- entry, PnL, fees


def test_average_entry_on_adds(sim: Sim) -> None:
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.limit(2, SELL, ONE_BTC, 10_100)
    sim.market(1, BUY, 2 * ONE_BTC)
    pos = sim.pos(1)
    assert pos.size == 2 * ONE_BTC
    assert account_view(sim.venue, 1).positions[0].entry_price == px(10_050)


def test_realized_pnl_on_partial_close_and_on_a_flip(sim: Sim) -> None:
    sim.limit(2, SELL, 2 * ONE_BTC, 10_000)
    sim.market(1, BUY, 2 * ONE_BTC)  # long 2 @ 10,000
    sim.mark(10_400)
    sim.limit(3, BUY, 500, 10_400)
    fill = of(sim.market(1, SELL, 500), OrderFilled)[-1]
    assert fill.realized_pnl == 200 * USDT  # 0.5 BTC x 400
    assert sim.pos(1).size == 1500 and sim.pos(1).entry_notional == 15_000 * USDT

    # Flip: sell 2 BTC at 10,200 against a long of 1.5: close 1.5 (+300), open 0.5 short.
    sim.limit(3, BUY, 2 * ONE_BTC, 10_200)
    fill = of(sim.market(1, SELL, 2 * ONE_BTC), OrderFilled)[-1]
    assert fill.realized_pnl == 300 * USDT
    pos = sim.pos(1)
    assert pos.size == -500 and pos.entry_notional == 5_100 * USDT
    assert pos.realized_pnl == 500 * USDT
    assert sim.venue.conservation_gap() == 0


def test_fees_maker_and_taker(sim: Sim) -> None:
    before_maker, before_taker = sim.wallet(2), sim.wallet(1)
    sim.limit(2, SELL, ONE_BTC, 10_000)
    fills = of(sim.market(1, BUY, ONE_BTC), OrderFilled)
    maker, taker = fills
    assert (maker.maker, maker.fee) == (True, 2 * USDT)  # 0.02% of 10,000
    assert (taker.maker, taker.fee) == (False, 5 * USDT)  # 0.05% of 10,000
    assert sim.wallet(2) == before_maker - 2 * USDT
    assert sim.wallet(1) == before_taker - 5 * USDT
    assert sim.venue.fee_income == 7 * USDT


def test_fee_rounds_toward_the_venue_and_conserves_money(sim: Sim) -> None:
    # ETHUSDT: tick 0.01, step 0.001. 0.011 ETH at 2,000.01 = 22.00011 USDT: the taker fee
    # (0.05%) is 1,100,005.5 atoms, the maker fee (0.02%) 440,002.2: both round up.
    eth = "ETHUSDT"
    sim.do(SetMarkPrice, eth, 200_000, 200_000)
    sim.do(PlaceOrder, 2, eth, SELL, LIMIT, 11, 200_001)
    maker, taker = of(sim.do(PlaceOrder, 1, eth, BUY, MARKET, 11), OrderFilled)
    assert taker.fee == 1_100_006 and maker.fee == 440_003
    assert sim.venue.fee_income == 1_540_009
    assert sim.venue.conservation_gap() == 0


# ---------------------------------------------------------------- margin


def test_cross_and_isolated_margin(sim: Sim) -> None:
    sim.do(SetLeverage, 1, BTC, 10)
    sim.limit(2, SELL, 2 * ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    view = account_view(sim.venue, 1)
    assert view.positions[0].initial_margin == 1_000 * USDT
    assert view.positions[0].maintenance_margin == 40 * USDT
    assert view.available == view.margin_balance - 1_000 * USDT
    # Now isolated on ETH is impossible to mix up: switch BTC? It has a position: rejected.
    assert rejected(sim.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)) == (
        Code.MARGIN_MODE_OPEN_POSITION)

    iso = Sim()
    iso.account(1, 5_000)
    iso.account(2, 1_000_000)
    iso.mark(10_000)
    iso.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    iso.do(SetLeverage, 1, BTC, 10)
    iso.limit(2, SELL, ONE_BTC, 10_000)
    iso.market(1, BUY, ONE_BTC)
    # 1,000 moved into the isolated wallet, 5 paid as fee.
    assert iso.pos(1).isolated_wallet == 1_000 * USDT
    assert iso.wallet(1) == 3_995 * USDT
    # A mark move hits the isolated wallet's ratio, not the cross wallet.
    iso.mark(9_500)
    view = account_view(iso.venue, 1)
    assert view.wallet == 3_995 * USDT and view.available == 3_995 * USDT
    pview = view.positions[0]
    assert pview.unrealized_pnl == -500 * USDT
    assert pview.margin_ratio_ppm == -(-38 * USDT * 10**6 // (500 * USDT))  # 38 / 500
    # Add and remove isolated margin.
    iso.do(AdjustIsolatedMargin, 1, BTC, 500 * USDT)
    assert iso.pos(1).isolated_wallet == 1_500 * USDT
    removable = iso.venue.max_removable_isolated(iso.venue.accounts[1],
                                                 iso.venue.instruments[BTC], iso.pos(1))
    # min(1500 - 38, 1500 - 500 - 950) = 50 USDT
    assert removable == 50 * USDT
    assert rejected(iso.do(AdjustIsolatedMargin, 1, BTC, -51 * USDT)) == Code.INSUFFICIENT_MARGIN
    iso.do(AdjustIsolatedMargin, 1, BTC, -50 * USDT)
    assert iso.pos(1).isolated_wallet == 1_450 * USDT
    assert iso.venue.conservation_gap() == 0


def test_closing_an_isolated_position_returns_its_margin(sim: Sim) -> None:
    sim.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    sim.do(SetLeverage, 1, BTC, 5)
    start = sim.wallet(1)
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    sim.mark(10_500)
    sim.limit(2, BUY, ONE_BTC, 10_500)
    sim.market(1, SELL, ONE_BTC)
    assert sim.pos(1).isolated_wallet == 0 and sim.pos(1).size == 0
    # +500 PnL, fees 5 + 5.25
    assert sim.wallet(1) == start + 500 * USDT - 5 * USDT - 525_000_000
    assert sim.venue.conservation_gap() == 0


def test_a_partial_close_at_a_loss_leaves_the_rest_its_share_of_the_margin(sim: Sim) -> None:
    # Long 2 BTC at 10,000, 10x isolated: 2,000 in the isolated wallet. At 9,500 the
    # position's margin balance is 2,000 - 1,000 = 1,000. Selling half there closes one BTC
    # with its share (1,000) and its loss (-500): 500 goes home, and the BTC still open keeps
    # 1,000 against its own 500 loss, half the balance, as a position of half the size should.
    # (It used to keep only 750: the closed half's loss was shared with what stayed open, and
    # a deep enough loss left the rest past bankruptcy with no mark move.)
    sim.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)
    sim.do(SetLeverage, 1, BTC, 10)
    sim.limit(2, SELL, 2 * ONE_BTC, 10_000)
    sim.market(1, BUY, 2 * ONE_BTC)
    assert sim.pos(1).isolated_wallet == 2_000 * USDT
    sim.mark(9_500)
    before = sim.wallet(1)
    sim.limit(2, BUY, ONE_BTC, 9_500)
    sim.market(1, SELL, ONE_BTC)
    assert sim.pos(1).size == ONE_BTC
    assert sim.pos(1).isolated_wallet == 1_000 * USDT
    fee = 475_000_000  # 0.05% of 9,500 (taker)
    assert sim.wallet(1) == before + 500 * USDT - fee
    assert sim.venue.conservation_gap() == 0


def test_maintenance_margin_tiers_as_notional_grows(sim: Sim) -> None:
    inst = sim.venue.instruments[BTC]
    # Tier 1: 0.40%; tier 2 (50k-250k): 0.50% - 50; tier 3: 1% - 1,300.
    assert inst.maintenance_margin(50_000 * USDT) == 200 * USDT
    assert inst.maintenance_margin(100_000 * USDT) == 450 * USDT
    assert inst.maintenance_margin(500_000 * USDT) == 3_700 * USDT
    sim.do(SetLeverage, 1, BTC, 50)
    sim.limit(2, SELL, 10 * ONE_BTC, 10_000)
    sim.market(1, BUY, 10 * ONE_BTC)
    assert account_view(sim.venue, 1).positions[0].maintenance_margin == 450 * USDT


def test_leverage_bounds_the_position_by_tier(sim: Sim) -> None:
    sim.do(SetLeverage, 1, BTC, 125)  # 125x allows at most 50,000 USDT of notional
    sim.limit(2, SELL, 10 * ONE_BTC, 10_000)
    digest = sim.venue.digest()
    assert rejected(sim.market(1, BUY, 6 * ONE_BTC)) == Code.POSITION_LIMIT_EXCEEDED
    assert sim.venue.digest() == digest
    assert of(sim.market(1, BUY, 4 * ONE_BTC), OrderFilled)
    # 4 BTC at 10,000 open: 100x would allow it, but not the 50x... fine; 126x is no tier.
    assert rejected(sim.do(SetLeverage, 1, BTC, 126)) == Code.INVALID_LEVERAGE
    assert rejected(sim.do(SetLeverage, 1, BTC, 0)) == Code.INVALID_LEVERAGE


def test_insufficient_margin_is_rejected_and_changes_nothing() -> None:
    s = Sim()
    s.account(1, 100)
    s.account(2, 1_000_000)
    s.mark(10_000)
    s.do(SetLeverage, 1, BTC, 10)
    digest = s.venue.digest()
    # 0.1 BTC at 10,000 = 1,000 notional: 100 of margin plus fees: too much for 100 USDT.
    assert rejected(s.limit(1, BUY, 100, 10_000)) == Code.INSUFFICIENT_MARGIN
    assert s.venue.digest() == digest
    # 0.09 BTC: 90 margin + 0.45 fee: fits.
    assert of(s.limit(1, BUY, 90, 10_000), OrderAccepted)
    assert account_view(s.venue, 1).available == 10 * USDT
    assert rejected(s.limit(1, BUY, 10, 10_000)) == Code.INSUFFICIENT_MARGIN


def test_opposite_orders_offset_and_reducing_orders_reserve_nothing(sim: Sim) -> None:
    sim.do(SetLeverage, 1, BTC, 10)
    sim.limit(1, BUY, ONE_BTC, 9_900)
    assert account_view(sim.venue, 1).order_initial_margin == 990 * USDT
    sim.limit(1, SELL, ONE_BTC, 10_100)  # the larger side counts, not both
    assert account_view(sim.venue, 1).order_initial_margin == 1_010 * USDT
    sim.do(CancelAllOrders, 1, BTC)
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    sim.limit(1, SELL, ONE_BTC, 10_100)  # closes the long: reserves nothing
    assert account_view(sim.venue, 1).order_initial_margin == 0


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("lots", "price", "code"),
    [
        (ONE_BTC, 10_600, Code.PRICE_OUT_OF_BAND),  # > mark x 1.05
        (ONE_BTC, 9_400, Code.PRICE_OUT_OF_BAND),
        (5, 10_000, Code.NOTIONAL_BELOW_MIN),  # 50 USDT < 100
        (0, 10_000, Code.INVALID_QUANTITY),
        (-1, 10_000, Code.INVALID_QUANTITY),
        (1_000_001, 10_000, Code.QUANTITY_ABOVE_MAX),  # max 1,000 BTC
    ],
)
def test_order_filters(sim: Sim, lots: int, price: int, code: Code) -> None:
    digest = sim.venue.digest()
    assert rejected(sim.limit(1, BUY, lots, price)) == code
    assert sim.venue.digest() == digest


def test_bad_types_are_rejected_not_crashes(sim: Sim) -> None:
    digest = sim.venue.digest()
    bad: list[Command] = [
        PlaceOrder(sim.ts + 1, 1, BTC, BUY, LIMIT, 1.5, px(10_000)),  # type: ignore[arg-type]
        PlaceOrder(sim.ts + 1, 1, BTC, BUY, LIMIT, 100, "100000"),  # type: ignore[arg-type]
        PlaceOrder(sim.ts + 1, 1, BTC, 0, LIMIT, 100, px(10_000)),  # type: ignore[arg-type]
        PlaceOrder(sim.ts + 1, 1, BTC, True, LIMIT, 100, px(10_000)),  # type: ignore[arg-type]
        PlaceOrder(sim.ts + 1, 1, BTC, BUY, "LIMITED", 100, px(10_000)),  # type: ignore[arg-type]
        PlaceOrder(sim.ts + 1, 1, "DOGEUSDT", BUY, LIMIT, 100, px(10_000)),
        PlaceOrder(sim.ts + 1, 99, BTC, BUY, LIMIT, 100, px(10_000)),
        PlaceOrder(sim.ts + 1, 1, BTC, BUY, MARKET, 100, px(10_000)),  # market takes no price
        PlaceOrder(sim.ts - 5, 1, BTC, BUY, LIMIT, 100, px(10_000)),  # time going back
        Deposit(sim.ts + 1, 1, -5),
        Deposit(sim.ts + 1, 1, 10**30),
        Withdraw(sim.ts + 1, 1, "1"),  # type: ignore[arg-type]
        SetLeverage(sim.ts + 1, 1, BTC, 2.0),  # type: ignore[arg-type]
        SetMarkPrice(sim.ts + 1, BTC, 0, 1),
        CancelOrder(sim.ts + 1, 1, BTC),
        CancelOrder(sim.ts + 1, 1, BTC, order_id="1"),  # type: ignore[arg-type]
        AmendOrder(sim.ts + 1, 1, BTC, order_id=12345, price=1),
    ]
    for command in bad:
        events = sim.venue.apply(command)
        assert rejected(events) is not None, command
        assert events[0].message  # type: ignore[union-attr]
    assert sim.venue.digest() == digest


def test_client_order_ids_are_unique_among_open_orders(sim: Sim) -> None:
    sim.limit(1, BUY, 100, 9_900, client_order_id="mine-1")
    assert rejected(sim.limit(1, BUY, 100, 9_900, client_order_id="mine-1")) == (
        Code.DUPLICATE_CLIENT_ORDER_ID)
    assert rejected(sim.limit(1, BUY, 100, 9_900, client_order_id="bad id!")) == (
        Code.INVALID_CLIENT_ORDER_ID)
    assert rejected(sim.limit(1, BUY, 100, 9_900, client_order_id="paper-7")) == (
        Code.INVALID_CLIENT_ORDER_ID)
    # Another account may use the same id; and once canceled, the id is free again.
    assert of(sim.limit(3, BUY, 100, 9_900, client_order_id="mine-1"), OrderAccepted)
    canceled = sim.do(CancelOrder, 1, BTC, client_order_id="mine-1")
    assert of(canceled, OrderCanceled)[0].reason is CancelReason.USER
    assert of(sim.limit(1, BUY, 100, 9_900, client_order_id="mine-1"), OrderAccepted)


def test_post_only_that_would_take_is_rejected(sim: Sim) -> None:
    sim.limit(2, SELL, ONE_BTC, 10_000)
    assert rejected(sim.limit(1, BUY, 100, 10_000, tif=TimeInForce.GTX)) == (
        Code.POST_ONLY_WOULD_TAKE)
    assert of(sim.limit(1, BUY, 100, "9999.9", tif=TimeInForce.GTX), OrderAccepted)


def test_market_order_stops_at_its_protection_band(sim: Sim) -> None:
    sim.limit(2, SELL, 100, 10_000)
    sim.mark(10_400)
    sim.limit(2, SELL, 100, 10_600)  # within 5% of 10,400...
    sim.mark(10_000)  # ...but beyond mark x 1.05 now: a market buy must not reach it
    events = sim.market(1, BUY, 200)
    assert sum(f.quantity for f in of(events, OrderFilled) if f.account == 1) == 100
    assert of(events, OrderExpired)[0].reason is ExpireReason.PROTECTION


# ---------------------------------------------------------------- accounts


def test_deposit_and_withdraw_only_what_is_available(sim: Sim) -> None:
    sim.do(SetLeverage, 1, BTC, 1)
    sim.limit(1, BUY, 5 * ONE_BTC, 10_000)  # reserves 50,000 + fees
    available = account_view(sim.venue, 1).available
    assert rejected(sim.do(Withdraw, 1, available + 1)) == Code.INSUFFICIENT_BALANCE
    sim.do(Withdraw, 1, available)
    assert account_view(sim.venue, 1).available == 0
    assert sim.venue.conservation_gap() == 0


def test_margin_mode_changes_only_when_flat_and_without_orders(sim: Sim) -> None:
    sim.limit(1, BUY, 100, 9_900)
    assert rejected(sim.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED)) == (
        Code.MARGIN_MODE_OPEN_ORDERS)
    sim.do(CancelAllOrders, 1, BTC)
    assert rejected(sim.do(SetMarginMode, 1, BTC, MarginMode.CROSS)) == (
        Code.MARGIN_MODE_UNCHANGED)
    assert not rejected(sim.do(SetMarginMode, 1, BTC, MarginMode.ISOLATED))


# ---------------------------------------------------------------- order kinds


def test_amend_keeps_or_loses_priority(sim: Sim) -> None:
    sim.limit(1, SELL, 200, 10_000)
    events = sim.do(AmendOrder, 1, BTC, order_id=1, quantity=100)
    amended = of(events, OrderAmended)[0]
    assert (amended.quantity, amended.priority_kept) == (100, True)
    events = sim.do(AmendOrder, 1, BTC, order_id=1, price=px(10_010))
    assert of(events, OrderAmended)[0].priority_kept is False
    assert sim.venue.orders[1].price == px(10_010)
    assert sim.pos(1).sell_notional == 100 * px(10_010) * 10_000


def test_amend_to_a_crossing_price_trades(sim: Sim) -> None:
    sim.limit(2, SELL, 100, 10_000)
    sim.limit(1, BUY, 100, 9_900)
    events = sim.do(AmendOrder, 1, BTC, order_id=2, price=px(10_000))
    assert [f.account for f in of(events, OrderFilled)] == [2, 1]
    assert 2 not in sim.venue.orders and sim.pos(1).buy_lots == 0
    assert sim.pos(1).size == 100


def test_reduce_only_never_grows_and_is_trimmed_as_the_position_shrinks(sim: Sim) -> None:
    assert rejected(sim.limit(1, SELL, 100, 10_100, reduce_only=True)) == (
        Code.REDUCE_ONLY_REJECTED)  # nothing to reduce
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    events = sim.limit(1, SELL, 2 * ONE_BTC, 10_100, reduce_only=True)
    accepted = of(events, OrderAccepted)[0]
    assert accepted.quantity == ONE_BTC  # trimmed to the position
    ro_id = accepted.order_id
    # Half the position goes by a plain market sell: the reduce-only order is trimmed.
    sim.limit(3, BUY, 500, 10_000)
    events = sim.market(1, SELL, 500)
    trims = of(events, OrderAmended)
    assert trims and trims[0].order_id == ro_id and trims[0].quantity == 500
    # The rest goes too: the reduce-only order is canceled.
    sim.limit(3, BUY, 500, 10_000)
    events = sim.market(1, SELL, 500)
    canceled = of(events, OrderCanceled)
    assert canceled[0].order_id == ro_id and canceled[0].reason is CancelReason.REDUCE_ONLY
    assert sim.pos(1).size == 0 and not sim.pos(1).orders


def test_stop_market_with_close_position_on_mark(sim: Sim) -> None:
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    events = sim.do(PlaceOrder, 1, BTC, SELL, OrderType.STOP_MARKET, 0,
                    stop_price=px(9_800), close_position=True,
                    working_type=WorkingType.MARK_PRICE)
    stop_id = of(events, OrderAccepted)[0].order_id
    assert rejected(sim.do(PlaceOrder, 1, BTC, SELL, OrderType.STOP_MARKET, 0,
                           stop_price=px(10_100), close_position=True,
                           working_type=WorkingType.MARK_PRICE)) == Code.WOULD_IMMEDIATELY_TRIGGER
    sim.limit(3, BUY, 2 * ONE_BTC, 9_750)
    assert not of(sim.mark(9_900), OrderTriggered)
    events = sim.mark(9_790)
    triggered = of(events, OrderTriggered)
    assert triggered[0].order_id == stop_id and triggered[0].quantity == ONE_BTC
    assert sim.pos(1).size == 0
    assert stop_id not in sim.venue.orders


def test_stop_limit_and_take_profit_on_last_price(sim: Sim) -> None:
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    # Take profit above: sell when the last price reaches 10,200, as a limit at 10,200.
    sim.do(PlaceOrder, 1, BTC, SELL, OrderType.TAKE_PROFIT, ONE_BTC, px(10_200),
           stop_price=px(10_200), reduce_only=True)
    # Stop-limit buy for account 3 above the market.
    sim.do(PlaceOrder, 3, BTC, BUY, OrderType.STOP, 100, px(10_250), stop_price=px(10_200))
    sim.mark(10_200)
    sim.limit(2, SELL, 100, 10_200)
    events = sim.limit(3, BUY, 100, 10_200)  # last price 10,200: both fire
    fired = [e.order_id for e in of(events, OrderTriggered)]
    assert len(fired) == 2 and fired == sorted(fired)
    assert sim.pos(3).size >= 100


def test_trailing_stop_follows_the_price(sim: Sim) -> None:
    sim.limit(2, SELL, ONE_BTC, 10_000)
    sim.market(1, BUY, ONE_BTC)
    sim.do(PlaceOrder, 1, BTC, SELL, OrderType.TRAILING_STOP_MARKET, ONE_BTC,
           callback_ppm=10_000, reduce_only=True, working_type=WorkingType.MARK_PRICE)
    sim.limit(3, BUY, 2 * ONE_BTC, 10_000)
    for price in (10_100, 10_300, 10_250):  # highest 10,300; fires at <= 10,197
        assert not of(sim.mark(price), OrderTriggered)
    events = sim.mark(10_196)
    assert of(events, OrderTriggered)
    assert sim.pos(1).size == 0


def test_trigger_rejected_when_margin_is_short_expires_the_order() -> None:
    s = Sim()
    s.account(1, 200)
    s.account(2, 1_000_000)
    s.mark(10_000)
    s.do(PlaceOrder, 1, BTC, BUY, OrderType.STOP_MARKET, ONE_BTC, stop_price=px(10_100),
         working_type=WorkingType.MARK_PRICE)
    s.limit(2, SELL, ONE_BTC, 10_100)
    events = s.mark(10_100)
    expired = of(events, OrderExpired)
    assert expired and expired[0].reason is ExpireReason.TRIGGER_REJECTED
    assert expired[0].detail == Code.INSUFFICIENT_MARGIN
    assert not s.venue.orders or all(o.account != 1 for o in s.venue.orders.values())


def test_cancel_all_cancels_resting_and_conditional(sim: Sim) -> None:
    sim.limit(1, BUY, 100, 9_900)
    sim.do(PlaceOrder, 1, BTC, BUY, OrderType.STOP_MARKET, 100, stop_price=px(10_100))
    events = sim.do(CancelAllOrders, 1, BTC)
    assert [e.reason for e in of(events, OrderCanceled)] == [CancelReason.CANCEL_ALL] * 2
    assert not sim.pos(1).orders and sim.pos(1).buy_lots == 0


def test_reset_cancels_every_order_and_sets_the_wallet(sim: Sim) -> None:
    sim.limit(1, BUY, 100, 9_900)
    sim.do(PlaceOrder, 1, BTC, BUY, OrderType.STOP_MARKET, 100, stop_price=px(10_100))
    sim.do(SetMarkPrice, SOL, 10_000, 10_000)  # 100 USDT in SOL's ticks of 0.01
    sim.do(PlaceOrder, 1, SOL, BUY, LIMIT, 1_000, 9_900)
    before = sim.wallet(1)
    events = sim.do(ResetAccount, 1, 10_000 * USDT)
    assert [e.symbol for e in of(events, OrderCanceled)] == [BTC, BTC, SOL]
    assert not sim.venue.orders and sim.pos(1).buy_lots == 0
    withdrawn = of(events, Withdrawn)[0]
    assert (withdrawn.amount, withdrawn.wallet) == (before - 10_000 * USDT, 10_000 * USDT)
    assert account_view(sim.venue, 1).available == 10_000 * USDT
    events = sim.do(ResetAccount, 1, 50_000 * USDT)  # upwards it is a deposit
    assert of(events, Deposited)[0].amount == 40_000 * USDT
    assert sim.do(ResetAccount, 1, 50_000 * USDT) == []  # nothing to do: nothing happens
    assert sim.wallet(1) == 50_000 * USDT and sim.venue.conservation_gap() == 0


def test_reset_is_refused_with_a_position_open_and_changes_nothing(sim: Sim) -> None:
    sim.limit(2, SELL, 100, 10_000)
    sim.market(1, BUY, 100)
    sim.limit(1, SELL, 50, 10_100)
    digest = sim.venue.digest()
    assert rejected(sim.do(ResetAccount, 1, USDT)) == Code.POSITION_OPEN
    assert rejected(sim.do(ResetAccount, 1, -1)) == Code.INVALID_AMOUNT
    assert rejected(sim.do(ResetAccount, 99, USDT)) == Code.UNKNOWN_ACCOUNT
    assert sim.venue.digest() == digest
    sim.limit(2, BUY, 100, 9_950)
    sim.market(1, SELL, 100, reduce_only=True)  # closed by trading, a reset goes through
    assert not rejected(sim.do(ResetAccount, 1, USDT))
    assert sim.wallet(1) == USDT and sim.venue.conservation_gap() == 0


def test_self_trade_prevention_expires_the_taker(sim: Sim) -> None:
    sim.limit(1, SELL, 100, 10_000)
    events = sim.limit(1, BUY, 100, 10_000)
    assert of(events, OrderExpired)[0].reason is ExpireReason.STP
    assert sim.pos(1).size == 0


# ---------------------------------------------------------------- determinism


def test_same_commands_same_events() -> None:
    def run() -> tuple[list[Event], str]:
        s = Sim()
        out: list[Event] = []
        for account in (1, 2, 3):
            s.account(account, 50_000)
        out += s.mark(10_000)
        for i in range(60):
            side = BUY if i % 3 else SELL
            out += s.limit(1 + i % 3, side, 100 + i, 10_000 + (i % 7) * 10 - 30)
            if i % 5 == 0:
                out += s.market(1 + (i + 1) % 3, side, 50)
            if i % 11 == 0:
                out += s.mark(10_000 + i)
        return out, s.venue.digest()

    assert run() == run()


def test_the_state_format_names_the_venue_attributes() -> None:
    # Snapshots pickle the venue; one of another shape is skipped by its STATE_FORMAT. When
    # these lists change, bump STATE_FORMAT in venue.py, then update it here.
    venue = Venue(load_instruments())
    if not hasattr(venue, "__dict__"):
        pytest.skip("the compiled build keeps no instance dict")
    assert STATE_FORMAT == 4
    assert sorted(vars(venue.budgets)) == ["due_at", "heaps", "live", "marks", "moved", "unchecked"]
    assert sorted(vars(venue)) == [
        "_dirty", "_handlers", "_risk_dirty", "_slots", "_traded", "accounts", "books",
        "budgets", "deposits", "engine", "fee_income", "funding", "holders",
        "instruments", "insurance_fund", "liquidating", "markets", "marks", "next_order_id",
        "next_trade_id", "now", "orders", "seq", "triggers", "warned", "watches",
        "withdrawals"]
