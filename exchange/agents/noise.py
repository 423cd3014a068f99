"""The built-in noise trader: small random taker orders, so that the tape moves.

Orders arrive at random moments, ``rate_per_min`` a minute on average: the gaps between them
are drawn uniformly from (0, 2 x 60,000 / rate_per_min) ms, kept exactly in units of
ms x rate so that the long-run rate is exact. Each order picks a symbol, a side and a notional
(uniform in ``[min_notional, max_notional]`` atoms, converted to lots at the mark and raised
to the instrument's minimum quantity and notional); it is a market order, or, with
``limit_ticks`` set, an IOC limit that many ticks through the touch. A side whose order could
take the position's notional (at mark) beyond ``max_position`` is replaced by the side toward
flat, so the position stays within about that bound. Nothing is sent into an empty side of
the book.

All randomness comes from the integer methods of one ``random.Random(seed)``: the same seed
and the same venue give the same orders.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from exchange.agents.base import check_positive
from exchange.core import risk
from exchange.core.commands import Command, CreateAccount, Deposit, PlaceOrder, SetLeverage
from exchange.core.orders import OrderType
from exchange.core.units import ATOMS_PER_USDT
from exchange.core.venue import Venue
from matching import Side, TimeInForce

MS_PER_MIN = 60_000
# Orders one step may send at most: after a long pause the trader resumes, it does not flood.
MAX_ORDERS_PER_STEP = 1_000


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseConfig:
    """Integers only: atoms, ticks, a count per minute."""

    rate_per_min: int = 30  # orders a minute on average, over all symbols
    min_notional: int = 200 * ATOMS_PER_USDT  # size range of one order, atoms at mark
    max_notional: int = 5_000 * ATOMS_PER_USDT
    max_position: int = 50_000 * ATOMS_PER_USDT  # per symbol, notional at mark
    deposit: int = 100_000 * ATOMS_PER_USDT
    leverage: int = 5
    limit_ticks: int | None = None  # None: market orders; else IOC limits this far through

    def __post_init__(self) -> None:
        check_positive("rate_per_min", self.rate_per_min, 0)
        for name in ("min_notional", "max_notional", "max_position", "deposit", "leverage"):
            check_positive(name, getattr(self, name))
        if self.max_notional < self.min_notional:
            raise ValueError("max_notional must be at least min_notional")
        if self.limit_ticks is not None:
            check_positive("limit_ticks", self.limit_ticks, 0)


class NoiseTrader:
    def __init__(self, account: int, symbols: Iterable[str], seed: int,
                 config: NoiseConfig | None = None) -> None:
        self.account = account
        self.symbols = sorted(symbols)
        if not self.symbols:
            raise ValueError("give the noise trader at least one symbol")
        self.config = config or NoiseConfig()
        self.rng = random.Random(seed)
        # When the next order is due, in ms x rate_per_min (None before the first step).
        self._next_due: int | None = None

    def setup_commands(self, now: int) -> list[Command]:
        return [CreateAccount(now, self.account),
                Deposit(now, self.account, self.config.deposit),
                *(SetLeverage(now, self.account, s, self.config.leverage) for s in self.symbols)]

    def _gap(self) -> int:
        return self.rng.randrange(1, 2 * MS_PER_MIN)  # mean MS_PER_MIN, in ms x rate

    def step(self, venue: Venue, now: int) -> list[Command]:
        rate = self.config.rate_per_min
        if not rate or self.account not in venue.accounts:
            return []
        scaled_now = now * rate
        if self._next_due is None:
            self._next_due = scaled_now + self._gap()
        commands: list[Command] = []
        # Position changes the orders of this step will make once applied (assumed filled).
        planned: dict[str, int] = {}
        sent = 0
        while self._next_due <= scaled_now:
            if sent == MAX_ORDERS_PER_STEP:
                self._next_due = scaled_now + self._gap()
                break
            sent += 1
            self._next_due += self._gap()
            command = self._order(venue, now, planned)
            if command is not None:
                commands.append(command)
                planned[command.symbol] = (planned.get(command.symbol, 0)
                                           + command.side * command.quantity)
        return commands

    def _order(self, venue: Venue, now: int, planned: dict[str, int]) -> PlaceOrder | None:
        c = self.config
        rng = self.rng
        # Always the same draws, whatever the venue's state: the stream stays aligned.
        symbol = self.symbols[rng.randrange(len(self.symbols))]
        side = Side.BUY if rng.randrange(2) else Side.SELL
        notional = rng.randrange(c.min_notional, c.max_notional + 1)
        mark = venue.marks.get(symbol)
        if mark is None:
            return None
        inst = venue.instruments[symbol]
        per_lot = mark * inst.atoms_per_tick_lot
        lots = max(notional // per_lot, inst.min_qty, -(-inst.min_notional // per_lot))
        size = venue.accounts[self.account].positions[symbol].size + planned.get(symbol, 0)
        if abs(size + side * lots) * per_lot > c.max_position and size:
            side = Side.SELL if size > 0 else Side.BUY
        book = venue.books[symbol]
        touch = book.best_ask() if side is Side.BUY else book.best_bid()
        if touch is None:
            return None
        if c.limit_ticks is None:
            return PlaceOrder(now, self.account, symbol, side, OrderType.MARKET, lots)
        low, high = risk.band_limits(mark, inst.price_band_ppm)
        price = min(max(touch + side * c.limit_ticks, low), high)
        return PlaceOrder(now, self.account, symbol, side, OrderType.LIMIT, lots, price,
                          tif=TimeInForce.IOC)
