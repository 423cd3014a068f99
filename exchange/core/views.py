"""Read-only views of an account and its positions: every figure a trader sees, at any mark.

These are queries, not state: the server renders them, tests check them against MECHANICS.md.
Exact prices (liquidation, bankruptcy, average entry) are ``Fraction``s of ticks; the shell
rounds them for display.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from exchange.core import adl, risk
from exchange.core.accounts import Account
from exchange.core.orders import MarginMode
from exchange.core.positions import Position
from exchange.core.venue import Venue


class PositionView(NamedTuple):
    symbol: str
    mode: MarginMode
    leverage: int
    size: int  # signed lots
    entry_price: Fraction | None  # ticks, exact average
    mark: int | None
    notional: int  # atoms at mark
    unrealized_pnl: int
    realized_pnl: int
    initial_margin: int
    maintenance_margin: int
    isolated_wallet: int
    liquidation_price: Fraction | None
    bankruptcy_price: Fraction | None
    margin_ratio_ppm: int | None  # isolated: of the position; cross: of the account
    order_margin: int
    adl_quantile: int | None  # 1-5 lights: 5 is first in line for auto-deleveraging


class AccountView(NamedTuple):
    account: int
    wallet: int  # cross wallet
    isolated_wallets: int
    unrealized_pnl: int  # of cross positions
    margin_balance: int  # cross wallet + cross unrealized PnL
    position_initial_margin: int  # of cross positions
    order_initial_margin: int
    maintenance_margin: int  # of cross positions
    available: int  # clamped at 0, as exchanges show it
    margin_ratio_ppm: int | None  # of the cross account
    positions: tuple[PositionView, ...]


def account_view(venue: Venue, account_id: int) -> AccountView:
    acct = venue.accounts[account_id]
    marks = venue.marks
    insts = venue.instruments
    cross_mm, margin_balance = risk.cross_mm_and_balance(acct, insts, marks)
    cross_ratio = risk.margin_ratio_ppm(cross_mm, margin_balance)
    views = tuple(position_view(venue, acct, p, cross_ratio)
                  for _, p in sorted(acct.positions.items()))
    cross_upnl = sum(v.unrealized_pnl for v in views if v.mode is MarginMode.CROSS)
    return AccountView(
        account=account_id,
        wallet=acct.wallet,
        isolated_wallets=acct.isolated_total(),
        unrealized_pnl=cross_upnl,
        margin_balance=margin_balance,
        position_initial_margin=sum(v.initial_margin for v in views
                                    if v.mode is MarginMode.CROSS),
        order_initial_margin=sum(v.order_margin for v in views),
        maintenance_margin=cross_mm,
        available=max(0, risk.cross_available(acct, insts, marks)),
        margin_ratio_ppm=cross_ratio,
        positions=views,
    )


def position_view(venue: Venue, acct: Account, pos: Position,
                  cross_ratio: int | None) -> PositionView:
    inst = venue.instruments[pos.symbol]
    mark = venue.marks.get(pos.symbol)
    entry = (Fraction(pos.entry_notional, abs(pos.size) * pos.atpl) if pos.size else None)
    if not pos.size or mark is None:
        return PositionView(pos.symbol, pos.mode, pos.leverage, pos.size, entry, mark, 0, 0,
                            pos.realized_pnl, 0, 0, pos.isolated_wallet, None, None, None,
                            risk.order_margin(pos), None)
    upnl = pos.unrealized_pnl(mark)
    mm = risk.maintenance_margin(pos, inst, mark)
    if pos.mode is MarginMode.ISOLATED:
        wallet, other_mm, other_upnl = pos.isolated_wallet, 0, 0
        ratio = risk.margin_ratio_ppm(mm, pos.isolated_wallet + upnl)
    else:
        wallet = acct.wallet
        others = [p for p in acct.positions.values()
                  if p is not pos and p.size and p.mode is MarginMode.CROSS]
        other_mm = sum(risk.maintenance_margin(p, venue.instruments[p.symbol],
                                               venue.marks[p.symbol]) for p in others)
        other_upnl = sum(p.unrealized_pnl(venue.marks[p.symbol]) for p in others)
        ratio = cross_ratio
    return PositionView(
        symbol=pos.symbol,
        mode=pos.mode,
        leverage=pos.leverage,
        size=pos.size,
        entry_price=entry,
        mark=mark,
        notional=pos.notional(mark),
        unrealized_pnl=upnl,
        realized_pnl=pos.realized_pnl,
        initial_margin=risk.position_margin(pos, inst, mark),
        maintenance_margin=mm,
        isolated_wallet=pos.isolated_wallet,
        liquidation_price=risk.liquidation_price(pos.size, pos.signed_cost(), wallet, other_mm,
                                                 other_upnl, inst),
        bankruptcy_price=risk.bankruptcy_price(pos.size, pos.signed_cost(), wallet, other_upnl,
                                               pos.atpl),
        margin_ratio_ppm=ratio,
        order_margin=risk.order_margin(pos),
        adl_quantile=adl_quantile(venue, acct.account_id, pos),
    )


def adl_quantile(venue: Venue, account_id: int, pos: Position) -> int | None:
    """Where the position stands in the ADL queue of its symbol and side, as 1-5 lights."""
    if not pos.size:
        return None
    mark = venue.marks[pos.symbol]
    ranked = []
    for other_id in venue.holders[pos.symbol]:
        other = venue.accounts[other_id].positions[pos.symbol]
        if (other.size > 0) == (pos.size > 0):
            ranked.append((adl.rank(other, mark, venue.backing_margin(other_id, other)),
                           other_id))
    return adl.quantiles(ranked).get(account_id)
