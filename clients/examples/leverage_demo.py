"""Too much leverage: open a 50x position and watch, from the user stream, what follows.

    python -m clients.examples.leverage_demo [--side BUY] [--margin 100] [--seconds 600]

It puts ``--margin`` USDT (isolated: only that is at stake) behind a ``--leverage`` 50x
position, shows how close the liquidation price is, then narrates as the mark moves: the
margin ratio (maintenance margin / what is left of the margin), the margin call at 80%, the
liquidation at 100% (the engine takes the position over, what margin is left goes to the
insurance fund), and what it cost. It stops once liquidated, or after ``--seconds`` (then it
closes the position).

At 50x a move of about 1.6% against the position is enough. The default market is calm
(60% a year), so that can take a while; to watch it happen in seconds, start the server with
the instrument file next to this one, whose BTCUSDT keeps almost all of a 50x position's
margin as maintenance margin:

    paper-exchange serve --config clients/examples/fast_liquidation.toml
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from decimal import Decimal

from clients import (
    Event,
    ExchangeError,
    InsuranceFundChanged,
    InvalidRequest,
    LiquidationFilled,
    LiquidationOrderPlaced,
    LiquidationStarted,
    MarginCall,
    MarginMode,
    OrderRequest,
    Position,
    PositionTakenOver,
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

HUNDRED = Decimal(100)


def ratio(p: Position) -> Decimal | None:
    """The position's margin ratio, percent: maintenance margin / (its margin + PnL)."""
    left = p.isolated_wallet + p.unrealized_pnl
    return None if left <= 0 else p.maintenance_margin / left * HUNDRED


class LeverageDemo:
    def __init__(self, session: Session, args: argparse.Namespace) -> None:
        self.s = session
        self.inst = session.instrument
        self.symbol = self.inst.symbol
        self.side = Side(args.side.upper())
        self.leverage = int(args.leverage)
        self.margin = Decimal(args.margin)
        self.every = float(args.every)
        self.liquidated = asyncio.Event()
        self.start_wallet = Decimal(0)
        self.entry: Decimal | None = None

    def on_user(self, e: Event) -> None:
        if isinstance(e, MarginCall):
            say(f"!! MARGIN CALL: the margin ratio reached {e.margin_ratio:.1f}%. The "
                "maintenance margin is now most of what is left of your margin; at 100% the "
                "position is liquidated. Add margin or cut the position - or watch.")
        elif isinstance(e, LiquidationStarted):
            say(f"!! LIQUIDATION: the margin ratio reached {e.margin_ratio:.1f}%. The "
                "exchange closes the position; your open orders on it are canceled first.")
        elif isinstance(e, PositionTakenOver):
            say(f"   the liquidation engine took over {e.size} {self.inst.base_asset} at mark "
                f"{e.mark}; the margin left, {e.leftover:.2f} USDT, goes to the insurance fund"
                f" (the bankruptcy price, where the margin is zero: {e.bankruptcy_price})")
            if not e.partial:
                self.liquidated.set()
        elif isinstance(e, LiquidationOrderPlaced):
            say(f"   the engine sends {e.side} {e.quantity} at {e.price} into the book")
        elif isinstance(e, LiquidationFilled):
            say(f"   ...filled {e.quantity} at {e.price}")
        elif isinstance(e, InsuranceFundChanged):
            say(f"   insurance fund {e.delta:+.2f} USDT, now {e.balance:.2f}")

    async def open(self) -> bool:
        rest = self.s.rest
        if self.inst.max_leverage() < self.leverage:
            say(f"{self.symbol} allows at most {self.inst.max_leverage()}x")
            return False
        if (await rest.position(self.symbol)).size:
            say(f"this account already holds {self.symbol}: run the demo with a fresh user")
            return False
        account = await rest.account()
        self.start_wallet = account.wallet_balance
        try:
            await rest.set_margin_mode(self.symbol, MarginMode.ISOLATED)
        except InvalidRequest as e:
            if e.code != "MARGIN_MODE_UNCHANGED":
                raise
        await rest.set_leverage(self.symbol, self.leverage)
        mark = (await rest.prices(self.symbol)).mark
        assert mark is not None
        quantity = max(self.inst.round_qty(self.margin * self.leverage / mark),
                       min_quantity(self.inst, mark))
        notional = quantity * mark
        say(f"You have {account.available_balance:.2f} USDT. Putting "
            f"{notional / self.leverage:.2f} USDT of isolated margin behind a {self.leverage}x "
            f"{'long' if self.side is Side.BUY else 'short'}: {quantity} "
            f"{self.inst.base_asset}, about {notional:.2f} USDT of {self.inst.base_asset}.")
        await self.s.stream.user(callback=self.on_user)
        order = await rest.place_order(OrderRequest.market(self.symbol, self.side, quantity))
        fee = sum((f.fee for f in order.fills), Decimal(0))
        self.entry = order.avg_price
        p = await rest.position(self.symbol)
        say(f"Filled at {order.avg_price}, {fee:.2f} USDT of fees. Maintenance margin "
            f"{p.maintenance_margin:.2f} of the {p.isolated_wallet:.2f} margin.")
        if p.liquidation_price is not None and order.avg_price:
            move = abs(p.liquidation_price - order.avg_price) / order.avg_price * HUNDRED
            say(f"Liquidation price {p.liquidation_price}: a {move:.2f}% move against you "
                f"and the margin is gone. That is {self.leverage}x.")
        return True

    async def watch(self) -> None:
        rest = self.s.rest
        while not self.liquidated.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.liquidated.wait(), self.every)
            if self.liquidated.is_set():
                break
            try:
                p = await rest.position(self.symbol)
            except ExchangeError as e:
                say(f"(could not read the position: {e})")
                continue
            if not p.size:
                self.liquidated.set()
                break
            r = ratio(p)
            to_liq = ""
            if p.liquidation_price is not None and p.mark_price:
                gap = abs(p.liquidation_price - p.mark_price) / p.mark_price * HUNDRED
                to_liq = f", {gap:.2f}% from liquidation at {p.liquidation_price}"
            shown = "over 100" if r is None else f"{r:.1f}"
            say(f"mark {p.mark_price}: PnL {p.unrealized_pnl:+.2f} USDT, margin ratio "
                f"{shown}%{to_liq}")

    async def run(self) -> None:
        if not await self.open():
            return
        await self.watch()
        await asyncio.sleep(1.0)  # let the engine's fill and the fund's entry arrive
        account = await self.s.rest.account()
        lost = self.start_wallet - account.wallet_balance
        say(f"LIQUIDATED. Wallet {self.start_wallet:.2f} -> {account.wallet_balance:.2f} "
            f"USDT: {lost:.2f} lost, the whole margin and the fees, on a small move.")
        say("The lesson: leverage does not change where the price goes, only how little of a "
            "move it takes to lose everything you put up. Small size, tight stops.")


async def run(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else "leverage demo")
    p.add_argument("--side", default="BUY", choices=["BUY", "SELL", "buy", "sell"])
    p.add_argument("--leverage", default="50", help="(default: %(default)s)")
    p.add_argument("--margin", default="100",
                   help="USDT of margin to lose (default: %(default)s)")
    p.add_argument("--every", default="2", help="seconds between reports (default: %(default)s)")
    args = p.parse_args(argv)
    session = await open_session(args, "yolo")
    demo = LeverageDemo(session, args)
    try:
        await run_bounded(args.seconds, demo.run)
        if not demo.liquidated.is_set() and demo.entry is not None:
            say("Not liquidated this time: the price did not move far enough against you. "
                "(Closing the position.)")
    finally:
        if not demo.liquidated.is_set():
            await flatten(session, demo.symbol)
        await session.close()
    return 0


if __name__ == "__main__":
    main(run)
