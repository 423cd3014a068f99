"""The ``paper-exchange`` command (also ``python -m exchange``)."""

from __future__ import annotations

import argparse
import random

from matching import Book, Side, Trade


def demo(seed: int, orders: int) -> int:
    """Run a seeded random market through one order book and print the book and the tape.

    What exists of the exchange so far is its matching engine; this shows it working.
    """
    rng = random.Random(seed)
    book = Book()
    trades: list[Trade] = []
    mid = 100_000
    for oid in range(1, orders + 1):
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = mid - side * rng.randint(-3, 20)
        for event in book.place(oid, rng.randint(1, 8), side, price, rng.randint(1, 10)):
            if isinstance(event, Trade):
                trades.append(event)
    snapshot = book.depth(5)
    print(f"BTCUSDT-demo after {orders} orders (seed {seed}), book seq {snapshot.seq}")
    print(f"{'bid qty':>10} {'bid':>8} | {'ask':<8} {'ask qty':<10}")
    for i in range(max(len(snapshot.bids), len(snapshot.asks))):
        bid = snapshot.bids[i] if i < len(snapshot.bids) else None
        ask = snapshot.asks[i] if i < len(snapshot.asks) else None
        left = f"{bid[1]:>10} {bid[0]:>8}" if bid else " " * 19
        right = f"{ask[0]:<8} {ask[1]:<10}" if ask else ""
        print(f"{left} | {right}")
    print(f"{len(trades)} trades; last five:")
    for t in trades[-5:]:
        print(f"  #{t.seq} {t.aggressor.name:<4} {t.quantity} @ {t.price} "
              f"(maker {t.maker_order_id}, taker {t.taker_order_id})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paper-exchange",
                                     description="A paper-trading perpetual-futures exchange.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run a seeded market through the matching engine")
    p_demo.add_argument("--seed", type=int, default=1)
    p_demo.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.orders < 1:
            parser.error("--orders must be at least 1")
        return demo(args.seed, args.orders)
    parser.error(f"unknown command {args.command}")
    return 2
