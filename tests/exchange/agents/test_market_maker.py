"""The built-in market maker against a real venue, driven by index prices in simulated time."""

from __future__ import annotations

import random
from collections.abc import Iterable
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.agents import MarketMaker, MarketMakerConfig, build_ladder, default_config
from exchange.agents.market_maker import min_lots
from exchange.config import load_instruments
from exchange.core.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetIndexPrice,
)
from exchange.core.events import (
    Event,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    Rejected,
)
from exchange.core.instruments import Instrument
from exchange.core.orders import OrderType
from exchange.core.units import ATOMS_PER_USDT
from exchange.core.venue import Venue
from exchange.feeds.synthetic import SyntheticFeed
from matching import Side, TimeInForce

T0 = 1_767_225_600_000  # 2026-01-01
INSTRUMENTS = load_instruments()
PRICES = {"BTCUSDT": "60000", "ETHUSDT": "3000", "SOLUSDT": "150"}
MAKER = 100
USER = 1
USDT = ATOMS_PER_USDT


def price_of(symbol: str) -> int:
    return INSTRUMENTS[symbol].parse_price(PRICES[symbol])


def apply_ok(venue: Venue, commands: Iterable[Command]) -> list[Event]:
    """Apply the commands; none may be rejected, and money stays conserved after each."""
    out: list[Event] = []
    for command in commands:
        events = venue.apply(command)
        rejected = [e for e in events if type(e) is Rejected]
        assert not rejected, (command, rejected)
        assert venue.conservation_gap() == 0
        out += events
    return out


class Market:
    """A venue with one maker per symbol and a funded user."""

    def __init__(self, symbols: Iterable[str] = ("BTCUSDT",), **overrides: int) -> None:
        self.venue = Venue(INSTRUMENTS)
        self.now = T0
        self.makers: dict[str, MarketMaker] = {}
        self.index: dict[str, int] = {}
        for n, symbol in enumerate(sorted(symbols)):
            price = price_of(symbol)
            config = default_config(INSTRUMENTS[symbol], price)
            if overrides:
                config = MarketMakerConfig(**{**_fields(config), **overrides})
            self.makers[symbol] = MarketMaker(MAKER + n, symbol, config)
            self.set_index(symbol, price)
            apply_ok(self.venue, self.makers[symbol].setup_commands(self.now))
        apply_ok(self.venue, [CreateAccount(T0, USER), Deposit(T0, USER, 10**8 * USDT)])
        self.step_makers()

    def set_index(self, symbol: str, price: int) -> list[Event]:
        self.index[symbol] = price
        return apply_ok(self.venue, [SetIndexPrice(self.now, symbol, price)])

    def step_makers(self) -> list[Command]:
        commands: list[Command] = []
        for maker in self.makers.values():
            sent = maker.step(self.venue, self.now)
            apply_ok(self.venue, sent)
            commands += sent
        return commands

    def advance(self, ms: int = 1000) -> None:
        self.now += ms

    def user(self, symbol: str, side: Side, lots: int, **kw: object) -> list[Event]:
        order_type = OrderType.LIMIT if "price" in kw else OrderType.MARKET
        return apply_ok(self.venue, [PlaceOrder(self.now, USER, symbol, side, order_type, lots,
                                                **kw)])  # type: ignore[arg-type]

    def maker_position(self, symbol: str = "BTCUSDT") -> int:
        return self.venue.accounts[self.makers[symbol].account].positions[symbol].size

    def book(self, symbol: str = "BTCUSDT") -> tuple[list[tuple[int, int]],
                                                     list[tuple[int, int]]]:
        snap = self.venue.books[symbol].depth(1000)
        return snap.bids, snap.asks

    def assert_on_target(self, symbol: str = "BTCUSDT") -> None:
        """The maker's resting orders are exactly its target ladder."""
        maker = self.makers[symbol]
        ladder = maker.target(self.venue)
        assert ladder is not None
        orders = self.venue.accounts[maker.account].positions[symbol].orders.values()
        bids = sorted(((o.price, o.remaining) for o in orders if o.side is Side.BUY),
                      reverse=True)
        asks = sorted((o.price, o.remaining) for o in orders if o.side is Side.SELL)
        assert bids == list(ladder.bids)
        assert asks == list(ladder.asks)


def _fields(config: MarketMakerConfig) -> dict[str, int]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


def filled_lots(events: list[Event], account: int) -> int:
    return sum(e.quantity for e in events if type(e) is OrderFilled and e.account == account)


def depth_within(inst: Instrument, levels: list[tuple[int, int]], mid2: int, side: Side) -> int:
    """Atoms of notional resting within 0.1% of the mid (``mid2``: twice the mid, in ticks)."""
    return sum(price * lots for price, lots in levels
               if side * (mid2 - 2 * price) * 1000 <= mid2) * inst.atoms_per_tick_lot


# ==================================================================== configs and ladders


@pytest.mark.parametrize("symbol", sorted(PRICES))
def test_default_config_fills_ten_levels_within_a_tenth_of_a_percent(symbol: str) -> None:
    inst = INSTRUMENTS[symbol]
    price = price_of(symbol)
    config = default_config(inst, price)
    assert config.levels == 10
    assert config.size_lots >= min_lots(inst, price // 2)
    # half-spread about 0.01% of the price, and a few ticks at least
    assert config.spread_ticks >= 2
    assert config.spread_ticks * 10_000 <= price * 2
    m = Market([symbol])
    bids, asks = m.book(symbol)
    assert len(bids) == len(asks) == 10
    mid2 = bids[0][0] + asks[0][0]
    impact = 200 * USDT * inst.tiers[0].max_leverage
    for levels, side in ((bids, Side.BUY), (asks, Side.SELL)):
        depth = depth_within(inst, levels, mid2, side)
        assert depth >= 10 * impact - impact // 100  # every level counts
        assert 150_000 * USDT <= depth <= 400_000 * USDT


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="spread_ticks"):
        MarketMakerConfig(spread_ticks=0, step_ticks=1, size_lots=1, max_inventory_lots=1,
                          deposit=1)
    with pytest.raises(ValueError, match="levels"):
        MarketMakerConfig(levels=True, spread_ticks=1, step_ticks=1, size_lots=1,
                          max_inventory_lots=1, deposit=1)
    with pytest.raises(ValueError, match="price"):
        default_config(INSTRUMENTS["BTCUSDT"], 0)


inventories = st.integers(-50_000, 50_000)


@settings(max_examples=200)
@given(reference=st.integers(400_000, 800_000), inventory=inventories,
       others=st.tuples(st.integers(-2_000, 2_000), st.integers(1, 3_000)),
       has_others=st.booleans())
def test_ladder_is_ordered_uncrossed_and_within_limits(reference: int, inventory: int,
                                                       others: tuple[int, int],
                                                       has_others: bool) -> None:
    inst = INSTRUMENTS["BTCUSDT"]
    config = default_config(inst, 600_000)
    others_bid = reference + others[0] if has_others else None
    others_ask = others_bid + others[1] if others_bid is not None else None
    ladder = build_ladder(config, inst, reference, inventory, reference, others_bid, others_ask)
    bid_prices = [q.price for q in ladder.bids]
    ask_prices = [q.price for q in ladder.asks]
    assert bid_prices == sorted(set(bid_prices), reverse=True)
    assert ask_prices == sorted(set(ask_prices))
    if bid_prices and ask_prices:
        assert bid_prices[0] < ask_prices[0]
    if others_ask is not None and bid_prices:
        assert bid_prices[0] < others_ask
    if others_bid is not None and ask_prices:
        assert ask_prices[0] > others_bid
    assert sum(q.lots for q in ladder.bids) <= max(0, config.max_inventory_lots - inventory)
    assert sum(q.lots for q in ladder.asks) <= max(0, config.max_inventory_lots + inventory)
    for q in (*ladder.bids, *ladder.asks):
        assert q.lots >= min_lots(inst, q.price)
    if abs(inventory) < config.size_lots and not has_others:
        # flat enough: a full ladder, levels at most 2 steps apart, symmetric about the center
        assert len(bid_prices) == len(ask_prices) == config.levels
        skew = abs(inventory) * config.skew_ticks_per_level // config.size_lots
        center = reference - skew if inventory > 0 else reference + skew
        assert center - bid_prices[0] == ask_prices[0] - center == config.spread_ticks
        for near, far in pairwise(bid_prices):
            assert config.step_ticks <= near - far < 2 * config.step_ticks
        for near, far in pairwise(ask_prices):
            assert config.step_ticks <= far - near < 2 * config.step_ticks


# ==================================================================== the maker on a venue


def test_ladder_appears_on_both_sides_around_the_index() -> None:
    m = Market()
    config = m.makers["BTCUSDT"].config
    index = m.index["BTCUSDT"]
    bids, asks = m.book()
    assert len(bids) == len(asks) == config.levels
    assert bids[0][0] == index - config.spread_ticks
    assert asks[0][0] == index + config.spread_ticks
    assert all(p < index for p, _ in bids) and all(p > index for p, _ in asks)
    assert all(lots == config.size_lots for _, lots in bids + asks)
    orders = m.venue.accounts[MAKER].positions["BTCUSDT"].orders.values()
    assert len(orders) == 2 * config.levels
    assert all(o.tif is TimeInForce.GTX and o.order_type is OrderType.LIMIT for o in orders)
    assert sorted(o.client_order_id for o in orders) == sorted(
        f"mm-BTCUSDT-{n}" for n in range(1, 2 * config.levels + 1))
    m.assert_on_target()


def test_requotes_at_most_once_per_refresh() -> None:
    m = Market()
    index = m.index["BTCUSDT"]
    m.advance(400)
    m.set_index("BTCUSDT", index + 500)
    assert m.step_makers() == []  # 400 ms after the last requote: not yet
    m.advance(599)
    assert m.step_makers() == []
    m.advance(1)
    assert m.step_makers()  # 1000 ms: requoted
    assert m.book()[0][0][0] == index + 500 - m.makers["BTCUSDT"].config.spread_ticks
    m.advance(1000)
    assert m.step_makers() == []  # due, but already on target: nothing to send


def test_a_small_index_move_amends_the_first_level_only() -> None:
    m = Market()
    m.advance()
    m.set_index("BTCUSDT", m.index["BTCUSDT"] + 1)  # the grid of deeper levels stays
    commands = m.step_makers()
    assert [type(c) for c in commands] == [AmendOrder, AmendOrder]
    m.assert_on_target()


def test_the_book_follows_a_random_walk_with_few_commands() -> None:
    m = Market()
    config = m.makers["BTCUSDT"].config
    feed = SyntheticFeed(m.index["BTCUSDT"], 7, volatility=Decimal("1.5"), start_ms=T0 + 1000)
    sent = 0
    steps = 300
    for _ in range(steps):
        ts, price = next(feed)
        m.now = ts
        m.set_index("BTCUSDT", price)
        commands = m.step_makers()
        sent += len(commands)
        assert all(type(c) is not CancelOrder for c in commands)  # moves are amends
        m.assert_on_target()
        bids, asks = m.book()
        assert bids[0][0] == price - config.spread_ticks
        assert asks[0][0] == price + config.spread_ticks
        assert len(bids) == len(asks) == config.levels
    # A full requote would cancel and place 20 orders each second; the diff sends a few.
    assert sent < steps * 8


@pytest.mark.parametrize("jump_ppm", [30_000, -30_000, 45_000, -45_000])
def test_index_jumps_through_the_quotes_without_rejection(jump_ppm: int) -> None:
    m = Market()
    config = m.makers["BTCUSDT"].config
    for _ in range(3):
        m.advance()
        price = m.index["BTCUSDT"] * (1_000_000 + jump_ppm) // 1_000_000
        m.set_index("BTCUSDT", price)
        events = apply_ok(m.venue, m.makers["BTCUSDT"].step(m.venue, m.now))
        # no post-only quote was ever cancelled by the book for crossing
        assert not [e for e in events if type(e) is OrderCanceled]
        bids, asks = m.book()
        assert bids[0][0] == price - config.spread_ticks
        assert asks[0][0] == price + config.spread_ticks
        m.assert_on_target()


def test_quotes_step_aside_from_other_accounts_orders() -> None:
    m = Market()
    config = m.makers["BTCUSDT"].config
    index = m.index["BTCUSDT"]
    # A user bids inside the spread, then the index falls below that bid.
    m.user("BTCUSDT", Side.BUY, 100, price=index + 10)
    m.user("BTCUSDT", Side.SELL, 100, price=index + 30)
    m.advance()
    m.set_index("BTCUSDT", index - 500)
    m.step_makers()  # no rejection (apply_ok), though its ask would have been below the bid
    bids, _ = m.book()
    maker_asks = [o.price or 0 for o in
                  m.venue.accounts[MAKER].positions["BTCUSDT"].orders.values()
                  if o.side is Side.SELL]
    assert min(maker_asks) == index + 11
    assert bids[0] == (index + 10, 100)
    assert max(p for p, _ in bids[1:]) == index - 500 - config.spread_ticks
    m.assert_on_target()


@pytest.mark.parametrize("symbol", sorted(PRICES))
def test_user_market_orders_of_normal_size_fill(symbol: str) -> None:
    m = Market(PRICES)
    inst = INSTRUMENTS[symbol]
    rng = random.Random(symbol)
    for _ in range(30):
        m.advance()
        m.set_index(symbol, m.index[symbol] + rng.randrange(-100, 101) * m.makers[symbol]
                    .config.step_ticks // 10)
        m.step_makers()
        notional = rng.randrange(100, 50_000) * USDT  # up to 50,000 USDT
        lots = max(min_lots(inst, m.index[symbol]),
                   notional // (m.index[symbol] * inst.atoms_per_tick_lot))
        side = Side.BUY if rng.randrange(2) else Side.SELL
        events = m.user(symbol, side, lots)
        assert filled_lots(events, USER) == lots
        assert not [e for e in events if type(e) is OrderExpired]


def test_inventory_skews_the_quotes_after_a_hit() -> None:
    m = Market()
    config = m.makers["BTCUSDT"].config
    index = m.index["BTCUSDT"]
    m.user("BTCUSDT", Side.SELL, 2 * config.size_lots)  # takes the two best bids
    assert m.maker_position() == 2 * config.size_lots
    m.advance()
    m.step_makers()
    skew = 2 * config.skew_ticks_per_level
    assert skew > 0
    bids, asks = m.book()
    assert bids[0][0] == index - config.spread_ticks - skew
    assert asks[0][0] == index + config.spread_ticks - skew
    m.assert_on_target()
    # and back: the user buys it all back and some; the maker turns short, quotes rise
    m.user("BTCUSDT", Side.BUY, 3 * config.size_lots)
    assert m.maker_position() == -config.size_lots
    m.advance()
    m.step_makers()
    bids, asks = m.book()
    assert bids[0][0] == index - config.spread_ticks + config.skew_ticks_per_level
    assert asks[0][0] == index + config.spread_ticks + config.skew_ticks_per_level


def test_the_maker_never_holds_more_than_max_inventory() -> None:
    m = Market(max_inventory_lots=1500)
    config = m.makers["BTCUSDT"].config
    seen = []
    for _ in range(8):
        events = m.user("BTCUSDT", Side.SELL, 700)
        assert filled_lots(events, USER) <= 700
        seen.append(m.maker_position())
        assert 0 < m.maker_position() <= config.max_inventory_lots
        m.advance()
        m.step_makers()
        bid_lots = sum(lots for _, lots in m.book()[0])
        assert m.maker_position() + bid_lots <= config.max_inventory_lots
    assert seen[-1] == config.max_inventory_lots  # it got there, and stopped bidding
    assert m.book()[0] == []
    # still offering, as much as takes it to the limit the other way
    assert sum(lots for _, lots in m.book()[1]) == 2 * config.max_inventory_lots


def test_a_poor_maker_quotes_only_what_it_can_afford() -> None:
    m = Market(deposit=10_000 * USDT)  # at leverage 10: margin for about 3 levels a side
    bids, asks = m.book()
    assert len(bids) == len(asks) == 3
    # it loses money on a position; it quotes less, and is never rejected
    config = m.makers["BTCUSDT"].config
    m.user("BTCUSDT", Side.SELL, 3 * config.size_lots)
    for drop in range(1, 6):
        m.advance()
        m.set_index("BTCUSDT", m.index["BTCUSDT"] - 300 * drop)
        m.step_makers()
    bids, asks = m.book()
    assert len(bids) < 3  # buying more would need margin it no longer has...
    assert sum(lots for _, lots in asks) >= m.maker_position()  # ...selling it out does not


def test_a_restarted_maker_takes_over_its_orders() -> None:
    m = Market()
    old = m.makers["BTCUSDT"]
    config = MarketMakerConfig(**{**_fields(old.config), "levels": 12})
    new = MarketMaker(old.account, "BTCUSDT", config)
    m.makers["BTCUSDT"] = new
    m.advance()
    m.set_index("BTCUSDT", m.index["BTCUSDT"] + 3_000)
    commands = m.step_makers()  # the new maker's ids skip the old ones in use
    placed = [c for c in commands if type(c) is PlaceOrder]
    assert [c.client_order_id for c in placed] == ["mm-BTCUSDT-21", "mm-BTCUSDT-22",
                                                   "mm-BTCUSDT-23", "mm-BTCUSDT-24"]
    m.assert_on_target()


def test_nothing_to_do_without_a_price_or_an_account() -> None:
    venue = Venue(INSTRUMENTS)
    maker = MarketMaker(MAKER, "BTCUSDT", default_config(INSTRUMENTS["BTCUSDT"], 600_000))
    assert maker.step(venue, T0) == []
    apply_ok(venue, maker.setup_commands(T0))
    assert maker.step(venue, T0) == []
    apply_ok(venue, [SetIndexPrice(T0, "BTCUSDT", 600_000)])
    assert maker.step(venue, T0)


# ==================================================================== property: any flow


actions = st.lists(st.tuples(
    st.sampled_from(["index", "market", "limit", "time"]),
    st.integers(-60_000, 60_000),  # index move in ppm, or a price offset in ticks x 10
    st.integers(1, 3_000),  # lots
    st.booleans(),  # side
), min_size=1, max_size=25)


@settings(max_examples=40)
@given(actions=actions)
def test_the_maker_is_never_rejected_and_money_is_conserved(
        actions: list[tuple[str, int, int, bool]]) -> None:
    m = Market()
    config = m.makers["BTCUSDT"].config
    for kind, amount, lots, buy in actions:
        side = Side.BUY if buy else Side.SELL
        if kind == "index":
            m.set_index("BTCUSDT", max(1, m.index["BTCUSDT"] * (1_000_000 + amount)
                                       // 1_000_000))
        elif kind == "time":
            m.advance(abs(amount) % 3_000)
        else:
            # Users' orders may be rejected (band, margin): only the maker's may not.
            price = m.index["BTCUSDT"] + amount // 10 if kind == "limit" else None
            order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
            m.venue.apply(PlaceOrder(m.now, USER, "BTCUSDT", side, order_type, lots, price))
            assert m.venue.conservation_gap() == 0
        m.step_makers()
        assert abs(m.maker_position()) <= config.max_inventory_lots
        mine = m.venue.accounts[MAKER].positions["BTCUSDT"].orders.values()
        bids = [o.price for o in mine if o.side is Side.BUY and o.price is not None]
        asks = [o.price for o in mine if o.side is Side.SELL and o.price is not None]
        if bids and asks:
            assert max(bids) < min(asks)
