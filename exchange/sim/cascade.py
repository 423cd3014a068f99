"""A liquidation cascade under simulated time: ``python -m exchange.sim.cascade``.

Many leveraged longs (leverage 2x-100x, some isolated) bought from a few shorts, a thin ladder
of bids below the market, then the index crashes (default -30% over 5 minutes). The driver
steps the index each second; every mark update liquidates who must be. The report counts
liquidations, ADL fills and the insurance fund's path, and checks what must hold: nobody left
at or past 100% margin ratio, no negative wallet, money conserved to the atom. The last line
printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from decimal import Decimal

from exchange.config import load_instruments
from exchange.core import liquidation
from exchange.core.commands import (
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetLeverage,
    SetMarginMode,
)
from exchange.core.events import (
    AdlFilled,
    Event,
    InsuranceFundChanged,
    LiquidationFilled,
    LiquidationStarted,
    MarginCall,
    PositionTakenOver,
    Rejected,
)
from exchange.core.orders import MarginMode, OrderType
from exchange.core.units import PPM
from exchange.core.venue import Venue
from exchange.feeds.synthetic import Crash, SyntheticFeed
from exchange.sim.driver import Driver
from matching import Side

SYMBOL = "BTCUSDT"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
USDT = 10**8


@dataclass
class CascadeReport:
    traders: int
    liquidations: int = 0
    margin_calls: int = 0
    taken_over: int = 0
    partial_steps: int = 0
    liquidation_fills: int = 0
    adl_fills: int = 0
    fund_before: int = 0
    fund_after: int = 0
    fund_deltas: int = 0
    fund_min: int = 0
    index_start: int = 0
    index_end: int = 0
    rejected_setup: int = 0
    conservation_gap: int = 0
    negative_wallets: int = 0
    left_past_100pct: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items()}


def run_cascade(traders: int = 300, seed: int = 7, crash: str = "-30%/5m@60s",
                minutes: int = 10, fund_usdt: int = 20_000,
                ladder_lots: int = 500) -> CascadeReport:
    """Run one cascade; ``ladder_lots`` is the bid at each of the 9 levels (500: 0.5 BTC)."""
    instruments = load_instruments()
    inst = instruments[SYMBOL]
    venue = Venue(instruments)
    rng = random.Random(seed)
    report = CascadeReport(traders)
    start_price = inst.parse_price("60000")
    feed = SyntheticFeed(start_price, seed, volatility=Decimal("0.5"), start_ms=START_MS,
                         crashes=(Crash.parse(crash, START_MS),))
    driver = Driver(venue, {SYMBOL: feed}, start_ms=START_MS)
    # The insurance fund starts with a seed, as real funds do (it counts as money put in).
    venue.insurance_fund = fund_usdt * USDT
    venue.deposits += fund_usdt * USDT
    report.fund_before = venue.insurance_fund

    def submit(command_factory: object) -> list[Event]:
        events = driver.submit(command_factory)  # type: ignore[arg-type]
        if events and type(events[0]) is Rejected:
            report.rejected_setup += 1
        return events

    driver.step()  # the first index price
    shorts = [10_001, 10_002, 10_003]
    provider = 10_000
    for account, usdt in [(provider, 50_000_000), *[(a, 2_000_000) for a in shorts]]:
        submit(lambda ts, a=account: CreateAccount(ts, a))
        submit(lambda ts, a=account, u=usdt: Deposit(ts, a, u * USDT))
    mark = venue.marks[SYMBOL]
    # Longs buy from the shorts' asks at the mark.
    for i in range(1, traders + 1):
        leverage = rng.choice((2, 3, 5, 10, 20, 25, 50, 75, 100))
        margin_usdt = rng.randint(200, 5_000)
        notional = margin_usdt * leverage * USDT
        cap = inst.max_notional_for_leverage(leverage)
        if cap is not None:
            notional = min(notional, cap)
        # 90% of what the margin allows: room for the fee and the open loss.
        lots = max(inst.min_qty * 2, notional * 9 // 10 // (mark * inst.atoms_per_tick_lot))
        submit(lambda ts, a=i: CreateAccount(ts, a))
        submit(lambda ts, a=i, m=margin_usdt: Deposit(ts, a, m * USDT))
        if rng.randrange(10) < 3:  # three in ten isolated
            submit(lambda ts, a=i: SetMarginMode(ts, a, SYMBOL, MarginMode.ISOLATED))
        submit(lambda ts, a=i, lev=leverage: SetLeverage(ts, a, SYMBOL, lev))
        seller = shorts[i % len(shorts)]
        submit(lambda ts, s=seller, q=lots: PlaceOrder(ts, s, SYMBOL, Side.SELL, OrderType.LIMIT,
                                                      q, mark))
        submit(lambda ts, a=i, q=lots: PlaceOrder(ts, a, SYMBOL, Side.BUY, OrderType.MARKET, q))
    # A thin ladder of bids under the market: 0.5 BTC every 0.5%, as deep as the 5% price
    # band lets a bid rest.
    for step in range(1, 10):
        price = mark * (1000 - 5 * step) // 1000
        submit(lambda ts, p=price: PlaceOrder(ts, provider, SYMBOL, Side.BUY, OrderType.LIMIT,
                                              ladder_lots, p))
    report.index_start = venue.markets[SYMBOL].index or 0

    fund_min = venue.insurance_fund

    def watch(now: int, events: list[Event]) -> None:
        nonlocal fund_min
        for e in events:
            kind = type(e)
            if kind is LiquidationStarted:
                report.liquidations += 1
            elif kind is MarginCall:
                report.margin_calls += 1
            elif kind is PositionTakenOver:
                report.taken_over += 1
                assert isinstance(e, PositionTakenOver)
                report.partial_steps += e.partial
            elif kind is LiquidationFilled:
                report.liquidation_fills += 1
            elif kind is AdlFilled:
                report.adl_fills += 1
            elif kind is InsuranceFundChanged:
                assert isinstance(e, InsuranceFundChanged)
                report.fund_deltas += e.delta
                fund_min = min(fund_min, e.balance)

    driver.on_step = watch
    driver.run_until(driver.now + minutes * 60_000)
    report.fund_after = venue.insurance_fund
    report.fund_min = fund_min
    report.index_end = venue.markets[SYMBOL].index or 0
    report.conservation_gap = venue.conservation_gap()
    for account_id, acct in venue.accounts.items():
        if acct.wallet < 0 or any(p.isolated_wallet < 0 for p in acct.positions.values()):
            report.negative_wallets += 1
            report.problems.append(f"negative wallet: account {account_id}")
        pos = acct.positions[SYMBOL]
        if not pos.size:
            continue
        if pos.mode is MarginMode.ISOLATED:
            ratio = liquidation.isolated_ratio(venue, pos)
        else:
            ratio = liquidation.cross_ratio(venue, acct)
        if ratio is not None and ratio >= PPM:
            report.left_past_100pct += 1
            report.problems.append(f"account {account_id} left at ratio {ratio} ppm")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.sim.cascade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--crash", default="-30%/5m@60s")
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args(argv)
    report = run_cascade(args.traders, args.seed, args.crash, args.minutes)
    print(json.dumps(report.as_dict()))
    return 0 if not report.problems and report.conservation_gap == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
