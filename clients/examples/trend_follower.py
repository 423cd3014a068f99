"""A trend follower: moving-average crossover, a stop-loss on every position, size by risk.

    python -m clients.examples.trend_follower [--symbol BTCUSDT] [--seconds 300]

The lesson it is built on: small size, tight stops. It samples the mark price each second
into a fast and a slow exponential moving average (``--fast``, ``--slow`` samples). When the
fast one is above the slow one by more than ``--band`` it wants to be long, below: short.
On a change of mind it closes what it holds and opens the other way, sized so that being
stopped out loses ``--risk`` of the account's equity (0.5% by default):

    quantity = equity x risk / (price x stop)

and, at once, places a stop-loss ``--stop`` away (0.4% by default) that closes the position
on the mark price, on the exchange, even if this program dies. Once stopped out it waits for
the trend to turn before it trades again. At the end it cancels its stop and closes its
position.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from clients import (
    Event,
    ExchangeError,
    InsufficientMargin,
    InvalidOrder,
    MarkPriceChanged,
    NotFound,
    OrderFilled,
    OrderRequest,
    OrderTriggered,
    Side,
)
from clients.examples._common import Session, flatten, main, open_session, parser, run_bounded, say


class TrendFollower:
    def __init__(self, session: Session, args: argparse.Namespace) -> None:
        self.s = session
        self.inst = session.instrument
        self.symbol = self.inst.symbol
        self.fast_n, self.slow_n = int(args.fast), int(args.slow)
        if not 0 < self.fast_n < self.slow_n:
            raise SystemExit("--fast must be smaller than --slow")
        self.risk = Decimal(args.risk)
        self.stop = Decimal(args.stop)
        self.band = Decimal(args.band)
        self.leverage = int(args.leverage)
        self.fast: Decimal | None = None
        self.slow: Decimal | None = None
        self.samples = 0
        self.mark: Decimal | None = None
        self.position = Decimal(0)
        self.stop_order: int | None = None
        self.stopped_side: Side | None = None  # stopped out of this side: wait for a turn
        self.wanted: Side | None = None
        self.trades = 0

    def on_mark(self, e: object) -> None:
        if isinstance(e, MarkPriceChanged):
            self.mark = e.mark

    def on_user(self, e: Event) -> None:
        if isinstance(e, OrderTriggered) and e.order_id == self.stop_order:
            say(f"STOP triggered at {e.trigger_price}: closing {e.quantity}")
        elif isinstance(e, OrderFilled) and e.symbol == self.symbol:
            self.position = e.position_size
            if e.order_id == self.stop_order and e.remaining == 0:
                say(f"stopped out at {e.price}: realized {e.realized_pnl - e.fee:.2f} USDT "
                    "after fees; waiting for the trend to turn")
                self.stopped_side = Side.SELL if e.side is Side.BUY else Side.BUY
                self.stop_order = None

    def update(self, price: Decimal) -> None:
        """One sample into both moving averages."""
        self.samples += 1
        if self.fast is None or self.slow is None:
            self.fast = self.slow = price
            return
        self.fast += (price - self.fast) * 2 / (self.fast_n + 1)
        self.slow += (price - self.slow) * 2 / (self.slow_n + 1)

    def signal(self) -> Side | None:
        if self.samples < self.slow_n or self.fast is None or self.slow is None:
            return None
        if self.fast > self.slow * (1 + self.band):
            return Side.BUY
        if self.fast < self.slow * (1 - self.band):
            return Side.SELL
        return self.wanted  # inside the band: no change of mind

    async def enter(self, side: Side, price: Decimal) -> None:
        rest = self.s.rest
        account = await rest.account()
        equity = account.margin_balance
        quantity = self.inst.round_qty(equity * self.risk / (price * self.stop))
        affordable = self.inst.round_qty(account.available_balance * self.leverage
                                         * Decimal("0.9") / price)
        quantity = min(quantity, affordable, self.inst.market_max_qty)
        if quantity < self.inst.min_qty or quantity * price < self.inst.min_notional:
            say(f"a {self.risk:%} risk is {quantity} {self.inst.base_asset}: below the "
                "minimum order; not trading (raise --risk or the deposit)")
            return
        try:
            order = await rest.place_order(OrderRequest.market(self.symbol, side, quantity))
        except (InsufficientMargin, InvalidOrder) as e:
            say(f"entry refused: {e}")
            return
        entry = order.avg_price or price
        self.position = quantity if side is Side.BUY else -quantity
        stop_price = self.inst.round_price(
            entry * (1 - self.stop) if side is Side.BUY else entry * (1 + self.stop),
            ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)
        self.trades += 1
        say(f"{'LONG' if side is Side.BUY else 'SHORT'} {order.filled} {self.inst.base_asset} "
            f"at {entry}: risking {equity * self.risk:.2f} USDT ({self.risk:.2%} of "
            f"{equity:.2f}), stop at {stop_price}")
        try:
            stop = await rest.place_order(OrderRequest.stop_market(
                self.symbol, side.opposite, stop_price, close_position=True))
            self.stop_order = stop.order_id
        except InvalidOrder as e:  # the price is already past the stop: get out now
            say(f"the stop was refused ({e.code}): closing at once")
            await self.exit("no stop")

    async def exit(self, why: str) -> None:
        rest = self.s.rest
        if self.stop_order is not None:
            with contextlib.suppress(NotFound):  # it fired meanwhile
                await rest.cancel_order(self.symbol, self.stop_order)
            self.stop_order = None
        position = (await rest.position(self.symbol)).size
        if position:
            side = Side.SELL if position > 0 else Side.BUY
            order = await rest.place_order(OrderRequest.market(self.symbol, side, abs(position),
                                                               reduce_only=True))
            pnl = sum((f.realized_pnl - f.fee for f in order.fills), Decimal(0))
            say(f"closed {abs(position)} at {order.avg_price} ({why}): {pnl:.2f} USDT")
        self.position = Decimal(0)

    async def step(self) -> None:
        if self.mark is None:
            return
        self.update(self.mark)
        wanted = self.signal()
        if wanted is None:
            if self.samples == 1:
                say(f"warming up: {self.slow_n} samples of the mark before the first signal")
            return
        if wanted != self.wanted:
            say(f"trend: fast {self.fast:.2f} vs slow {self.slow:.2f}: "
                f"{'up' if wanted is Side.BUY else 'down'}")
            self.wanted = wanted
            if self.stopped_side is not None and self.stopped_side != wanted:
                self.stopped_side = None  # the trend turned since the stop-out
        holding = None if not self.position else (Side.BUY if self.position > 0 else Side.SELL)
        if holding == wanted or self.stopped_side == wanted:
            return
        if holding is not None:
            await self.exit("the trend turned")
        await self.enter(wanted, self.mark)

    async def run(self) -> None:
        rest = self.s.rest
        await rest.set_leverage(self.symbol, self.leverage)
        self.position = (await rest.position(self.symbol)).size
        self.mark = (await rest.prices(self.symbol)).mark
        say(f"following {self.symbol}: EMA {self.fast_n}/{self.slow_n} of the mark, risk "
            f"{self.risk:.2%} a trade, stop {self.stop:.2%} away, leverage {self.leverage}x")
        await self.s.stream.marks(self.symbol, callback=self.on_mark)
        await self.s.stream.user(callback=self.on_user)
        while True:
            try:
                await self.step()
            except ExchangeError as e:
                say(f"step failed: {e}")
            await asyncio.sleep(1)


async def run(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "trend follower")
    p.add_argument("--fast", default="10", help="fast EMA, samples (default: %(default)s)")
    p.add_argument("--slow", default="30", help="slow EMA, samples (default: %(default)s)")
    p.add_argument("--band", default="0.00005",
                   help="fast must clear slow by this fraction (default: %(default)s)")
    p.add_argument("--risk", default="0.005",
                   help="equity lost if stopped out (default: %(default)s = 0.5%%)")
    p.add_argument("--stop", default="0.004",
                   help="stop distance from entry (default: %(default)s = 0.4%%)")
    p.add_argument("--leverage", default="5", help="(default: %(default)s)")
    args = p.parse_args(argv)
    session = await open_session(args, "trend")
    bot = TrendFollower(session, args)
    try:
        await run_bounded(args.seconds, bot.run)
    finally:
        await flatten(session, bot.symbol)
        try:
            account = await session.rest.account()
            say(f"done: {bot.trades} trades; wallet {account.wallet_balance:.2f} USDT")
        except ExchangeError as e:
            say(f"done: {bot.trades} trades ({e})")
        await session.close()
    return 0


if __name__ == "__main__":
    main(run)
