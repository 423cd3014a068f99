"""What the example bots share: the command line, signing up, printing, running for a while.

Every bot takes ``--url`` (default ``http://127.0.0.1:8000``, or ``EXCHANGE_URL``) and a key
from ``--api-key``/``--secret`` (or ``EXCHANGE_API_KEY``/``EXCHANGE_SECRET``); without one it
signs up a fresh user with ``--deposit`` USDT of play money (the server allows self-service
sign-up unless started with ``--no-signup``). ``--seconds`` bounds the run (default: until
Ctrl-C); every bot cancels its orders before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from clients import (
    AsyncClient,
    Credentials,
    ExchangeError,
    Instrument,
    OrderRequest,
    RetryPolicy,
    Side,
    StreamClient,
)


def parser(description: str, default_deposit: str = "10000") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--url", default=os.environ.get("EXCHANGE_URL", "http://127.0.0.1:8000"),
                   help="the exchange (default: %(default)s)")
    p.add_argument("--api-key", default=os.environ.get("EXCHANGE_API_KEY"),
                   help="API key (or EXCHANGE_API_KEY); without one, sign up a new user")
    p.add_argument("--secret", default=os.environ.get("EXCHANGE_SECRET"),
                   help="its secret (or EXCHANGE_SECRET)")
    p.add_argument("--deposit", default=default_deposit,
                   help="USDT of play money for a new user (default: %(default)s)")
    p.add_argument("--symbol", default="BTCUSDT")
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this long (default: run until Ctrl-C)")
    return p


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


@dataclass
class Session:
    rest: AsyncClient
    stream: StreamClient
    instrument: Instrument
    credentials: Credentials

    async def close(self) -> None:
        await self.stream.close()
        await self.rest.close()


async def open_session(args: argparse.Namespace, bot: str) -> Session:
    """Connect, sign up if no key was given, and look up the instrument."""
    # Retry rate-limited requests too (a 429 was not applied): a bot should slow down, not die.
    rest = AsyncClient(args.url, retry=RetryPolicy(rate_limited=True))
    try:
        if args.api_key and args.secret:
            credentials = Credentials(args.api_key, args.secret)
        else:
            name = f"{bot}-{secrets.token_hex(4)}"
            credentials = await rest.signup(name, args.deposit)
            say(f"signed up as {name} (user {credentials.user}) with {args.deposit} USDT")
        rest.credentials = credentials
        await rest.sync_clock()
        instrument = await rest.instrument(args.symbol)
        stream = StreamClient(args.url, credentials, rest=rest)
        await stream.connect()
    except BaseException:
        await rest.close()
        raise
    return Session(rest, stream, instrument, credentials)


def min_quantity(inst: Instrument, price: Decimal, factor: Decimal = Decimal("1.2")) -> Decimal:
    """The smallest order worth placing at ``price``: above the minimum notional (x factor)."""
    lots = inst.round_qty(inst.min_notional * factor / price, ROUND_CEILING)
    return max(inst.min_qty, lots)


async def flatten(session: Session, symbol: str) -> None:
    """Cancel every order on ``symbol`` and close the position at market."""
    rest = session.rest
    try:
        await rest.cancel_all(symbol)
        position = await rest.position(symbol)
        if position.size:
            side = Side.SELL if position.size > 0 else Side.BUY
            order = await rest.place_order(OrderRequest.market(symbol, side, abs(position.size),
                                                               reduce_only=True))
            say(f"closed the position: {side} {order.filled} at {order.avg_price}")
    except ExchangeError as e:
        say(f"could not flatten {symbol}: {e}")


async def run_bounded(seconds: float | None, body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` until it returns, or for ``seconds`` at most."""
    task = asyncio.ensure_future(body())
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:  # Ctrl-C
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise
    if done:
        task.result()  # its exception, if it failed
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    say(f"{seconds:g} s are up")


def main(run: Callable[[list[str] | None], Coroutine[Any, Any, int]],
         argv: list[str] | None = None) -> None:
    """The bots' entry point: run, exit with its status; Ctrl-C stops it cleanly."""
    try:
        sys.exit(asyncio.run(run(argv)))
    except KeyboardInterrupt:
        sys.exit(130)
