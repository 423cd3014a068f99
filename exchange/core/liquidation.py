"""Liquidation, the insurance fund and auto-deleveraging (MECHANICS.md, "Liquidation").

When a mark changes (or funding moved wallets), every account (cross) or isolated position at
a margin ratio of 100% or more is liquidated, most distressed first (ties: lower account id):

1. its open orders are canceled, which frees initial margin, and the ratio is checked again;
2. positions in tier 3 or higher are reduced a step at a time toward the tier below (each
   step pays the instrument's liquidation fee to the fund), checking again after each step;
3. what must go is taken over by the liquidation engine: the trader's position is closed at
   the mark and what margin is left (``leftover``, negative if already past bankruptcy) goes
   to the engine, so the trader ends at zero, never below;
4. the engine sends an IOC order into the book at the bankruptcy price (rounded to the tick
   in the fund's favour). Fills at or better than it leave a surplus;
5. if some is left, the engine keeps selling (buying) at worse prices only as far as the
   insurance fund can pay for;
6. the rest is closed against opposite positions in ADL rank order at the bankruptcy price;
7. the engine's result goes to the insurance fund, which therefore only ever receives
   surpluses and pays deficits, and never goes below zero.

Taking over at the mark and passing the leftover on is the same money as taking over at the
bankruptcy price (the leftover is exactly ``(mark - bankruptcy) x size``), but keeps every
price on the tick grid.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Final

from exchange.core import adl, risk
from exchange.core.accounts import Account
from exchange.core.events import (
    AdlFilled,
    Event,
    InsuranceFundChanged,
    LiquidationOrderPlaced,
    LiquidationStarted,
    MarginCall,
    PositionTakenOver,
)
from exchange.core.orders import CancelReason, MarginMode, Order, OrderType, WorkingType
from exchange.core.positions import Position
from exchange.core.settlement import settle_fill
from exchange.core.units import PPM, ceil_div
from matching import SelfTradePrevention, Side, TimeInForce

if TYPE_CHECKING:
    from exchange.core.venue import Venue

ENGINE: Final = -1  # the liquidation engine's account id; users' ids are >= 0
MARGIN_CALL_PPM: Final = 800_000  # a warning when the margin ratio first reaches 80%


def cross_ratio(venue: Venue, acct: Account) -> int | None:
    return risk.margin_ratio_ppm(*risk.cross_mm_and_balance(acct, venue.instruments,
                                                            venue.marks))


def isolated_figures(venue: Venue, pos: Position) -> tuple[int, int]:
    """Maintenance margin and margin balance of an isolated position."""
    mark = venue.marks[pos.symbol]
    mm = venue.instruments[pos.symbol].maintenance_margin(pos.notional(mark))
    return mm, pos.isolated_wallet + pos.unrealized_pnl(mark)


def isolated_ratio(venue: Venue, pos: Position) -> int | None:
    return risk.margin_ratio_ppm(*isolated_figures(venue, pos))


def check(venue: Venue, symbols: list[str], out: list[Event]) -> None:
    """Margin calls and liquidations after the marks of ``symbols`` (or wallets) changed.

    Candidates come from the watch index (O(log n) when nobody is due), the accounts with
    cross positions in several symbols whose budgets this tick may have spent, and those with
    a margin call out (to re-arm it once the ratio falls back); each is checked exactly.

    Liquidations can push others over: a maker whose bid the engine sells into at a price the
    mark has left behind, a position deleveraged. So the check goes round again over the
    accounts the liquidations changed, until a round liquidates nobody.
    """
    flipped: list[int] = []  # margin calls that came or went: keys to recompute
    venue.refresh_risk()
    only: set[int] | None = None  # after the first round: the accounts the last one changed
    while True:
        candidates = _candidates(venue, symbols, only, flipped, out)
        if not candidates:
            break
        # Until an account is liquidated here or trades with the engine, what the check found
        # still holds: only those ``changed`` since are measured again.
        for _, account_id, symbol, mm, balance in sorted(candidates):
            acct = venue.accounts[account_id]
            figures = None if venue.changed(account_id) else (mm, balance)
            if symbol:
                liquidate_isolated(venue, acct, acct.positions[symbol], out, figures)
            else:
                liquidate_cross(venue, acct, out, figures)
        only = venue.refresh_risk()
    for account_id in flipped:
        venue.account_changed(account_id)


def _candidates(venue: Venue, symbols: list[str], only: set[int] | None, flipped: list[int],
                out: list[Event]) -> list[tuple[int, int, str, int, int]]:
    """Check the due accounts (of ``only`` if given), with margin calls; return those to
    liquidate as (-ratio, account, symbol or "" for cross, maintenance margin, balance)."""
    candidates: list[tuple[int, int, str, int, int]] = []
    seen: set[tuple[int, str]] = set()
    for symbol in symbols:
        mark = venue.marks.get(symbol)
        if mark is None:
            continue
        holders = venue.holders[symbol]
        due = set(venue.watches[symbol].due(mark))
        due.update(venue.budgets.due(symbol, mark, holders))
        due.update(a for a, s in venue.warned if a in holders and s in ("", symbol))
        if only is not None:
            due &= only
        for account_id in sorted(due):
            acct = venue.accounts[account_id]
            pos = acct.positions[symbol]
            if not pos.size:
                continue
            if pos.mode is MarginMode.ISOLATED:
                key = (account_id, symbol)
                if key in seen:
                    continue
                seen.add(key)
                mm, balance = isolated_figures(venue, pos)
                ratio = risk.margin_ratio_ppm(mm, balance)
                pos.warned = _warn(venue, account_id, symbol, ratio, pos.warned, out, flipped)
                if ratio is not None and ratio >= PPM:
                    candidates.append((-ratio, account_id, symbol, mm, balance))
            else:
                key = (account_id, "")
                if key in seen:
                    continue
                seen.add(key)
                mm, balance = risk.cross_mm_and_balance(acct, venue.instruments, venue.marks)
                if account_id in venue.budgets.unchecked:
                    _budget(venue, acct, mm, balance)
                ratio = risk.margin_ratio_ppm(mm, balance)
                acct.warned = _warn(venue, account_id, None, ratio, acct.warned, out, flipped)
                if ratio is not None and ratio >= PPM:
                    candidates.append((-ratio, account_id, "", mm, balance))
    return candidates


def _budget(venue: Venue, acct: Account, mm: int, balance: int) -> None:
    """A fresh budget for an account with cross positions in several symbols (budgets.py):
    the margin it can lose before 80%, and what each symbol's moves cost it. (Only those
    ``unchecked`` need one: any other's budget still holds, as nothing changed since.)"""
    weights = [(symbol, 2 * abs(p.size) * p.atpl) for symbol, p in acct.positions.items()
               if p.size and p.mode is MarginMode.CROSS]
    if len(weights) >= 2:
        room = balance - ceil_div(mm * PPM, MARGIN_CALL_PPM)
        venue.budgets.checked(acct.account_id, room, weights)


def _warn(venue: Venue, account: int, symbol: str | None, ratio: int | None, warned: bool,
          out: list[Event], flipped: list[int]) -> bool:
    """Emit a margin call when the ratio first reaches 80%; re-arm once it falls below.
    The account goes on ``flipped``: its margin-call key comes or goes."""
    now_warned = ratio is not None and ratio >= MARGIN_CALL_PPM
    if now_warned and not warned:
        out.append(MarginCall(venue.next_seq(), venue.now, account, symbol, ratio or 0))
    if now_warned != warned:
        key = (account, symbol or "")
        if now_warned:
            venue.warned.add(key)
        else:
            venue.warned.discard(key)
        flipped.append(account)
    return now_warned


def _forget_warning(venue: Venue, account: int, symbol: str) -> None:
    """A liquidated position has no margin call out any more."""
    venue.warned.discard((account, symbol))


def liquidate_cross(venue: Venue, acct: Account, out: list[Event],
                    figures: tuple[int, int] | None = None) -> None:
    """Liquidate a cross account; ``figures`` are its maintenance margin and margin balance
    if known to be current."""
    mm, balance = figures or risk.cross_mm_and_balance(acct, venue.instruments, venue.marks)
    ratio = risk.margin_ratio_ppm(mm, balance)
    assert ratio is not None
    out.append(LiquidationStarted(venue.next_seq(), venue.now, acct.account_id, None, ratio))
    by_symbol = [p for _, p in sorted(acct.positions.items())]
    for pos in by_symbol:
        if pos.orders:
            venue.cancel_orders(pos, CancelReason.LIQUIDATION, out)
    crossed = [p for p in by_symbol if p.size and p.mode is MarginMode.CROSS]
    # Cancelling frees order margin, which ``available`` counts, but moves neither the wallet
    # nor a position, so the ratio stands until a step-down changes it.
    while True:
        if ratio is None or ratio < PPM:
            return
        big = [p for p in crossed if _tier(venue, p) >= 3]
        if not big:
            break
        pos = max(big, key=lambda p: (p.notional(venue.marks[p.symbol]), p.symbol))
        _step_down(venue, acct, pos, balance, out)
        mm, balance = risk.cross_mm_and_balance(acct, venue.instruments, venue.marks)
        ratio = risk.margin_ratio_ppm(mm, balance)
        crossed = [p for p in crossed if p.size]

    # The whole of it: every cross position closes at its mark; the margin balance left
    # (possibly negative) is shared among them by notional to set each bankruptcy price.
    notionals = [p.notional(venue.marks[p.symbol]) for p in crossed]
    total = sum(notionals)
    shares = [balance * n // total for n in notionals]
    shares[-1] += balance - sum(shares)
    closes: list[tuple[str, int, int]] = []
    for pos, share in zip(crossed, shares, strict=True):
        limit = _take_over(venue, acct, pos, abs(pos.size), share, False, out, credit=False)
        closes.append((pos.symbol, limit, share))
    acct.wallet = 0  # what was left goes to the engine, share by share
    _forget_warning(venue, acct.account_id, "")
    acct.warned = False
    for symbol, limit, share in closes:
        # Each symbol's close stands on its own share: a negative share of one symbol must
        # not be paid from the fund before that symbol's own close has offset it.
        venue.engine.wallet += share
        _close_engine(venue, symbol, limit, acct.account_id, out)


def liquidate_isolated(venue: Venue, acct: Account, pos: Position, out: list[Event],
                       figures: tuple[int, int] | None = None) -> None:
    """Liquidate an isolated position; ``figures`` as for ``liquidate_cross``."""
    ratio = risk.margin_ratio_ppm(*(figures or isolated_figures(venue, pos)))
    assert ratio is not None
    out.append(LiquidationStarted(venue.next_seq(), venue.now, acct.account_id, pos.symbol,
                                  ratio))
    venue.cancel_orders(pos, CancelReason.LIQUIDATION, out)
    while True:  # the ratio stands until a step-down changes it (see liquidate_cross)
        if ratio is None or ratio < PPM:
            return
        if _tier(venue, pos) < 3:
            break
        _step_down(venue, acct, pos, pos.isolated_wallet + pos.unrealized_pnl(
            venue.marks[pos.symbol]), out)
        ratio = isolated_ratio(venue, pos)
    balance = pos.isolated_wallet + pos.unrealized_pnl(venue.marks[pos.symbol])
    limit = _take_over(venue, acct, pos, abs(pos.size), balance, False, out)
    pos.isolated_wallet = 0
    _forget_warning(venue, acct.account_id, pos.symbol)
    pos.warned = False
    _close_engine(venue, pos.symbol, limit, acct.account_id, out)


def _tier(venue: Venue, pos: Position) -> int:
    inst = venue.instruments[pos.symbol]
    return inst.tier_for(pos.notional(venue.marks[pos.symbol])).tier


def _step_down(venue: Venue, acct: Account, pos: Position, backing: int,
               out: list[Event]) -> None:
    """Partial liquidation: reduce the position to the cap of the tier below its own."""
    inst = venue.instruments[pos.symbol]
    mark = venue.marks[pos.symbol]
    tier = inst.tier_for(pos.notional(mark))
    cap = inst.tiers[tier.tier - 2].cap
    assert cap is not None
    keep = cap // (mark * pos.atpl)
    lots = max(1, abs(pos.size) - keep)
    # The step's bankruptcy price is the whole position's; its fee goes to the fund.
    limit = _take_over(venue, acct, pos, lots, backing, True, out)
    _close_engine(venue, pos.symbol, limit, acct.account_id, out)


def _take_over(venue: Venue, acct: Account, pos: Position, lots: int, backing: int,
               partial: bool, out: list[Event], credit: bool = True) -> int:
    """Move ``lots`` of the position to the engine at the mark; return the engine's limit
    price (the bankruptcy price of the position, backed by ``backing`` atoms of margin,
    rounded to the tick in the fund's favour). The margin left goes to the engine's wallet
    now, or (``credit`` False) when the caller closes that symbol."""
    symbol = pos.symbol
    inst = venue.instruments[symbol]
    mark = venue.marks[symbol]
    side = 1 if pos.size > 0 else -1
    size = abs(pos.size)
    # Bankruptcy: where the backing margin is used up, for the whole position.
    # ``mark - side x backing / (size x atoms per tick-lot)``, rounded up for a long (the
    # engine sells: no lower than bankruptcy) and down for a short (it buys: no higher).
    cushion = backing // (size * pos.atpl)
    limit = max(1, mark - cushion if side > 0 else mark + cushion)
    engine = venue.engine
    pnl, _ = pos.trade(-side, mark, lots)
    engine.positions[symbol].trade(side, mark, lots)
    if partial:
        fee = ceil_div(lots * mark * pos.atpl * inst.liquidation_fee_ppm, PPM)
        fee = max(0, min(fee, backing))
        leftover = fee
        if pos.mode is MarginMode.CROSS:
            acct.wallet += pnl - fee
        else:
            pos.isolated_wallet += pnl - fee
    else:
        leftover = backing
        if pos.mode is MarginMode.CROSS:
            acct.wallet += pnl  # zeroed by the caller once every position is taken over
        else:
            pos.isolated_wallet += pnl
    if credit:
        engine.wallet += leftover
    venue.position_changed(acct.account_id, pos)
    out.append(PositionTakenOver(venue.next_seq(), venue.now, acct.account_id, symbol,
                                 side * lots, mark, limit, leftover, partial))
    return limit


def _close_engine(venue: Venue, symbol: str, limit: int, liquidated: int,
                  out: list[Event]) -> None:
    """Close the engine's position in ``symbol``: the book at ``limit`` or better, then worse
    as far as the fund can pay, then ADL at ``limit``; its result goes to the fund."""
    engine = venue.engine
    pos = engine.positions[symbol]
    if pos.size:
        side = Side.SELL if pos.size > 0 else Side.BUY
        _engine_order(venue, symbol, side, limit, abs(pos.size), liquidated, out)
    if pos.size:
        # What could still be lost beyond ``limit`` without the fund going below zero.
        capacity = venue.insurance_fund + engine.wallet + pos.unrealized_pnl(limit)
        price, lots = _affordable(venue, symbol, pos, limit, capacity)
        if lots:
            side = Side.SELL if pos.size > 0 else Side.BUY
            _engine_order(venue, symbol, side, price, lots, liquidated, out)
    if pos.size:
        _deleverage(venue, symbol, limit, liquidated, out)
    delta = engine.wallet
    engine.wallet = 0
    venue.insurance_fund += delta
    assert venue.insurance_fund >= 0, "the insurance fund never goes below zero"
    if delta:
        out.append(InsuranceFundChanged(venue.next_seq(), venue.now, symbol, delta,
                                        venue.insurance_fund, liquidated))


def _engine_order(venue: Venue, symbol: str, side: Side, price: int, lots: int,
                  liquidated: int, out: list[Event]) -> None:
    order_id = venue.next_order_id
    venue.next_order_id += 1
    order = Order(order_id, ENGINE, symbol, f"liquidation-{order_id}", side, OrderType.LIMIT,
                  TimeInForce.IOC, price, lots, False, False, None, WorkingType.CONTRACT_PRICE,
                  None, None, SelfTradePrevention.NONE, venue.now)
    venue.liquidating[order_id] = liquidated
    out.append(LiquidationOrderPlaced(venue.next_seq(), venue.now, liquidated, symbol,
                                      order_id, side, price, lots))
    engine = venue.engine
    venue.enter_book(engine, engine.positions[symbol], venue.instruments[symbol], order, out)
    del venue.liquidating[order_id]


def _affordable(venue: Venue, symbol: str, pos: Position, limit: int,
                capacity: int) -> tuple[int, int]:
    """The worst price and the lots the engine can take beyond ``limit`` while the extra loss
    stays within ``capacity`` atoms."""
    if capacity <= 0:
        return limit, 0
    book = venue.books[symbol]
    selling = pos.size > 0
    snap = book.depth(1_000)
    levels = snap.bids if selling else snap.asks
    want = abs(pos.size)
    lots = 0
    cost = 0
    price = limit
    for level_price, total in levels:
        per_lot = (limit - level_price if selling else level_price - limit) * pos.atpl
        if per_lot <= 0:
            continue  # at or better than the limit: the first order took what was there
        take = min(total, want - lots, (capacity - cost) // per_lot)
        if take <= 0:
            break
        lots += take
        cost += take * per_lot
        price = level_price
        if lots == want:
            break
    return price, lots


def _deleverage(venue: Venue, symbol: str, price: int, liquidated: int,
                out: list[Event]) -> None:
    """Close the engine's rest against opposite positions in ADL rank order at ``price``."""
    engine_pos = venue.engine.positions[symbol]
    inst = venue.instruments[symbol]
    mark = venue.marks[symbol]
    engine_long = engine_pos.size > 0
    ranked: list[tuple[Fraction, int]] = []
    for account_id in venue.holders[symbol]:
        pos = venue.accounts[account_id].positions[symbol]
        if (pos.size < 0) == engine_long and pos.size:
            ranked.append((-adl.rank(pos, mark, venue.backing_margin(account_id, pos)),
                           account_id))
    ranked.sort()
    for _, account_id in ranked:
        if not engine_pos.size:
            break
        acct = venue.accounts[account_id]
        pos = acct.positions[symbol]
        lots = min(abs(engine_pos.size), abs(pos.size))
        side = Side.BUY if pos.size < 0 else Side.SELL
        pnl, _ = settle_fill(acct, pos, inst, side, price, lots, 0)
        settle_fill(venue.engine, engine_pos, inst, -side, price, lots, 0)
        venue.position_changed(account_id, pos)
        venue.mark_dirty(account_id, symbol)
        out.append(AdlFilled(venue.next_seq(), venue.now, account_id, symbol, side, price, lots,
                             pnl, liquidated))
    assert not engine_pos.size, "opposite positions always cover the engine's"
