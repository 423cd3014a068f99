"""The noise trader: random small taker orders at a seeded rate, against the built-in maker."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import partial

import pytest

from exchange.agents import Agent, MarketMaker, NoiseConfig, NoiseTrader, default_config
from exchange.config import load_instruments
from exchange.core.commands import Command, PlaceOrder, SetIndexPrice
from exchange.core.events import Event, OrderFilled, Rejected, Traded
from exchange.core.orders import OrderType
from exchange.core.units import ATOMS_PER_USDT
from exchange.core.venue import Venue
from exchange.feeds.synthetic import SyntheticFeed
from exchange.sim.driver import Driver
from matching import TimeInForce

T0 = 1_767_225_600_000
INSTRUMENTS = load_instruments()
START = {"BTCUSDT": INSTRUMENTS["BTCUSDT"].parse_price("60000"),
         "ETHUSDT": INSTRUMENTS["ETHUSDT"].parse_price("3000")}
NOISE = 50
USDT = ATOMS_PER_USDT


def apply_ok(venue: Venue, commands: Iterable[Command]) -> list[Event]:
    out: list[Event] = []
    for command in commands:
        events = venue.apply(command)
        assert not [e for e in events if type(e) is Rejected], (command, events)
        assert venue.conservation_gap() == 0
        out += events
    return out


def run(seed: int, seconds: int, config: NoiseConfig | None = None, *,
        makers: bool = True) -> tuple[Venue, list[Command], list[Event], list[int]]:
    """Makers on BTC and ETH, a noise trader on both, index random walks, 1 s steps.
    Returns the venue, the noise trader's commands, all events, and the noise trader's largest
    position notional (atoms at mark) per second."""
    venue = Venue(INSTRUMENTS)
    feeds = {s: SyntheticFeed(p, 11 + n, volatility=Decimal("0.8"), start_ms=T0)
             for n, (s, p) in enumerate(sorted(START.items()))}
    noise = NoiseTrader(NOISE, START, seed, config)
    agents: list[MarketMaker | NoiseTrader] = []
    events: list[Event] = []
    for n, (symbol, price) in enumerate(sorted(START.items())):
        events += apply_ok(venue, [SetIndexPrice(T0, symbol, price)])
        if makers:
            maker = MarketMaker(100 + n, symbol, default_config(INSTRUMENTS[symbol], price))
            events += apply_ok(venue, maker.setup_commands(T0))
            agents.append(maker)
    events += apply_ok(venue, noise.setup_commands(T0))
    agents.append(noise)
    sent: list[Command] = []
    exposure: list[int] = []
    for _ in range(seconds):
        ts = T0
        for symbol, feed in feeds.items():
            ts, price = next(feed)
            events += apply_ok(venue, [SetIndexPrice(ts, symbol, price)])
        for agent in agents:
            commands = agent.step(venue, ts)
            if agent is noise:
                sent += commands
            events += apply_ok(venue, commands)
        positions = venue.accounts[NOISE].positions
        exposure.append(max(positions[s].notional(venue.marks[s]) for s in START))
    return venue, sent, events, exposure


def test_trades_at_about_the_configured_rate_without_rejections() -> None:
    minutes = 20
    venue, sent, events, _ = run(1, minutes * 60, NoiseConfig(rate_per_min=60))
    assert 51 * minutes <= len(sent) <= 69 * minutes  # 60 a minute, within 15%
    orders = [c for c in sent if type(c) is PlaceOrder]
    assert len(orders) == len(sent)
    assert all(c.order_type is OrderType.MARKET for c in orders)
    assert {c.symbol for c in orders} == set(START)
    # every order traded, on the public tape
    taker_fills = {e.order_id for e in events
                   if type(e) is OrderFilled and e.account == NOISE and not e.maker}
    assert len(taker_fills) == len(sent)
    assert sum(type(e) is Traded for e in events) >= len(sent)
    assert venue.conservation_gap() == 0


def test_the_same_seed_gives_the_same_orders_and_events() -> None:
    _, sent_a, events_a, _ = run(7, 120, NoiseConfig(rate_per_min=90))
    _, sent_b, events_b, _ = run(7, 120, NoiseConfig(rate_per_min=90))
    _, sent_c, _, _ = run(8, 120, NoiseConfig(rate_per_min=90))
    assert sent_a == sent_b
    assert events_a == events_b
    assert sent_a != sent_c


def test_the_position_stays_within_its_bound() -> None:
    config = NoiseConfig(rate_per_min=300, min_notional=500 * USDT, max_notional=3_000 * USDT,
                         max_position=10_000 * USDT)
    _, sent, _, exposure = run(3, 300, config)
    assert len(sent) > 1000
    # the bound, plus what a move of the mark adds between orders
    assert max(exposure) <= config.max_position * 101 // 100
    assert max(exposure) >= config.max_position // 2  # it did get near the bound


def test_ioc_limits_near_the_touch() -> None:
    config = NoiseConfig(rate_per_min=120, limit_ticks=3)
    venue, sent, events, _ = run(5, 120, config)
    assert sent and all(c.order_type is OrderType.LIMIT and c.tif is TimeInForce.IOC
                        for c in sent if type(c) is PlaceOrder)
    assert any(type(e) is OrderFilled and e.account == NOISE for e in events)
    assert not [o for o in venue.orders.values() if o.account == NOISE]  # nothing rests


def test_no_orders_into_an_empty_book() -> None:
    _, sent, _, _ = run(1, 60, NoiseConfig(rate_per_min=120), makers=False)
    assert sent == []


def test_catches_up_after_a_pause_within_a_cap() -> None:
    venue = Venue(INSTRUMENTS)
    noise = NoiseTrader(NOISE, ["BTCUSDT"], 1, NoiseConfig(rate_per_min=60))
    apply_ok(venue, [SetIndexPrice(T0, "BTCUSDT", START["BTCUSDT"])])
    maker = MarketMaker(100, "BTCUSDT", default_config(INSTRUMENTS["BTCUSDT"],
                                                       START["BTCUSDT"]))
    apply_ok(venue, [*maker.setup_commands(T0), *noise.setup_commands(T0)])
    apply_ok(venue, maker.step(venue, T0))
    assert noise.step(venue, T0) == []  # the first step only schedules
    burst = noise.step(venue, T0 + 10 * 60_000)  # ten minutes later: about 600 are due
    assert 500 <= len(burst) <= 700
    assert len(noise.step(venue, T0 + 10 * 24 * 3_600_000)) == 1_000  # capped


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="rate_per_min"):
        NoiseConfig(rate_per_min=-1)
    with pytest.raises(ValueError, match="max_notional"):
        NoiseConfig(min_notional=10 * USDT, max_notional=5 * USDT)
    with pytest.raises(ValueError, match="symbol"):
        NoiseTrader(NOISE, [], 1)
    assert NoiseTrader(NOISE, ["BTCUSDT"], 1, NoiseConfig(rate_per_min=0)).step(
        Venue(INSTRUMENTS), T0) == []


def _same(command: Command, ts: int) -> Command:
    assert command.ts == ts  # agents stamp their commands with the step's time already
    return command


def test_agents_run_under_the_sim_driver() -> None:
    """The wiring a caller uses: agents step after each driver step; their commands go in
    through ``submit``, like anyone's."""
    venue = Venue(INSTRUMENTS)
    feeds = {s: SyntheticFeed(p, 21, start_ms=T0) for s, p in START.items()}
    agents: list[Agent] = [
        MarketMaker(100 + n, s, default_config(INSTRUMENTS[s], p))
        for n, (s, p) in enumerate(sorted(START.items()))]
    agents.append(NoiseTrader(NOISE, START, 4, NoiseConfig(rate_per_min=120)))
    for agent in agents:
        apply_ok(venue, agent.setup_commands(T0))
    rejected: list[Event] = []

    def on_step(now: int, _: list[Event]) -> None:
        for agent in agents:
            for command in agent.step(venue, now):
                events = driver.submit(partial(_same, command))
                rejected.extend(e for e in events if type(e) is Rejected)
        assert venue.conservation_gap() == 0

    driver = Driver(venue, feeds, start_ms=T0, on_step=on_step)
    stats = driver.run_until(T0 + 5 * 60_000)
    assert rejected == []
    assert stats.rejected == 0
    trades = venue.next_trade_id - 1
    assert trades >= 480  # about 600 noise orders, each one or more trades
