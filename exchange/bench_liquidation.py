"""Liquidation benchmark: ``python -m exchange.bench_liquidation [--positions N]``.

Builds N open BTCUSDT positions through the venue's own commands (pairs of accounts: a short
rests a sell at the mark, a long lifts it; one long in five at 50x, the rest at 2x-5x, cross and
isolated), and a market maker bidding deep under the market. Then it measures:

- quiet ticks: mark updates of a tick or two that liquidate nobody; the time of each
  ``SetMarkPrice`` through the whole pipeline (triggers, margin calls, liquidation check);
- a crash: the mark steps down 0.25% at a time until 6% lower, the maker re-bidding under the
  market between steps (outside the timing). Every liquidation goes through the book at its
  bankruptcy price; the time is that of the crash's ``SetMarkPrice`` commands.

Each timed phase starts from a collected heap (``gc.collect()``): with a million positions
the process holds about five million objects that the cyclic garbage collector tracks, and a
full collection of them (about 1.5 s here) falls every time a quarter as many new ones have
survived, wherever that happens to be. Whether one lands inside the crash's few seconds
depended on how the setup happened to end, and swung the liquidation rate by half.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sys
import time

from exchange.config import load_instruments
from exchange.core.commands import (
    CancelAllOrders,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
    SetMarkPrice,
)
from exchange.core.events import LiquidationStarted, Rejected
from exchange.core.orders import MarginMode, OrderType
from exchange.core.venue import Venue
from matching import Side

SYMBOL = "BTCUSDT"
USDT = 10**8
MAKER = 0
START = 600_000  # 60,000.0 USDT in ticks


def build(venue: Venue, positions: int, seed: int) -> tuple[int, int]:
    """Open ``positions`` positions (half long, half short); returns (setup rejections, the
    last timestamp used). The whole setup happens within one millisecond-stamped second per
    pair, well inside one funding interval, so no funding falls due during it."""
    rng = random.Random(seed)
    rejected = 0
    ts = 1

    def apply(command: object) -> None:
        nonlocal rejected
        events = venue.apply(command)
        if type(events[0]) is Rejected:
            rejected += 1

    apply(SetMarkPrice(ts, SYMBOL, START, START))
    apply(CreateAccount(ts, MAKER))
    apply(Deposit(ts, MAKER, 10**11 * USDT))
    apply(SetLeverage(ts, MAKER, SYMBOL, 1))
    lots = 10  # 0.01 BTC: 600 USDT of notional
    for pair in range(positions // 2):
        short, long = 1 + 2 * pair, 2 + 2 * pair
        ts += 1
        leverage = 50 if pair % 5 == 0 else rng.choice((2, 3, 4, 5))
        apply(CreateAccount(ts, short))
        apply(Deposit(ts, short, 10_000 * USDT))
        apply(CreateAccount(ts, long))
        # Margin for the leverage, with a little to spare for the fee.
        apply(Deposit(ts, long, 600 * USDT * 11 // (10 * leverage) + USDT))
        if pair % 3 == 0:
            apply(SetMarginMode(ts, long, SYMBOL, MarginMode.ISOLATED))
        apply(SetLeverage(ts, long, SYMBOL, leverage))
        apply(PlaceOrder(ts, short, SYMBOL, Side.SELL, OrderType.LIMIT, lots, START))
        apply(PlaceOrder(ts, long, SYMBOL, Side.BUY, OrderType.MARKET, lots))
    return rejected, ts


def bid_ladder(venue: Venue, ts: int, mark: int) -> None:
    """The maker's bids: 200 BTC at each of 40 levels, 0.1% apart, under the mark."""
    venue.apply(CancelAllOrders(ts, MAKER, SYMBOL))
    for level in range(1, 41):
        price = mark * (1000 - level) // 1000
        venue.apply(PlaceOrder(ts, MAKER, SYMBOL, Side.BUY, OrderType.LIMIT, 200_000, price))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.bench_liquidation",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--quiet-ticks", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.positions < 2 or args.quiet_ticks < 1:
        parser.error("--positions must be at least 2 and --quiet-ticks at least 1")

    venue = Venue(load_instruments())
    setup_start = time.perf_counter()
    rejected, ts = build(venue, args.positions, args.seed)
    setup_s = time.perf_counter() - setup_start
    open_positions = len(venue.holders[SYMBOL])
    ts += 1
    bid_ladder(venue, ts, START)
    # The first tick after the setup computes every new position's watch keys: not a quiet
    # tick, so it is applied (and timed) apart.
    ts += 1
    start = time.perf_counter_ns()
    venue.apply(SetMarkPrice(ts, SYMBOL, START, START))
    first_tick_ms = (time.perf_counter_ns() - start) // 1_000_000

    # Quiet ticks: one or two ticks up and down around the start, nobody due.
    gc.collect()
    quiet_ns = 0
    quiet_liquidations = 0
    for i in range(args.quiet_ticks):
        ts += 1
        mark = START + (i % 3) - 1
        start = time.perf_counter_ns()
        events = venue.apply(SetMarkPrice(ts, SYMBOL, mark, mark))
        quiet_ns += time.perf_counter_ns() - start
        quiet_liquidations += sum(1 for e in events if type(e) is LiquidationStarted)

    # The crash: 0.25% steps down to -6%.
    gc.collect()
    crash_ns = 0
    liquidations = 0
    mark = START
    while mark > START * 94 // 100:
        mark = mark * 9975 // 10000
        ts += 1
        start = time.perf_counter_ns()
        events = venue.apply(SetMarkPrice(ts, SYMBOL, mark, mark))
        crash_ns += time.perf_counter_ns() - start
        liquidations += sum(1 for e in events if type(e) is LiquidationStarted)
        bid_ladder(venue, ts, mark)

    print(json.dumps({
        "positions": open_positions,
        "setup_rejected": rejected,
        "setup_s": round(setup_s, 1),
        "first_tick_ms": first_tick_ms,
        "quiet_ticks": args.quiet_ticks,
        "quiet_liquidations": quiet_liquidations,
        "us_per_quiet_tick": round(quiet_ns / args.quiet_ticks / 1000, 2),
        "liquidations": liquidations,
        "crash_s": round(crash_ns / 1e9, 3),
        "liquidations_per_s": int(liquidations / (crash_ns / 1e9)) if crash_ns else 0,
        "insurance_fund": venue.insurance_fund,
        "conservation_gap": venue.conservation_gap(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "python": sys.version.split()[0],
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
