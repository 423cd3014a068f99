"""Settlement of one side of a trade: fee, realized PnL, position, isolated margin.

Where the money goes:
- the fee leaves the cross wallet for the venue's fee income;
- cross positions: realized PnL goes to the cross wallet;
- isolated positions: realized PnL goes to the position's isolated wallet, and a reduce releases
  the closed share of that wallet back to the cross wallet (all of it on a full close); an
  opening fill moves its initial margin from the cross wallet in, priced at the lower of the
  fill price and the mark, plus the open loss of a fill worse than the mark: never more than
  the pre-trade check reserved (a sell filled above its limit must not take more than was set
  aside for it).

Each fill moves money only between wallets of the account, the venue's fee income and, through
the counterparty's cost basis, the other side of the trade, so
``sum(wallets) + sum(isolated wallets) + sum(unrealized PnL) + fee income + insurance fund``
stays equal to deposits minus withdrawals, exactly, at any common mark.
"""

from __future__ import annotations

from exchange.core.accounts import Account
from exchange.core.instruments import Instrument
from exchange.core.orders import MarginMode
from exchange.core.positions import Position
from exchange.core.risk import fee_for
from exchange.core.units import ceil_div


def settle_fill(acct: Account, pos: Position, inst: Instrument, side: int, price: int,
                quantity: int, fee_ppm: int, mark: int | None = None) -> tuple[int, int]:
    """Apply one fill to the account; returns (realized PnL, fee), both in atoms."""
    atpl = inst.atoms_per_tick_lot
    fee = fee_for(price * quantity * atpl, fee_ppm)
    held = abs(pos.size)
    pnl, closed = pos.trade(side, price, quantity)
    acct.wallet -= fee
    if pos.mode is MarginMode.CROSS:
        acct.wallet += pnl
        return pnl, fee
    iso = pos.isolated_wallet + pnl
    if closed:
        # The closed share goes home with its share of the isolated margin and its own PnL,
        # so what stays open keeps its share whole; a loss beyond that share stays with the
        # position (it is for liquidation to settle) unless the position is now closed.
        release = (iso if closed == held
                   else max(0, pos.isolated_wallet * closed // held + pnl))
        iso -= release
        acct.wallet += release
    opened = quantity - closed
    if opened:
        at = price if mark is None else min(price, mark)
        margin = ceil_div(at * opened * atpl, pos.leverage)
        if mark is not None:
            # A fill worse than the mark is a loss from the first moment: it comes with its
            # own margin, as the pre-trade check made the account afford, so the isolated
            # position does not open already past bankruptcy.
            margin += max(0, (price - mark) * side) * opened * atpl
        acct.wallet -= margin
        iso += margin
    pos.isolated_wallet = iso
    return pnl, fee
