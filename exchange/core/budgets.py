"""When to look at the accounts with cross positions in several symbols.

Their liquidation prices move with every mark they hold, so they have no key in the watch
(watch.py). Each has a budget instead: the margin it can lose before the margin call's 80% is
possible, as last checked exactly. A move of ``m`` ticks in a symbol where it holds ``s`` lots
costs it at most ``2 x s x m x atoms per tick-lot`` (the loss, and the maintenance margin's
growth, which is less than the notional's).

Spending every budget on every tick is a scan of all such accounts. Instead each symbol keeps
the sum of its mark moves (ticks, absolute), and a budget ``B`` over the account's weights
``w = 2 x |size| x atoms per tick-lot`` (``W`` their sum) becomes one distance
``D = ceil(B / W)``: the account is due once any of its symbols has moved ``D`` ticks in all
since the check. Short of that, each moved at most ``D - 1``, which costs at most
``W x (D - 1) < B``. Per symbol a heap holds where each account falls due, so a tick finds the
due ones in O(due x log n).

These accounts change often (every fill), and each change means a fresh check, so entries are
dropped lazily: an entry carries the account's version, and one of an older version is
skipped when it comes up, or swept out once the stale ones outnumber the live ones.

A cache of when to look, not state: losing it (a restart) only means looking once more.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterable

from exchange.core.native import mypyc_attr


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)  # see native.py
class Budgets:
    def __init__(self, symbols: Iterable[str]) -> None:
        self.moved: dict[str, int] = {s: 0 for s in symbols}  # sum of |mark moves|, ticks
        self.marks: dict[str, int] = {}  # the mark each symbol was last looked at
        # Per symbol, (moved at which the account is due, account, version).
        self.heaps: dict[str, list[tuple[int, int, int]]] = {s: [] for s in self.moved}
        self.versions: dict[int, int] = {}  # tracked account -> version of its live entries
        self.entries = 0  # in the heaps, stale ones included
        self.live = 0  # entries of the current versions
        # Tracked accounts to check on the next tick of any symbol they hold: changed since
        # their last check, or with no budget left (at or past 80%).
        self.unchecked: set[int] = set()
        self._budgeted: dict[int, int] = {}  # account -> its live entries

    def track(self, account: int) -> None:
        """The account has cross positions in several symbols and changed: look at it next."""
        self._stale(account)
        self.unchecked.add(account)
        self._sweep()

    def untrack(self, account: int) -> None:
        """The account has at most one cross position now (most accounts, most of the time:
        nothing to do unless it was tracked)."""
        if account in self._budgeted:
            # Its version stays (and moves on): its entries must never match again.
            self._stale(account)
            self._sweep()
        self.unchecked.discard(account)

    def due(self, symbol: str, mark: int, holders: Container[int]) -> list[int]:
        """The tracked accounts holding ``symbol`` to check now that its mark is ``mark``."""
        previous = self.marks.get(symbol, mark)
        self.marks[symbol] = mark
        moved = self.moved[symbol] + abs(mark - previous)
        self.moved[symbol] = moved
        heap = self.heaps[symbol]
        while heap and heap[0][0] <= moved:
            _, account, version = heapq.heappop(heap)
            self.entries -= 1
            if self.versions.get(account) == version:
                self._stale(account)
                self.unchecked.add(account)
        self._sweep()  # not while popping: a sweep replaces the heaps
        return sorted(a for a in self.unchecked if a in holders)

    def checked(self, account: int, room: int, weights: list[tuple[str, int]]) -> None:
        """The tracked account was checked exactly: ``room`` atoms of margin left before
        80%, and ``(symbol, weight)`` for each of its cross positions."""
        if account in self._budgeted:  # else its entries are stale already
            self._stale(account)
        total = sum(w for _, w in weights)
        if room <= 0 or total <= 0:
            self.unchecked.add(account)
            return
        self.unchecked.discard(account)
        distance = -(-room // total)
        version = self.versions[account]
        for symbol, _ in weights:
            heapq.heappush(self.heaps[symbol], (self.moved[symbol] + distance, account, version))
        self._budgeted[account] = len(weights)
        self.live += len(weights)
        self.entries += len(weights)
        self._sweep()

    def _stale(self, account: int) -> None:
        """Make the account's entries stale."""
        self.versions[account] = self.versions.get(account, 0) + 1
        self.live -= self._budgeted.pop(account, 0)

    def _sweep(self) -> None:
        """Drop the stale entries once they outnumber the live ones."""
        if self.entries > 2 * self.live + 1024:
            versions = self.versions
            for symbol, heap in self.heaps.items():
                kept = [e for e in heap if versions[e[1]] == e[2]]
                heapq.heapify(kept)
                self.heaps[symbol] = kept
            self.entries = self.live
