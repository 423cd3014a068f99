"""A margin account: its cross wallet, a position slot per symbol, its open client order ids."""

from __future__ import annotations

from collections.abc import Iterable

from exchange.core.native import mypyc_attr
from exchange.core.positions import Position


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)  # see native.py
class Account:
    __slots__ = ("account_id", "client_ids", "positions", "wallet", "warned")

    def __init__(self, account_id: int, slots: Iterable[tuple[str, int, int]]) -> None:
        """``slots``: (symbol, default leverage, atoms per tick-lot) of each listed symbol."""
        self.account_id = account_id
        self.wallet = 0  # atoms: the cross wallet (isolated wallets live on their positions)
        # One slot per listed symbol from the start, so that reading a position never creates
        # state (a rejected command must leave the state digest unchanged).
        self.positions = {symbol: Position(symbol, lev, atpl) for symbol, lev, atpl in slots}
        self.client_ids: dict[str, int] = {}  # client order id -> order id, open orders only
        self.warned = False  # a margin call went out and the ratio has not fallen back since

    def isolated_total(self) -> int:
        return sum(p.isolated_wallet for p in self.positions.values())
