"""Order-book benchmark: ``python -m matching.bench [--commands N] [--seed S] [--resting N]``.

Replays a seeded stream through ``Book``: about 60% limit orders near the touch, 25% cancels of
a recent order, 15% orders that cross one to three levels, from 64 owners (so self-trade
prevention happens too). The stream is generated in chunks outside the timed region, so memory
holds the book, not the stream.

Every command is timed alone (for the latency percentiles) and the throughput is the number of
commands over the wall time of the whole timed loop, timer calls included: the figure is a
little pessimistic rather than flattering, and one pass keeps one book in memory. With
``--resting N`` the book first rests N orders spread over many levels; ``resting_rss_mb`` is the
RSS right after that and ``peak_rss_mb`` the peak of the whole run.

The last line printed is one JSON object.
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

from matching.book import Book
from matching.orders import Side, TimeInForce

MID = 1_000_000
CHUNK = 20_000
OWNERS = 64

# Command kinds in the generated stream.
LIMIT = 0
CANCEL = 1
CROSS = 2

Command = tuple[int, int, int, int, int, int]  # kind, order id, owner, side, price, quantity


def stream(commands: int, seed: int, first_id: int) -> Iterator[list[Command]]:
    """Yield the seeded command stream in chunks."""
    rng = random.Random(seed)
    rand = rng.random
    randint = rng.randint
    oid = first_id
    made = 0
    while made < commands:
        chunk: list[Command] = []
        for _ in range(min(CHUNK, commands - made)):
            x = rand()
            oid += 1
            if x < 0.60:
                side = 1 if rand() < 0.5 else -1
                price = MID - side * randint(1, 50)
                chunk.append((LIMIT, oid, oid % OWNERS, side, price, randint(1, 10)))
            elif x < 0.85:
                target = oid - randint(1, 200)
                chunk.append((CANCEL, target, target % OWNERS, 0, 0, 0))
            else:
                side = 1 if rand() < 0.5 else -1
                price = MID + side * randint(1, 3)
                chunk.append((CROSS, oid, oid % OWNERS, side, price, randint(5, 40)))
        made += len(chunk)
        yield chunk


def rest_orders(book: Book, count: int) -> int:
    """Rest ``count`` non-crossing orders over 20,000 levels; return the next free order id."""
    rng = random.Random(7)
    for oid in range(1, count + 1):
        side = Side.BUY if oid & 1 else Side.SELL
        price = MID - side * rng.randint(60, 10_060)
        book.place(oid, OWNERS + oid % 1000, side, price, rng.randint(1, 10))
    return count + 1


def run(book: Book, commands: int, seed: int, first_id: int) -> tuple[float, int, array.array[int]]:
    """Drive the stream through ``book``: seconds in the timed loops, events, latencies (ns)."""
    place = book.place
    cancel = book.cancel
    ioc = TimeInForce.IOC
    clock = time.perf_counter_ns
    latencies = array.array("q")  # 8 bytes a sample, not a boxed int
    record = latencies.append
    events = 0
    elapsed = 0
    for chunk in stream(commands, seed, first_id):
        chunk_start = clock()
        for kind, oid, owner, side, price, qty in chunk:
            start = clock()
            if kind == LIMIT:
                out = place(oid, owner, side, price, qty)
            elif kind == CANCEL:
                out = cancel(oid, owner)
            else:
                out = place(oid, owner, side, price, qty, ioc)
            record(clock() - start)
            events += len(out)
        elapsed += clock() - chunk_start
    return elapsed / 1e9, events, latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resting", type=int, default=0,
                        help="rest this many orders before the stream (measures memory)")
    args = parser.parse_args(argv)
    if args.commands <= 0 or args.resting < 0:
        parser.error("--commands must be positive and --resting not negative")

    book = Book()
    first_id = rest_orders(book, args.resting) if args.resting else 1
    resting_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    seconds, events, samples = run(book, args.commands, args.seed, first_id)
    resting_after = len(book)
    del book
    gc.collect()
    latencies = sorted(samples)
    n = len(latencies)

    result = {
        "commands": args.commands,
        "seed": args.seed,
        "resting_before": args.resting,
        "resting_after": resting_after,
        "events": events,
        "seconds": round(seconds, 3),
        "commands_per_s": int(args.commands / seconds),
        "p50_us": round(latencies[n // 2] / 1000, 2),
        "p99_us": round(latencies[min(n - 1, (n * 99) // 100)] / 1000, 2),
        "p999_us": round(latencies[min(n - 1, (n * 999) // 1000)] / 1000, 2),
        "resting_rss_mb": resting_rss_mb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
