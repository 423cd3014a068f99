"""The simulated-time driver: steps a clock, pulls index feeds, and feeds the venue commands.

Each step at time ``now`` (then ``now + tick_ms``, ...):

1. for each symbol in sorted order, the newest feed value due at or before ``now`` becomes
   ``SetIndexPrice(now, symbol, ticks)``; older values due in the same step are skipped
   (counted as ``coalesced``): the driver's resolution is ``tick_ms``, so choose it no coarser
   than the feeds you want replayed point by point;
2. a step without any index update applies ``Tick(now)`` instead, so that scheduled work
   (funding) falls due even when no price moves;
3. ``on_step(now, events)`` runs with the step's events, and may ``submit`` more commands
   (agents, tests, scripted shocks), which are stamped with ``now``.

The driver only feeds the venue: it never reads what the venue answers beyond counting events
and rejections for its stats. The wall clock is read only for ``DriverStats.wall_ns``, never
passed to the venue, which sees simulated time alone.

``python -m exchange.sim.driver --days 1`` runs the default instruments under synthetic feeds
at one-second ticks with two accounts' resting orders, and prints one JSON line of figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from typing import Protocol

from exchange.config import load_instruments
from exchange.core.commands import (
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetIndexPrice,
    SetMarkPrice,
    Tick,
)
from exchange.core.events import Event, Rejected
from exchange.core.instruments import Instrument
from exchange.core.orders import OrderType
from exchange.core.units import ATOMS_PER_USDT
from exchange.core.venue import Venue
from exchange.feeds.synthetic import SyntheticFeed
from exchange.sim.clock import SimClock
from matching import Side

Feed = Iterable[tuple[int, int]]
"""An index feed: ``(ts_ms, price_ticks)`` pairs with non-decreasing timestamps."""


class VenueLike(Protocol):
    """What the driver feeds: a ``Venue``, or a sequencer that journals before applying."""

    def apply(self, command: Command) -> list[Event]: ...


@dataclass(frozen=True, slots=True)
class DriverStats:
    """What one ``run_until`` did. ``wall_ns`` is measured, the rest are counts."""

    start_ms: int
    end_ms: int
    steps: int
    commands: int  # all commands applied: index updates, ticks and submitted ones
    events: int
    index_updates: int
    ticks: int
    submitted: int
    coalesced: int  # feed values skipped because a newer one was due in the same step
    rejected: int
    rejected_by_command: Mapping[str, int]
    wall_ns: int

    @property
    def simulated_ms(self) -> int:
        return self.end_ms - self.start_ms

    def as_dict(self) -> dict[str, object]:
        """The figures as JSON-ready integers (no floats: seconds are whole, time is in ms)."""
        wall_ms = self.wall_ns // 1_000_000
        return {
            "simulated_s": self.simulated_ms // 1000,
            "wall_ms": wall_ms,
            # How many simulated ms pass per wall ms, rounded down.
            "speedup": self.simulated_ms // max(1, wall_ms),
            "steps": self.steps,
            "commands": self.commands,
            "events": self.events,
            "index_updates": self.index_updates,
            "ticks": self.ticks,
            "submitted": self.submitted,
            "coalesced": self.coalesced,
            "rejected": self.rejected,
            "rejected_by_command": dict(sorted(self.rejected_by_command.items())),
        }


@dataclass(slots=True)
class _Counts:
    steps: int = 0
    commands: int = 0
    events: int = 0
    index_updates: int = 0
    ticks: int = 0
    submitted: int = 0
    coalesced: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def record(self, events: list[Event]) -> None:
        self.commands += 1
        self.events += len(events)
        for event in events:
            if type(event) is Rejected:
                self.rejected[event.command] = self.rejected.get(event.command, 0) + 1


class _Source:
    """One symbol's feed, with the next value read ahead so that its due time is known."""

    __slots__ = ("iterator", "last_ts", "pending", "symbol")

    def __init__(self, symbol: str, feed: Feed) -> None:
        self.symbol = symbol
        self.iterator: Iterator[tuple[int, int]] = iter(feed)
        self.last_ts: int | None = None
        self.pending: tuple[int, int] | None = None
        self.pull()

    def pull(self) -> None:
        value = next(self.iterator, None)
        if value is not None:
            # A bad value stops the run here, naming the feed, rather than reaching the venue
            # as a command it rejects step after step.
            if (not isinstance(value, tuple) or len(value) != 2 or type(value[0]) is not int
                    or type(value[1]) is not int or value[1] < 1):
                raise ValueError(f"the {self.symbol} feed gave {value!r}: feeds yield "
                                 "(ts_ms, price_ticks) with integer ms and ticks >= 1")
            if self.last_ts is not None and value[0] < self.last_ts:
                raise ValueError(f"the {self.symbol} feed went back in time, from "
                                 f"{self.last_ts} to {value[0]}: timestamps must not decrease")
            self.last_ts = value[0]
        self.pending = value


class Driver:
    """Steps simulated time over a venue, feeding it index prices and ticks.

    ``start_ms`` defaults to the earliest first timestamp of the feeds (the feeds are read one
    value ahead when the driver is built).
    """

    def __init__(self, venue: VenueLike, feeds: Mapping[str, Feed], *, tick_ms: int = 1000,
                 start_ms: int | None = None,
                 on_step: Callable[[int, list[Event]], None] | None = None) -> None:
        if isinstance(tick_ms, bool) or not isinstance(tick_ms, int) or tick_ms < 1:
            raise ValueError(f"tick_ms is {tick_ms!r}: give an int of 1 or more (1000 = 1 s)")
        for symbol in feeds:
            if not isinstance(symbol, str):
                raise TypeError(f"feeds are keyed by symbol, such as 'BTCUSDT', not {symbol!r}")
        self.venue = venue
        self.tick_ms = tick_ms
        self.on_step = on_step
        self._sources = [_Source(symbol, feeds[symbol]) for symbol in sorted(feeds)]
        if start_ms is None:
            firsts = [s.pending[0] for s in self._sources if s.pending is not None]
            if not firsts:
                raise ValueError("no feed has a value to start from: give start_ms")
            start_ms = min(firsts)
        self.clock = SimClock(start_ms)
        self._counts = _Counts()

    @property
    def now(self) -> int:
        return self.clock.now

    def submit(self, command_factory: Callable[[int], Command]) -> list[Event]:
        """Apply ``command_factory(now)``, such as ``lambda ts: PlaceOrder(ts, ...)``."""
        events = self.venue.apply(command_factory(self.clock.now))
        self._counts.record(events)
        self._counts.submitted += 1
        return events

    def step(self) -> list[Event]:
        """Run the step at ``now`` and advance the clock by ``tick_ms``; return its events."""
        now = self.clock.now
        counts = self._counts
        apply = self.venue.apply
        events: list[Event] = []
        updated = False
        for source in self._sources:
            due: tuple[int, int] | None = None
            while source.pending is not None and source.pending[0] <= now:
                if due is not None:
                    counts.coalesced += 1
                due = source.pending
                source.pull()
            if due is not None:
                out = apply(SetIndexPrice(now, source.symbol, due[1]))
                counts.record(out)
                counts.index_updates += 1
                events.extend(out)
                updated = True
        if not updated:
            out = apply(Tick(now))
            counts.record(out)
            counts.ticks += 1
            events.extend(out)
        counts.steps += 1
        if self.on_step is not None:
            self.on_step(now, events)
        self.clock.advance(self.tick_ms)
        return events

    def run_until(self, end_ms: int) -> DriverStats:
        """Run every step from ``now`` up to, not including, ``end_ms``; then ``now == end_ms``.

        ``end_ms - now`` must be a whole number of ticks, so that runs chain without gaps.
        """
        start = self.clock.now
        if isinstance(end_ms, bool) or not isinstance(end_ms, int):
            raise TypeError(f"end_ms must be an int of ms, not {end_ms!r}")
        if end_ms < start:
            raise ValueError(f"cannot run until {end_ms}: it is before now ({start})")
        if (end_ms - start) % self.tick_ms:
            steps = (end_ms - start) // self.tick_ms
            raise ValueError(f"end_ms {end_ms} is not a whole number of {self.tick_ms} ms ticks "
                             f"after now ({start}): use {start + steps * self.tick_ms} or "
                             f"{start + (steps + 1) * self.tick_ms}")
        self._counts = _Counts()
        began = time.perf_counter_ns()
        step = self.step
        for _ in range((end_ms - start) // self.tick_ms):
            step()
        wall_ns = time.perf_counter_ns() - began
        c = self._counts
        return DriverStats(start, self.clock.now, c.steps, c.commands, c.events, c.index_updates,
                           c.ticks, c.submitted, c.coalesced, sum(c.rejected.values()),
                           dict(c.rejected), wall_ns)


# ==================================================================== the demo run

DEMO_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
# Starting index price and annualised volatility of the demo feeds, per default symbol.
DEMO_MARKETS: dict[str, tuple[str, Decimal]] = {
    "BTCUSDT": ("60000", Decimal("0.8")),
    "ETHUSDT": ("3000", Decimal("1.0")),
    "SOLUSDT": ("150", Decimal("1.2")),
}
DEMO_DEPOSIT_USDT = 1_000_000
DEMO_ORDER_USDT = 1_000  # notional of each resting demo order
DEMO_LEVELS = 4  # resting orders each side, 1% apart


def feed_seed(seed: int, symbol: str) -> int:
    """A seed per symbol, derived from one run seed: independent streams that a new symbol
    does not shift (hash, not position)."""
    digest = hashlib.sha256(f"{seed}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def demo_feeds(instruments: Mapping[str, Instrument], seed: int, *,
               start_ms: int = DEMO_START_MS, step_ms: int = 1000) -> dict[str, SyntheticFeed]:
    """Synthetic feeds for the instruments that ``DEMO_MARKETS`` knows."""
    feeds = {}
    for symbol, (price, volatility) in DEMO_MARKETS.items():
        inst = instruments.get(symbol)
        if inst is not None:
            feeds[symbol] = SyntheticFeed(inst.parse_price(price), feed_seed(seed, symbol),
                                          volatility=volatility, start_ms=start_ms,
                                          step_ms=step_ms)
    return feeds


def demo_setup(venue: VenueLike, instruments: Mapping[str, Instrument],
               start_ms: int = DEMO_START_MS) -> list[Event]:
    """Two funded accounts, a starting mark per demo symbol, and a ladder of resting orders:
    account 1 bids 1%, 2%, ... below the start, account 2 offers as far above."""
    events: list[Event] = []
    for account in (1, 2):
        events += venue.apply(CreateAccount(start_ms, account))
        events += venue.apply(Deposit(start_ms, account, DEMO_DEPOSIT_USDT * ATOMS_PER_USDT))
    for symbol, (price_text, _) in DEMO_MARKETS.items():
        inst = instruments.get(symbol)
        if inst is None:
            continue
        price = inst.parse_price(price_text)
        # Orders need a mark to be checked against; the feeds take over from the first step.
        events += venue.apply(SetMarkPrice(start_ms, symbol, price, price))
        for level in range(1, DEMO_LEVELS + 1):
            for account, side in ((1, Side.BUY), (2, Side.SELL)):
                limit = price - side * price * level // 100
                per_lot = limit * inst.atoms_per_tick_lot
                lots = max(inst.min_qty, -(-DEMO_ORDER_USDT * ATOMS_PER_USDT // per_lot))
                events += venue.apply(PlaceOrder(start_ms, account, symbol, side,
                                                 OrderType.LIMIT, lots, limit))
    return events


def _days_ms(text: str) -> int:
    try:
        days = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days, such as 1 or "
                                         "0.25") from None
    if not days.is_finite():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days, such as 1 or 0.25")
    # A private context: exact for any sensible text, and unaffected by the global one.
    ctx = Context(prec=64)
    ms = ctx.multiply(days, Decimal(86_400_000))
    if ms <= 0 or ms != ctx.to_integral_value(ms):
        raise argparse.ArgumentTypeError(f"{text!r} days is not a positive whole number of "
                                         "ms: give a number of days such as 1 or 0.25")
    return int(ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.sim.driver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=_days_ms, default=_days_ms("1"),
                        help="simulated days to run (default 1; fractions such as 0.25 work)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic feeds")
    parser.add_argument("--tick-ms", type=int, default=1000,
                        help="simulated ms per step, and the feeds' spacing (default 1000)")
    args = parser.parse_args(argv)
    if args.tick_ms < 1:
        parser.error(f"--tick-ms is {args.tick_ms}: give 1 or more (1000 = one second)")
    if args.days % args.tick_ms:
        parser.error(f"--days is {args.days} ms, not a whole number of {args.tick_ms} ms "
                     "steps: choose days and --tick-ms that divide evenly")

    instruments = load_instruments()
    venue = Venue(instruments)
    setup_events = demo_setup(venue, instruments)
    feeds = demo_feeds(instruments, args.seed, step_ms=args.tick_ms)
    driver = Driver(venue, feeds, tick_ms=args.tick_ms, start_ms=DEMO_START_MS)
    stats = driver.run_until(DEMO_START_MS + args.days)
    figures: dict[str, object] = {
        **stats.as_dict(),
        "symbols": sorted(feeds),
        "seed": args.seed,
        "setup_rejected": sum(type(e) is Rejected for e in setup_events),
        "open_orders": len(venue.orders),
        "conservation_gap": venue.conservation_gap(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
