"""A grid bot: resting buys below the price and sells above, each fill answered one step over.

    python -m clients.examples.grid_bot [--symbol BTCUSDT] [--levels 5] [--step-bps 20]

It lays ``--levels`` buy orders under the mark and as many sells over it, ``--step-bps``
apart. When a buy fills at P it places a sell at P + one step (and a sell filled at P, a buy
at P - one step), so each round trip earns a step minus fees while the price swings inside
the grid. A trend is what hurts a grid: it accumulates a position against the move, so
buys stop at ``--max-position`` and, if the mark leaves the grid by more than a step, the
grid is rebuilt around it. At the end it cancels its orders and closes its position.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from clients import (
    Event,
    ExchangeError,
    InvalidOrder,
    MarkPriceChanged,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRequest,
    Side,
)
from clients.examples._common import (
    Session,
    flatten,
    main,
    min_quantity,
    open_session,
    parser,
    run_bounded,
    say,
)

BPS = Decimal("0.0001")


class GridBot:
    def __init__(self, session: Session, args: argparse.Namespace) -> None:
        self.s = session
        self.inst = session.instrument
        self.symbol = self.inst.symbol
        self.levels = int(args.levels)
        self.step = Decimal(args.step_bps) * BPS
        self.size = Decimal(args.size) if args.size else Decimal(0)
        self.max_position = Decimal(args.max_position) if args.max_position else Decimal(0)
        self.mark: Decimal | None = None
        self.position = Decimal(0)
        self.orders: dict[int, tuple[Side, Decimal]] = {}  # open grid orders
        self.todo: list[tuple[Side, Decimal]] = []  # orders to place after fills
        self.low = self.high = Decimal(0)
        self.round_trips = 0
        self.pnl = Decimal(0)

    def on_mark(self, e: object) -> None:
        if isinstance(e, MarkPriceChanged):
            self.mark = e.mark

    def on_user(self, e: Event) -> None:
        if isinstance(e, OrderFilled) and e.symbol == self.symbol:
            self.position = e.position_size
            self.pnl += e.realized_pnl - e.fee
            if e.realized_pnl > 0:
                self.round_trips += 1
            if e.remaining == 0 and e.order_id in self.orders:
                side, price = self.orders.pop(e.order_id)
                say(f"grid {side} filled at {price}; position {self.position}")
                if side is Side.BUY:
                    self.todo.append((Side.SELL, self.price(price * (1 + self.step), Side.SELL)))
                else:
                    self.todo.append((Side.BUY, self.price(price * (1 - self.step), Side.BUY)))
        elif isinstance(e, OrderCanceled | OrderExpired):
            self.orders.pop(e.order_id, None)

    def price(self, raw: Decimal, side: Side) -> Decimal:
        return self.inst.round_price(raw, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)

    async def place(self, side: Side, price: Decimal) -> None:
        if side is Side.BUY and self.position >= self.max_position:
            return
        if side is Side.SELL and self.position <= -self.max_position:
            return
        try:
            order = await self.s.rest.place_order(OrderRequest.limit(
                self.symbol, side, self.size, price, post_only=True))
        except InvalidOrder as e:  # would take (the price crossed it), out of band...
            say(f"grid {side} at {price} refused: {e.code}")
            return
        if order.is_open:
            self.orders[order.order_id] = (side, price)

    async def build(self, center: Decimal) -> None:
        if self.orders:
            await self.s.rest.cancel_all(self.symbol)
            self.orders.clear()
        self.todo.clear()
        self.low = center * (1 - self.step * self.levels)
        self.high = center * (1 + self.step * self.levels)
        say(f"grid around {center}: {self.levels} buys down to {self.price(self.low, Side.BUY)}"
            f", {self.levels} sells up to {self.price(self.high, Side.SELL)}, {self.size} each")
        for k in range(1, self.levels + 1):
            await self.place(Side.BUY, self.price(center * (1 - self.step * k), Side.BUY))
            await self.place(Side.SELL, self.price(center * (1 + self.step * k), Side.SELL))

    async def run(self) -> None:
        rest = self.s.rest
        self.position = (await rest.position(self.symbol)).size
        self.mark = (await rest.prices(self.symbol)).mark
        if self.mark is None:
            raise SystemExit(f"{self.symbol} has no mark price yet")
        if not self.size:
            self.size = min_quantity(self.inst, self.mark)
        if not self.max_position:
            self.max_position = self.size * self.levels
        await self.s.stream.marks(self.symbol, callback=self.on_mark)
        await self.s.stream.user(callback=self.on_user)
        await self.build(self.mark)
        while True:
            await asyncio.sleep(0.5)
            try:
                while self.todo:
                    await self.place(*self.todo.pop(0))
                margin = (self.high - self.low) / (2 * self.levels)  # one step, in price
                if self.mark is not None and not (self.low - margin <= self.mark
                                                  <= self.high + margin):
                    say(f"the mark {self.mark} left the grid: rebuilding")
                    await self.build(self.mark)
            except ExchangeError as e:
                say(f"grid step failed: {e}")


async def run(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "grid bot")
    p.add_argument("--levels", default="5", help="orders a side (default: %(default)s)")
    p.add_argument("--step-bps", default="20", help="grid spacing (default: %(default)s)")
    p.add_argument("--size", default=None, help="each order (default: just over the minimum)")
    p.add_argument("--max-position", default=None,
                   help="stop adding beyond this (default: levels x size)")
    args = p.parse_args(argv)
    session = await open_session(args, "grid")
    bot = GridBot(session, args)
    try:
        await run_bounded(args.seconds, bot.run)
    finally:
        await flatten(session, bot.symbol)
        say(f"done: {bot.round_trips} profitable closes; realized PnL after fees "
            f"{bot.pnl.quantize(Decimal('0.01'))} USDT")
        await session.close()
    return 0


if __name__ == "__main__":
    main(run)
