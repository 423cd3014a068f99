"""The built-in market maker: a ladder of post-only quotes on both sides of the index.

Every ``refresh_ms`` (at most) the maker computes its target ladder from the index price (so
the book follows the index, and the mark, which reads the book, stays close to it) and sends
the few commands that move its resting orders onto the target.

The ladder, all in integers (prices in ticks, quantities in lots):

- ``center = index - skew``, where ``skew = inventory * skew_ticks_per_level / size_lots``
  (truncated toward zero): a long maker lowers both sides, so it buys less and sells more, and
  leans back to flat; a short one raises them;
- the first bid at ``center - spread_ticks``, the first ask at ``center + spread_ticks``;
  pushed away, if need be, so that they would not trade with another account's resting order
  (post-only orders must not take);
- the deeper levels on a fixed grid of ``step_ticks``: the first grid bid is the largest
  multiple of ``step_ticks`` at least ``step_ticks`` below the first bid, the next ones
  ``step_ticks`` apart (asks likewise, upward). The grid does not move with every tick of the
  index, so a small move of the index changes the first level only: few commands, few events;
- ``size_lots`` per level (raised to the instrument's minimum quantity and notional at that
  price); the bids hold at most ``max_inventory_lots - inventory`` lots in all, the asks
  ``max_inventory_lots + inventory`` (signed inventory: > 0 long), taken from the best levels
  first, so that even if every quote of a side filled the inventory would stay within the
  limit, and a maker at the limit stops quoting the side that would grow it;
- levels outside the instrument's price band around the mark are left out, and so are the
  deepest levels whose margin the account could no longer afford.

Moving to the target (``MarketMaker.step``): orders already at a target price with the target
quantity stay (and keep their time priority); the rest are cancelled, amended onto a target
(price and quantity) or placed new, in this order: cancels; amends that move a quote away from
the other side (bids down, asks up); amends toward it; new orders. In that order no post-only
quote ever meets one of the maker's own orders: a move away only widens its own spread, and
once the moves away are done every bid of the maker lies at or below its target and every ask
at or above its own, while every target bid is below every target ask.

Client order ids are ``mm-<symbol>-<n>``, ``n`` counting up and skipping ids in use (a maker
rebuilt after a restart starts again from 1 next to its old orders).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from exchange.agents.base import check_positive
from exchange.core import risk
from exchange.core.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetLeverage,
)
from exchange.core.instruments import Instrument
from exchange.core.orders import Order, OrderType
from exchange.core.units import ATOMS_PER_USDT, PPM, ceil_div
from exchange.core.venue import Venue
from matching import Book, Side, TimeInForce

# default_config: half-spread 0.01% of the price (at least MIN_SPREAD_TICKS), levels 0.008%
# apart, so that ten levels lie within 0.1% of the index; each level holds the instrument's
# impact notional (200 USDT x tier-1 max leverage, the size the funding premium is measured
# with), so that a quiet book gives a zero premium.
DEFAULT_LEVELS = 10
SPREAD_PPM = 100
STEP_PPM = 80
MIN_SPREAD_TICKS = 2
IMPACT_USDT_PER_LEVERAGE = 200
DEFAULT_LEVERAGE = 10
# The largest inventory: this many full sides of the ladder.
MAX_INVENTORY_SIDES = 2
# The deposit covers this many times the notional of a full side of the ladder: the orders'
# margin and a full inventory's, many times over.
DEPOSIT_SIDES = 4
# A full inventory (max_inventory_lots) moves the quotes by this many half-spreads.
SKEW_AT_MAX_INVENTORY = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketMakerConfig:
    """Integers only: ticks, lots, atoms, ms."""

    levels: int = DEFAULT_LEVELS  # quotes per side
    spread_ticks: int  # the first level's distance from the (skewed) reference price
    step_ticks: int  # distance between deeper levels
    size_lots: int  # per level; raised to the instrument's minimum quantity and notional
    skew_ticks_per_level: int = 0  # quotes move this many ticks per size_lots of inventory
    max_inventory_lots: int  # no quote that could take |position| beyond it
    refresh_ms: int = 1000  # requote at most this often
    deposit: int  # atoms deposited by setup_commands
    leverage: int = DEFAULT_LEVERAGE

    def __post_init__(self) -> None:
        for name in ("levels", "spread_ticks", "step_ticks", "size_lots", "refresh_ms",
                     "deposit", "leverage"):
            check_positive(name, getattr(self, name))
        check_positive("skew_ticks_per_level", self.skew_ticks_per_level, 0)
        check_positive("max_inventory_lots", self.max_inventory_lots, 0)


class Quote(NamedTuple):
    price: int  # ticks
    lots: int


class Ladder(NamedTuple):
    bids: tuple[Quote, ...]  # best (highest) first
    asks: tuple[Quote, ...]  # best (lowest) first


def min_lots(inst: Instrument, price: int) -> int:
    """The fewest lots an order at ``price`` may have: the minimum quantity and notional."""
    return max(inst.min_qty, ceil_div(inst.min_notional, price * inst.atoms_per_tick_lot))


def default_config(instrument: Instrument, price: int, *,
                   levels: int = DEFAULT_LEVELS) -> MarketMakerConfig:
    """A sensible maker for ``instrument`` around ``price`` (ticks: the index it starts at).

    Sizes and distances are fixed in lots and ticks from then on; a maker for a market that
    has moved far (say by half) is better rebuilt from a new price.
    """
    check_positive("price", price)
    check_positive("levels", levels)
    inst = instrument
    spread = max(MIN_SPREAD_TICKS, price * SPREAD_PPM // PPM)
    step = max(1, price * STEP_PPM // PPM)
    atpl = inst.atoms_per_tick_lot
    impact = IMPACT_USDT_PER_LEVERAGE * ATOMS_PER_USDT * inst.tiers[0].max_leverage
    # At least the minimum notional with room for the price to halve.
    size = max(ceil_div(impact, price * atpl), min_lots(inst, max(1, price // 2)))
    max_inventory = MAX_INVENTORY_SIDES * levels * size
    side_notional = levels * size * price * atpl
    return MarketMakerConfig(
        levels=levels,
        spread_ticks=spread,
        step_ticks=step,
        size_lots=size,
        skew_ticks_per_level=max(1, SKEW_AT_MAX_INVENTORY * spread * size // max_inventory),
        max_inventory_lots=max_inventory,
        deposit=ceil_div(DEPOSIT_SIDES * side_notional, ATOMS_PER_USDT) * ATOMS_PER_USDT,
        leverage=min(DEFAULT_LEVERAGE, inst.tiers[0].max_leverage),
    )


def _trunc_div(a: int, b: int) -> int:
    """``a / b`` truncated toward zero (b > 0): symmetric for longs and shorts."""
    return a // b if a >= 0 else -(-a // b)


def build_ladder(config: MarketMakerConfig, inst: Instrument, reference: int, inventory: int,
                 mark: int, others_bid: int | None = None,
                 others_ask: int | None = None) -> Ladder:
    """The target quotes around ``reference`` (ticks) for a position of ``inventory`` lots.

    ``others_bid`` / ``others_ask``: the best prices of other accounts' resting orders, which
    the quotes must not reach. Every bid is below every ask.
    """
    c = config
    skew = _trunc_div(inventory * c.skew_ticks_per_level, c.size_lots)
    center = reference - skew
    bid0 = center - c.spread_ticks
    ask0 = center + c.spread_ticks
    if others_ask is not None and bid0 >= others_ask:
        bid0 = others_ask - 1
    if others_bid is not None and ask0 <= others_bid:
        ask0 = others_bid + 1
    step = c.step_ticks
    low, high = risk.band_limits(mark, inst.price_band_ppm)
    bid_grid = (bid0 - step) // step * step
    ask_grid = -(-(ask0 + step) // step) * step
    bid_prices = [bid0] + [bid_grid - k * step for k in range(c.levels - 1)]
    ask_prices = [ask0] + [ask_grid + k * step for k in range(c.levels - 1)]
    bids = _fill(inst, c.size_lots, [p for p in bid_prices if low <= p <= high],
                 c.max_inventory_lots - inventory)
    asks = _fill(inst, c.size_lots, [p for p in ask_prices if low <= p <= high],
                 c.max_inventory_lots + inventory)
    return Ladder(bids, asks)


def _fill(inst: Instrument, size: int, prices: Iterable[int], room: int) -> tuple[Quote, ...]:
    """Quotes of ``size`` lots at ``prices``, best first, ``room`` lots in all at most."""
    quotes = []
    for price in prices:
        lots = min(max(size, min_lots(inst, price)), room)
        if lots < min_lots(inst, price):
            break
        quotes.append(Quote(price, lots))
        room -= lots
    return tuple(quotes)


def affordable(ladder: Ladder, inst: Instrument, inventory: int, leverage: int,
               budget: int) -> Ladder:
    """The best levels of ``ladder`` whose initial margin (as the venue reckons it for resting
    orders next to a position of ``inventory`` lots), and the taker fee that the venue checks
    each order could pay, fit within 90% of ``budget`` atoms: a maker that has lost most of its
    money quotes less rather than send orders the venue would reject."""
    atpl = inst.atoms_per_tick_lot
    fee_ppm = max(inst.taker_fee_ppm, 0)
    limit = budget * 9 // 10
    lots = {Side.BUY: 0, Side.SELL: 0}
    notional = {Side.BUY: 0, Side.SELL: 0}
    kept: dict[Side, list[Quote]] = {Side.BUY: [], Side.SELL: []}
    fees = 0
    for k in range(max(len(ladder.bids), len(ladder.asks))):
        for side, quotes in ((Side.BUY, ladder.bids), (Side.SELL, ladder.asks)):
            if k >= len(quotes) or len(kept[side]) < k:
                continue  # that side is done
            q = quotes[k]
            n = q.price * q.lots * atpl
            fee = risk.fee_for(n, fee_ppm)
            trial_lots = {**lots, side: lots[side] + q.lots}
            trial_notional = {**notional, side: notional[side] + n}
            if _order_margin(inventory, trial_lots, trial_notional, leverage) + fees + fee > limit:
                continue
            lots, notional = trial_lots, trial_notional
            fees += fee
            kept[side].append(q)
    return Ladder(tuple(kept[Side.BUY]), tuple(kept[Side.SELL]))


def _order_margin(size: int, lots: dict[Side, int], notional: dict[Side, int],
                  leverage: int) -> int:
    """``Position.order_margin_with`` for orders not placed yet: the larger side's opening
    part (what is left once the position is closed), at its average price, over leverage."""
    most = 0
    for side, closable in ((Side.BUY, max(0, -size)), (Side.SELL, max(0, size))):
        opening = lots[side] - closable
        if lots[side] and opening > 0:
            most = max(most, ceil_div(notional[side] * opening, lots[side]))
    return ceil_div(most, leverage)


def others_best(book: Book, side: Side, owner: int, own_levels: int) -> int | None:
    """The best price on ``side`` at which an order of someone other than ``owner`` rests.
    ``own_levels``: how many of the owner's orders rest on that side (at most that many levels
    hold the owner's orders alone)."""
    snap = book.depth(own_levels + 1)
    levels = snap.bids if side is Side.BUY else snap.asks
    for price, _ in levels:
        if any(o.owner != owner for o in book.level_orders(side, price)):
            return price
    return None


class MarketMaker:
    """Quotes a ladder on one symbol from its own account (see the module's doc)."""

    def __init__(self, account: int, symbol: str, config: MarketMakerConfig) -> None:
        self.account = account
        self.symbol = symbol
        self.config = config
        self.last_refresh: int | None = None  # ms of the last requote
        self._serial = 0  # for client order ids

    def setup_commands(self, now: int) -> list[Command]:
        return [CreateAccount(now, self.account),
                Deposit(now, self.account, self.config.deposit),
                SetLeverage(now, self.account, self.symbol, self.config.leverage)]

    def target(self, venue: Venue) -> Ladder | None:
        """The ladder the maker wants now, or None without an index, a mark or an account."""
        symbol = self.symbol
        index = venue.markets[symbol].index
        mark = venue.marks.get(symbol)
        acct = venue.accounts.get(self.account)
        if index is None or mark is None or acct is None:
            return None
        pos = acct.positions[symbol]
        mine = _resting(pos.orders.values())
        book = venue.books[symbol]
        own_bids = sum(o.side is Side.BUY for o in mine)
        inst = venue.instruments[symbol]
        ladder = build_ladder(self.config, inst, index, pos.size, mark,
                              others_best(book, Side.BUY, self.account, own_bids),
                              others_best(book, Side.SELL, self.account, len(mine) - own_bids))
        # What would be available with none of its orders here.
        budget = risk.cross_available(acct, venue.instruments, venue.marks) + pos.order_im
        return affordable(ladder, inst, pos.size, pos.leverage, budget)

    def step(self, venue: Venue, now: int) -> list[Command]:
        """Requote if ``refresh_ms`` has passed since the last requote."""
        if self.last_refresh is not None and now - self.last_refresh < self.config.refresh_ms:
            return []
        ladder = self.target(venue)
        if ladder is None:
            return []
        self.last_refresh = now
        acct = venue.accounts[self.account]
        orders = _resting(acct.positions[self.symbol].orders.values())
        return self._moves(now, orders, ladder, set(acct.client_ids))

    def _moves(self, now: int, orders: list[Order], ladder: Ladder,
               used_ids: set[str]) -> list[Command]:
        cancels: list[Command] = []
        away: list[Command] = []
        toward: list[Command] = []
        places: list[Command] = []
        account, symbol = self.account, self.symbol
        for side, quotes in ((Side.BUY, ladder.bids), (Side.SELL, ladder.asks)):
            want = dict(quotes)
            mine = sorted((o for o in orders if o.side is side),
                          key=lambda o: (o.price, o.order_id))
            # Orders already on target stay; one at a target price with another quantity is
            # amended there (keeping its price keeps it clear of the other side).
            left: list[Order] = []
            for o in mine:
                assert o.price is not None
                lots = want.get(o.price)
                if lots is None:
                    left.append(o)
                    continue
                del want[o.price]
                if lots != o.remaining:
                    away.append(AmendOrder(now, account, symbol, o.order_id, price=o.price,
                                           quantity=o.filled + lots))
            # The rest pair up with the remaining targets by rank; extras go or come new.
            targets = sorted(want.items())
            for o, (price, lots) in zip(left, targets, strict=False):
                assert o.price is not None
                amend = AmendOrder(now, account, symbol, o.order_id, price=price,
                                   quantity=o.filled + lots)
                moves_away = price < o.price if side is Side.BUY else price > o.price
                (away if moves_away else toward).append(amend)
            for o in left[len(targets):]:
                cancels.append(CancelOrder(now, account, symbol, o.order_id))
            for price, lots in targets[len(left):]:
                places.append(PlaceOrder(now, account, symbol, side, OrderType.LIMIT, lots, price,
                                         tif=TimeInForce.GTX,
                                         client_order_id=self._client_id(used_ids)))
        return cancels + away + toward + places

    def _client_id(self, used: set[str]) -> str:
        while True:
            self._serial += 1
            cid = f"mm-{self.symbol}-{self._serial}"
            if cid not in used:
                used.add(cid)
                return cid


def _resting(orders: Iterable[Order]) -> list[Order]:
    return [o for o in orders if not o.is_conditional and o.price is not None]
