"""Venue benchmark: ``python -m exchange.bench [--commands N] [--accounts N] [--seed S]``.

Drives the whole core (risk checks, matching, settlement, reduce-only and trigger follow-ups)
with a seeded mixed stream over the default BTCUSDT, ETHUSDT and SOLUSDT: about 55% limit
orders near the mark, 18% cancels by client order id (some of orders already gone, as bots
send them), 10% market orders, 8% IOC orders crossing a few ticks, 5% amends, 3% conditional
orders and 1% mark-price updates, from ``--accounts`` funded accounts.

The stream is built in chunks outside the timed region; each command is timed alone, and the
throughput is the command count over the wall time of the whole timed loop, timer calls
included. It runs with the server's garbage-collector setting (``exchange/gc_tuning.py``).
``--by-kind`` adds where the time goes: per command kind (an order's type and time in force;
rejected commands apart), the count, the mean latency and the share of the time. The last line
printed is one JSON object.
"""

from __future__ import annotations

import argparse
import array
import gc
import json
import random
import resource
import sys
import time
from collections.abc import Iterator

from exchange.config import load_instruments
from exchange.core.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetMarkPrice,
)
from exchange.core.events import Rejected
from exchange.core.orders import OrderType, WorkingType
from exchange.core.venue import Venue
from exchange.gc_tuning import GC_THRESHOLD, tune_gc
from matching import Side, TimeInForce

CHUNK = 10_000
START_TS = 1_700_000_000_000
# Starting marks in ticks: BTC 10,000.0, ETH 2,000.00, SOL 100.000.
START_MARKS = {"BTCUSDT": 100_000, "ETHUSDT": 200_000, "SOLUSDT": 10_000}


def setup(venue: Venue, accounts: int) -> None:
    ts = START_TS
    for account in range(1, accounts + 1):
        venue.apply(CreateAccount(ts, account))
        venue.apply(Deposit(ts, account, 1_000_000 * 10**8))
    for symbol, mark in START_MARKS.items():
        venue.apply(SetMarkPrice(ts, symbol, mark, mark))


def stream(venue: Venue, commands: int, accounts: int, seed: int) -> Iterator[list[Command]]:
    """Yield the seeded command stream in chunks."""
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    symbols = list(START_MARKS)
    marks = dict(START_MARKS)
    # The smallest quantity that meets each symbol's minimum notional at the starting mark.
    lots = {}
    for s in symbols:
        inst = venue.instruments[s]
        per_lot = START_MARKS[s] * inst.atoms_per_tick_lot
        lots[s] = max(inst.min_qty, -(-inst.min_notional // per_lot))
    ts = START_TS
    made = 0
    n = 0  # client order ids: c<n>
    owners: dict[int, tuple[int, str]] = {}  # recent client order ids: n -> (account, symbol)
    while made < commands:
        chunk: list[Command] = []
        for _ in range(min(CHUNK, commands - made)):
            ts += 1
            x = rand()
            symbol = symbols[randint(0, 2)]
            mark = marks[symbol]
            account = randint(1, accounts)
            side = Side.BUY if rand() < 0.5 else Side.SELL
            qty = lots[symbol] * randint(1, 5)
            if x < 0.55:
                n += 1
                owners[n] = (account, symbol)
                owners.pop(n - 400, None)
                price = mark - side * randint(1, 40)
                chunk.append(PlaceOrder(ts, account, symbol, side, OrderType.LIMIT, qty, price,
                                        client_order_id=f"c{n}"))
            elif x < 0.73:
                target = n - randint(0, 300)
                owner, sym = owners.get(target, (account, symbol))
                chunk.append(CancelOrder(ts, owner, sym, client_order_id=f"c{target}"))
            elif x < 0.83:
                chunk.append(PlaceOrder(ts, account, symbol, side, OrderType.MARKET, qty))
            elif x < 0.91:
                chunk.append(PlaceOrder(ts, account, symbol, side, OrderType.LIMIT, qty,
                                        mark + side * randint(1, 5), TimeInForce.IOC))
            elif x < 0.96:
                target = n - randint(0, 300)
                owner, sym = owners.get(target, (account, symbol))
                chunk.append(AmendOrder(ts, owner, sym, client_order_id=f"c{target}",
                                        quantity=lots[sym] * randint(1, 5)))
            elif x < 0.99:
                n += 1
                owners[n] = (account, symbol)
                owners.pop(n - 400, None)
                stop = mark + side * randint(5, 60)
                chunk.append(PlaceOrder(ts, account, symbol, side, OrderType.STOP_MARKET, qty,
                                        stop_price=stop, working_type=WorkingType.MARK_PRICE,
                                        client_order_id=f"c{n}"))
            else:
                mark += randint(-3, 3) * max(1, mark // 10_000)
                marks[symbol] = mark
                chunk.append(SetMarkPrice(ts, symbol, mark, mark))
        made += len(chunk)
        yield chunk


def kind(command: Command) -> str:
    """A command's kind for ``--by-kind``: its class, and an order's type and time in force."""
    if type(command) is PlaceOrder:
        return f"{command.order_type.name}/{command.tif.name}"
    return type(command).__name__


def run(venue: Venue, commands: int, accounts: int, seed: int,
        kinds: list[str] | None = None) -> tuple[float, int, int, array.array[int], bytearray]:
    """Apply the stream; the wall time, events, rejections, each command's latency (ns) and
    whether it was rejected. With ``kinds``, each command's kind is appended to it too (named
    outside the timed region)."""
    apply = venue.apply
    clock = time.perf_counter_ns
    latencies = array.array("q")
    record = latencies.append
    outcomes = bytearray()
    note = outcomes.append
    events = elapsed = 0
    for chunk in stream(venue, commands, accounts, seed):
        if kinds is not None:
            kinds.extend(kind(c) for c in chunk)
        chunk_start = clock()
        for command in chunk:
            start = clock()
            out = apply(command)
            record(clock() - start)
            events += len(out)
            note(type(out[0]) is Rejected)  # 1 if rejected, else 0
        elapsed += clock() - chunk_start
    return elapsed / 1e9, events, outcomes.count(1), latencies, outcomes


def by_kind(kinds: list[str], latencies: array.array[int],
            outcomes: bytearray) -> dict[str, dict[str, float | int]]:
    """Per kind (rejected ones apart, as "<kind>/rejected"): count, mean latency and share of
    the time spent applying commands, largest share first."""
    time_ns: dict[str, int] = {}
    count: dict[str, int] = {}
    for name, ns, was_rejected in zip(kinds, latencies, outcomes, strict=True):
        key = f"{name}/rejected" if was_rejected else name
        time_ns[key] = time_ns.get(key, 0) + ns
        count[key] = count.get(key, 0) + 1
    total = sum(time_ns.values()) or 1
    return {key: {"commands": count[key], "mean_us": round(ns / count[key] / 1000, 2),
                  "share_pct": round(100 * ns / total, 1)}
            for key, ns in sorted(time_ns.items(), key=lambda item: -item[1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--by-kind", action="store_true",
                        help="add each command kind's count, mean latency and share of the "
                             "time (as by_kind) to the JSON")
    args = parser.parse_args(argv)
    if args.commands <= 0 or args.accounts <= 0:
        parser.error("--commands and --accounts must be positive")

    tune_gc()  # the server's setting: the venue runs under it there
    venue = Venue(load_instruments())
    setup(venue, args.accounts)
    kinds: list[str] | None = [] if args.by_kind else None
    seconds, events, rejected, samples, outcomes = run(venue, args.commands, args.accounts,
                                                       args.seed, kinds)
    gap = venue.conservation_gap()
    open_orders = len(venue.orders)
    del venue
    gc.collect()
    latencies = sorted(samples)
    n = len(latencies)
    extra = {} if kinds is None else {"by_kind": by_kind(kinds, samples, outcomes)}
    print(json.dumps({
        "commands": args.commands,
        "accounts": args.accounts,
        "seed": args.seed,
        "events": events,
        "rejected": rejected,
        "open_orders": open_orders,
        "conservation_gap": gap,
        "seconds": round(seconds, 3),
        "commands_per_s": int(args.commands / seconds),
        "p50_us": round(latencies[n // 2] / 1000, 2),
        "p99_us": round(latencies[min(n - 1, (n * 99) // 100)] / 1000, 2),
        "p999_us": round(latencies[min(n - 1, (n * 999) // 1000)] / 1000, 2),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "python": sys.version.split()[0],
        "gc_threshold": GC_THRESHOLD,
        **extra,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
