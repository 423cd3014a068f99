"""Margin arithmetic and the pre-trade checks (MECHANICS.md, "Margin").

Everything is integer atoms. Rounding always goes against the trader by less than one atom
(margins round up), which moves no money: these are requirements, not transfers.

Open orders reserve margin for the part of them that could grow the position
(``Position.order_margin_with`` says how).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from exchange.core.accounts import Account
from exchange.core.instruments import Instrument
from exchange.core.orders import MarginMode
from exchange.core.positions import Position
from exchange.core.units import PPM, ceil_div


def order_margin(pos: Position) -> int:
    """Initial margin reserved by the position's resting orders."""
    return pos.order_im


def position_margin(pos: Position, inst: Instrument, mark: int) -> int:
    """Initial margin of the position at mark."""
    return ceil_div(pos.notional(mark), pos.leverage)


def maintenance_margin(pos: Position, inst: Instrument, mark: int) -> int:
    return inst.maintenance_margin(pos.notional(mark))


def cross_margin_balance(acct: Account, instruments: Mapping[str, Instrument],
                         marks: Mapping[str, int]) -> int:
    """Cross wallet + unrealized PnL of the cross positions."""
    total = acct.wallet
    for pos in acct.positions.values():
        if pos.size and pos.mode is MarginMode.CROSS:
            total += pos.unrealized_pnl(marks[pos.symbol])
    return total


def cross_available(acct: Account, instruments: Mapping[str, Instrument],
                    marks: Mapping[str, int]) -> int:
    """Margin balance less the initial margin of cross positions and of all open orders (an
    isolated symbol's orders are backed by the cross wallet until they fill). Not clamped:
    a negative figure means the account is short of margin."""
    total = acct.wallet
    for pos in acct.positions.values():
        total -= pos.order_im
        if pos.size and pos.mode is MarginMode.CROSS:
            inst = instruments[pos.symbol]
            mark = marks[pos.symbol]
            total += pos.unrealized_pnl(mark) - position_margin(pos, inst, mark)
    return total


def cross_mm_and_balance(acct: Account, instruments: Mapping[str, Instrument],
                         marks: Mapping[str, int]) -> tuple[int, int]:
    """The maintenance margin of the cross positions and the cross margin balance, in one
    pass (liquidation checks read both for every candidate)."""
    mm = 0
    balance = acct.wallet
    for pos in acct.positions.values():
        if pos.size and pos.mode is MarginMode.CROSS:
            mark = marks[pos.symbol]
            mm += instruments[pos.symbol].maintenance_margin(pos.notional(mark))
            balance += pos.unrealized_pnl(mark)
    return mm, balance


def open_loss(side: int, price: int, quantity: int, mark: int, atoms_per_tick_lot: int) -> int:
    """What an order loses at once if filled at its price: buying above mark or selling below
    it. Binance counts it in an order's cost; so do we, so that a filled order cannot leave the
    account short of the margin its acceptance promised."""
    gap = (price - mark) * side
    return gap * quantity * atoms_per_tick_lot if gap > 0 else 0


def fee_for(notional: int, fee_ppm: int) -> int:
    """A fee on ``notional``, rounded toward the venue (a rebate rounds down)."""
    return ceil_div(notional * fee_ppm, PPM)


def band_limits(mark: int, band_ppm: int) -> tuple[int, int]:
    """Lowest and highest price (ticks, inclusive) within ``mark x (1 -/+ band)``."""
    low = ceil_div(mark * (PPM - band_ppm), PPM)
    high = mark * (PPM + band_ppm) // PPM
    return max(low, 1), high


def margin_ratio_ppm(maintenance: int, margin_balance: int) -> int | None:
    """Maintenance margin over margin balance, in ppm (1_000_000 = 100%: liquidation).
    None when there is nothing to maintain; a balance at or below zero is past 100%."""
    if maintenance <= 0:
        return None
    if margin_balance <= 0:
        return PPM * 1000
    return ceil_div(maintenance * PPM, margin_balance)


def liquidation_price(size: int, signed_cost: int, wallet: int, other_mm: int, other_upnl: int,
                      inst: Instrument) -> Fraction | None:
    """The mark (in ticks, exact) at which this position's margin ratio reaches 100%.

    MECHANICS.md's one-way formula, ``LP = (WB - TMM1 + UPNL1 + cum - side*size*entry) /
    (size*MMR - side*size)``, in our units: ``wallet`` is the cross wallet (cross) or the
    isolated wallet (isolated); ``other_mm`` and ``other_upnl`` those of the account's other
    cross positions (0 for isolated). None when no positive price liquidates the position
    (e.g. a fully collateralised long).
    """
    found = ratio_price(size, signed_cost, wallet, other_mm, other_upnl, inst, PPM)
    return None if found is None else Fraction(*found)


def ratio_price(size: int, signed_cost: int, wallet: int, other_mm: int, other_upnl: int,
                inst: Instrument, ratio_ppm: int) -> tuple[int, int] | None:
    """The mark at which the margin ratio reaches ``ratio_ppm`` (1_000_000: liquidation,
    800_000: margin call), as (numerator, denominator > 0) of a price in ticks.

    From ``margin balance = maintenance margin / ratio``: with ``k = PPM / ratio_ppm``,
    ``W + UPNL1 + s*p*a - C = k*(|s|*p*a*MMR - cum + TMM1)``. The tier (MMR and cum) is the
    one the position's notional at that price falls in, so each tier is tried until one is
    consistent. Integer arithmetic only: this runs for every position the index watches.
    """
    if not size:
        return None
    atpl = inst.atoms_per_tick_lot
    held = abs(size)
    base = ratio_ppm * (wallet + other_upnl - signed_cost) - PPM * other_mm
    for tier in inst.tiers:
        numerator = (base + PPM * tier.maint_amount) * PPM
        denominator = atpl * PPM * (held * tier.mmr_ppm - size * ratio_ppm)
        if denominator < 0:
            numerator, denominator = -numerator, -denominator
        if denominator == 0 or numerator <= 0:
            continue
        # The notional at that price, times the denominator, against the tier's bounds.
        notional_scaled = numerator * held * atpl
        above_floor = tier.tier == 1 or notional_scaled > tier.floor * denominator
        if above_floor and (tier.cap is None or notional_scaled <= tier.cap * denominator):
            return numerator, denominator
    return None


def bankruptcy_price(size: int, signed_cost: int, wallet: int, other_upnl: int,
                     atoms_per_tick_lot: int) -> Fraction | None:
    """The mark (ticks, exact) at which the margin balance backing the position is zero."""
    if not size:
        return None
    price = Fraction(signed_cost - wallet - other_upnl, size * atoms_per_tick_lot)
    return price if price > 0 else None
