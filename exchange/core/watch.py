"""Positions indexed by the marks at which they need attention, so that a mark tick that
liquidates nobody costs O(log n), not a scan of every position.

Per symbol, each watched position has two keys: the mark (in ticks) at which its margin ratio
reaches 80% (a margin call) and 100% (liquidation), from ``risk.ratio_price``. Long keys are
rounded up and short keys down, so a key is never on the wrong side of the exact price: the
candidates a tick finds are a superset of those due, and each is checked exactly before
anything happens to it.

Which positions have keys that hold still while other marks move:
- isolated positions: their price depends only on themselves;
- cross positions of accounts with one cross position: only on their own wallet.
Accounts with cross positions in two or more symbols have liquidation prices that move with
every other symbol's mark; they have margin budgets instead (budgets.py). A position's keys
are recomputed when its account changed (trades, fees, funding, transfers), lazily, before
the next check.
"""

from __future__ import annotations

from sortedcontainers import SortedList


class Watch:
    """The watched positions of one symbol."""

    def __init__(self) -> None:
        self.liq_long: SortedList[tuple[int, int]] = SortedList()  # (key, account): mark <= key
        self.liq_short: SortedList[tuple[int, int]] = SortedList()  # mark >= key
        self.call_long: SortedList[tuple[int, int]] = SortedList()
        self.call_short: SortedList[tuple[int, int]] = SortedList()
        self.keys: dict[int, tuple[bool, int | None, int | None]] = {}  # long?, liq, call

    def __len__(self) -> int:
        return len(self.keys)

    def set(self, account: int, long: bool, liq: int | None, call: int | None) -> None:
        old = self.keys.get(account)
        if old == (long, liq, call):
            return
        if old is not None:
            self._remove(account, old)
        self.keys[account] = (long, liq, call)
        if liq is not None:
            (self.liq_long if long else self.liq_short).add((liq, account))
        if call is not None:
            (self.call_long if long else self.call_short).add((call, account))

    def drop(self, account: int) -> None:
        old = self.keys.pop(account, None)
        if old is not None:
            self._remove(account, old)

    def _remove(self, account: int, old: tuple[bool, int | None, int | None]) -> None:
        long, liq, call = old
        if liq is not None:
            (self.liq_long if long else self.liq_short).remove((liq, account))
        if call is not None:
            (self.call_long if long else self.call_short).remove((call, account))

    def due(self, mark: int) -> list[int]:
        """Accounts whose margin-call or liquidation key this mark reaches (unsorted, may
        repeat)."""
        out: list[int] = []
        for longs, shorts in ((self.liq_long, self.liq_short),
                              (self.call_long, self.call_short)):
            # Longs are due when mark <= key: the keys from the first one >= mark upwards.
            start = longs.bisect_left((mark, -1))
            out.extend(account for _, account in longs.islice(start))
            # Shorts are due when mark >= key: the keys up to the last one <= mark.
            stop = shorts.bisect_right((mark, 1 << 62))
            out.extend(account for _, account in shorts.islice(0, stop))
        return out
