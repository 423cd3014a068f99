"""A market maker: a bid and an ask around the mark price, skewed by inventory.

    python -m clients.examples.market_maker [--symbol BTCUSDT] [--seconds 60]

Every ``--refresh`` seconds it quotes post-only (never taking) a bid and an ask at
``--spread-bps`` around a reservation price: the mark, moved against its inventory by
``--skew-bps`` at full ``--max-position``. Long, it lowers both quotes (sells more readily,
buys less); short, the reverse; at the limit it stops quoting the side that would add to the
position. Quotes are amended in place when the price moved by more than ``--requote-bps``.
Fills arrive on the user stream. At the end it cancels its quotes and, unless
``--keep-position``, closes what it holds, then prints what it earned.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from clients import (
    Event,
    ExchangeError,
    InvalidOrder,
    MarkPriceChanged,
    NotFound,
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


class MarketMaker:
    def __init__(self, session: Session, args: argparse.Namespace) -> None:
        self.s = session
        self.inst = session.instrument
        self.symbol = self.inst.symbol
        self.spread = Decimal(args.spread_bps) * BPS
        self.skew = Decimal(args.skew_bps) * BPS
        self.requote = Decimal(args.requote_bps) * BPS
        self.refresh = float(args.refresh)
        self.size = Decimal(args.size) if args.size else Decimal(0)
        self.max_position = Decimal(args.max_position) if args.max_position else Decimal(0)
        self.mark: Decimal | None = None
        self.position = Decimal(0)
        self.quotes: dict[Side, tuple[int, Decimal]] = {}  # side -> (order id, price)
        self.fills = 0
        self.volume = Decimal(0)
        self.pnl = Decimal(0)  # realized, after fees

    def on_mark(self, e: object) -> None:
        if isinstance(e, MarkPriceChanged):
            self.mark = e.mark

    def on_user(self, e: Event) -> None:
        if isinstance(e, OrderFilled) and e.symbol == self.symbol:
            self.position = e.position_size
            self.fills += 1
            self.volume += e.quantity
            self.pnl += e.realized_pnl - e.fee
            say(f"filled {e.side} {e.quantity} @ {e.price} ({'maker' if e.maker else 'taker'}"
                f"); position {self.position}")
            if e.remaining == 0:
                self._forget(e.order_id)
        elif isinstance(e, OrderCanceled | OrderExpired) and e.symbol == self.symbol:
            self._forget(e.order_id)

    def _forget(self, order_id: int) -> None:
        for side, (oid, _) in list(self.quotes.items()):
            if oid == order_id:
                del self.quotes[side]

    def targets(self, mark: Decimal) -> dict[Side, Decimal]:
        """Where to quote: around the reservation price, skewed against the inventory."""
        inventory = max(Decimal(-1), min(Decimal(1), self.position / self.max_position))
        reservation = mark * (1 - self.skew * inventory)
        half = self.spread / 2
        out: dict[Side, Decimal] = {}
        if self.position < self.max_position:
            out[Side.BUY] = self.inst.round_price(reservation * (1 - half), ROUND_FLOOR)
        if self.position > -self.max_position:
            out[Side.SELL] = self.inst.round_price(reservation * (1 + half), ROUND_CEILING)
        return out

    async def quote(self) -> None:
        if self.mark is None:
            return
        targets = self.targets(self.mark)
        for side in (Side.BUY, Side.SELL):
            current = self.quotes.get(side)
            target = targets.get(side)
            if current is not None and target is None:
                await self._cancel(side, current[0])
            elif target is not None and current is None:
                await self._place(side, target)
            elif target is not None and current is not None:
                oid, price = current
                if abs(price - target) > self.mark * self.requote:
                    await self._amend(side, oid, target)

    async def _place(self, side: Side, price: Decimal) -> None:
        try:
            order = await self.s.rest.place_order(OrderRequest.limit(
                self.symbol, side, self.size, price, post_only=True))
        except InvalidOrder as e:  # e.g. post-only would take: the mark moved; next round
            say(f"{side} at {price} refused: {e.code}")
            return
        if order.is_open:
            self.quotes[side] = (order.order_id, price)

    async def _amend(self, side: Side, order_id: int, price: Decimal) -> None:
        try:
            await self.s.rest.amend_order(self.symbol, order_id, price=price)
            self.quotes[side] = (order_id, price)
        except NotFound:  # filled or canceled meanwhile
            self.quotes.pop(side, None)
        except InvalidOrder as e:
            say(f"amending {side} to {price} refused ({e.code}): requoting")
            await self._cancel(side, order_id)

    async def _cancel(self, side: Side, order_id: int) -> None:
        self.quotes.pop(side, None)
        with contextlib.suppress(NotFound):  # filled or canceled meanwhile
            await self.s.rest.cancel_order(self.symbol, order_id)

    async def run(self) -> None:
        rest = self.s.rest
        self.position = (await rest.position(self.symbol)).size
        prices = await rest.prices(self.symbol)
        self.mark = prices.mark
        if self.mark is None:
            raise SystemExit(f"{self.symbol} has no mark price yet")
        if not self.size:
            self.size = min_quantity(self.inst, self.mark)
        if not self.max_position:
            self.max_position = self.size * 5
        say(f"quoting {self.size} {self.inst.base_asset} a side on {self.symbol} around mark "
            f"{self.mark}: spread {self.spread / BPS} bps, skew {self.skew / BPS} bps at "
            f"{self.max_position} inventory")
        await self.s.stream.marks(self.symbol, callback=self.on_mark)
        await self.s.stream.user(callback=self.on_user)
        while True:
            try:
                await self.quote()
            except ExchangeError as e:  # a rate limit, a restart: say so, keep going
                say(f"quoting failed: {e}")
            await asyncio.sleep(self.refresh)


async def run(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "market maker")
    p.add_argument("--spread-bps", default="10", help="quoted spread (default: %(default)s)")
    p.add_argument("--skew-bps", default="10",
                   help="reservation price shift at full inventory (default: %(default)s)")
    p.add_argument("--requote-bps", default="2",
                   help="amend a quote when its target moved more (default: %(default)s)")
    p.add_argument("--size", default=None, help="quote size (default: just over the minimum)")
    p.add_argument("--max-position", default=None, help="inventory limit (default: 5 x size)")
    p.add_argument("--refresh", default="1.0", help="seconds between requotes")
    p.add_argument("--keep-position", action="store_true", help="do not close at the end")
    args = p.parse_args(argv)
    session = await open_session(args, "mm")
    bot = MarketMaker(session, args)
    try:
        await run_bounded(args.seconds, bot.run)
    finally:
        try:
            if args.keep_position:
                await session.rest.cancel_all(bot.symbol)
            else:
                await flatten(session, bot.symbol)
            position = (await session.rest.position(bot.symbol)).size
            say(f"done: {bot.fills} fills, volume {bot.volume} {bot.inst.base_asset}, "
                f"realized PnL after fees {bot.pnl.quantize(Decimal('0.01'))} USDT, position "
                f"{position}")
        except ExchangeError as e:
            say(f"could not wrap up: {e}")
        await session.close()
    return 0


if __name__ == "__main__":
    main(run)
