"""The ``paper-exchange`` command (also ``python -m exchange``).

    paper-exchange serve [--host H] [--port P] [--config FILE] [--data-dir DIR]
    paper-exchange users create NAME [--deposit USDT] [--url URL] [--data-dir DIR]
    paper-exchange replay [--data-dir DIR] [--from-scratch]
    paper-exchange demo
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shlex
import sys
import urllib.error
import urllib.request
from pathlib import Path

from exchange.server import limits
from matching import Book, Side, Trade

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_DATA_DIR = Path("exchange-data")


def serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from exchange.core.instruments import InstrumentConfigError
    from exchange.server.app import create_app
    from exchange.server.runtime import Exchange, ServerConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = ServerConfig(host=args.host, port=args.port, data_dir=args.data_dir,
                          instruments_path=args.config, seed=args.seed,
                          market_makers=not args.no_agents, noise_traders=not args.no_agents,
                          faucet=not args.no_faucet, reset=not args.no_faucet,
                          signup=not args.no_signup, journal=not args.no_journal,
                          database_url=args.database_url, rate_per_key=args.rate_limit,
                          burst=max(args.burst, args.rate_limit))
    try:
        exchange = Exchange(config)
    except InstrumentConfigError as exc:
        print(f"paper-exchange: {exc}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{args.port}"
    print(f"paper-exchange: serving {', '.join(exchange.instruments)} at {url}", flush=True)
    print(f"  API docs:  {url}/docs", flush=True)
    print(f"  websocket: ws://{args.host}:{args.port}/ws", flush=True)
    print(f"  admin key: {exchange.admin_key_path} (owner-only)", flush=True)
    # The data directory as an absolute path: the hint must work from any directory.
    print(f"  add a user: paper-exchange users create alice --deposit 10000 --url {url} "
          f"--data-dir {shlex.quote(str(Path(args.data_dir).resolve()))}", flush=True)
    # uvicorn shuts down cleanly on Ctrl-C, then passes the KeyboardInterrupt on.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(create_app(exchange), host=args.host, port=args.port, log_level="warning")
    print("paper-exchange: stopped", flush=True)
    return 0


def replay(args: argparse.Namespace) -> int:
    """Rebuild the state offline from the data directory's snapshot and journal (or from the
    journal alone) and print what it holds: the way to audit a competition."""
    import shutil
    import tempfile

    from exchange.server.runtime import Exchange, ServerConfig
    from exchange.store import journal as journals

    source = args.data_dir / journals.FILE_NAME
    if not source.exists():
        print(f"paper-exchange: no journal at {source}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        # Work on a copy: the replay must not touch (or cut the torn tail of) the original.
        copy_dir = Path(work)
        shutil.copy(source, copy_dir / journals.FILE_NAME)
        if not args.from_scratch:
            for snap in args.data_dir.glob("snapshot-*.pickle"):
                shutil.copy(snap, copy_dir / snap.name)
        admin = args.data_dir / "admin.key"
        if admin.exists():
            shutil.copy(admin, copy_dir / "admin.key")
        config = ServerConfig(data_dir=copy_dir, market_makers=False, noise_traders=False,
                              instruments_path=args.config)
        exchange = Exchange(config)
        venue = exchange.venue
        summary = {
            "journal_records": exchange.journal.appended if exchange.journal else 0,
            "torn_tail": bool(exchange.journal and exchange.journal.torn),
            "digest": exchange.recovered_digest,
            "seq": venue.seq,
            "accounts": len(venue.accounts),
            "users": len(exchange.keys.users),
            "open_orders": len(venue.orders),
            "open_positions": sum(len(h) for h in venue.holders.values()),
            "insurance_fund": venue.insurance_fund,
            "fee_income": venue.fee_income,
            "conservation_gap": venue.conservation_gap(),
        }
        if exchange.journal is not None:
            exchange.journal.close()
    print(json.dumps(summary))
    return 0


def users_create(args: argparse.Namespace) -> int:
    key_file = args.data_dir / "admin.key"
    try:
        admin_key = key_file.read_text().strip()
    except OSError as exc:
        print(f"paper-exchange: cannot read the admin key at {key_file}: {exc.strerror}. "
              f"Start the server first, or pass --data-dir.", file=sys.stderr)
        return 2
    body = {"name": args.name}
    if args.deposit is not None:
        body["deposit"] = args.deposit
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/api/v1/admin/users", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-ADMIN-KEY": admin_key}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(json.dumps(json.loads(response.read())))
            return 0
    except urllib.error.HTTPError as exc:
        print(f"paper-exchange: {exc.code} {exc.read().decode(errors='replace')}",
              file=sys.stderr)
    except urllib.error.URLError as exc:
        print(f"paper-exchange: cannot reach {args.url}: {exc.reason}. Is the server running?",
              file=sys.stderr)
    return 1


def demo(seed: int, orders: int) -> int:
    """Run a seeded random market through one order book and print the book and the tape."""
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paper-exchange",
                                     description="A paper-trading perpetual-futures exchange.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="run the exchange (REST, websocket, docs)")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    p_serve.add_argument("--config", type=Path, default=None,
                         help="instruments TOML (default: the built-in catalogue)")
    p_serve.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p_serve.add_argument("--seed", type=int, default=1, help="seed of the synthetic indexes")
    p_serve.add_argument("--no-agents", action="store_true",
                         help="no built-in market makers or noise traders")
    p_serve.add_argument("--no-faucet", action="store_true",
                         help="no self-service deposits or resets (competitions)")
    p_serve.add_argument("--no-signup", action="store_true", help="only the admin adds users")
    p_serve.add_argument("--database-url", default=None,
                         help="history database (default: $DATABASE_URL, else SQLite in "
                              "the data dir)")
    p_serve.add_argument("--rate-limit", type=_positive, default=limits.RATE_PER_S,
                         help="requests a second per key and per client IP (default "
                              f"{limits.RATE_PER_S}; a classroom behind one NAT "
                              "shares one IP)")
    p_serve.add_argument("--burst", type=_positive, default=limits.BURST,
                         help="requests allowed at once above the rate (default "
                              f"{limits.BURST})")
    p_serve.add_argument("--no-journal", action="store_true",
                         help="no durability (state is lost at exit): only to measure its cost")

    p_users = sub.add_parser("users", help="manage users of a running server")
    users_sub = p_users.add_subparsers(dest="users_command", required=True)
    p_create = users_sub.add_parser("create", help="create a user and an API key")
    p_create.add_argument("name")
    p_create.add_argument("--deposit", default=None, help="USDT to start with")
    p_create.add_argument("--url", default=DEFAULT_URL)
    p_create.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)

    p_replay = sub.add_parser("replay", help="rebuild the state offline from the journal")
    p_replay.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p_replay.add_argument("--config", type=Path, default=None)
    p_replay.add_argument("--from-scratch", action="store_true",
                          help="ignore snapshots: replay the whole journal")

    p_demo = sub.add_parser("demo", help="run a seeded market through the matching engine")
    p_demo.add_argument("--seed", type=int, default=1)
    p_demo.add_argument("--orders", type=int, default=1000)

    args = parser.parse_args(argv)
    if args.command == "serve":
        if not 0 < args.port < 65536:
            parser.error("--port must be 1 to 65535")
        return serve(args)
    if args.command == "users":
        return users_create(args)
    if args.command == "replay":
        return replay(args)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    return demo(args.seed, args.orders)
