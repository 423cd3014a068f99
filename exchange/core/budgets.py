"""When to look at the accounts with cross positions in several symbols.

Their liquidation prices move with every mark they hold, so they have no key in the watch
(watch.py). Each has a budget instead: the margin it can lose before the margin call's 80% is
possible, as last checked exactly. A move of ``m`` ticks in a symbol where it holds ``s`` lots
costs it at most ``2 x s x m x atoms per tick-lot`` (the loss, and the maintenance margin's
growth, which is less than the notional's).

Spending every budget on every tick is a scan of all such accounts. Instead each symbol keeps
the sum of its mark moves (ticks, absolute), and a budget ``B`` over the account's weights
``w = 2 x |size| x atoms per tick-lot`` (``W`` their sum) becomes one distance
``D = ceil(B / W)``, rounded down to a power of two: the account is due once any of its symbols
has moved ``D`` ticks in all since the check. Short of that, each moved at most ``D - 1``, which
costs at most ``W x (D - 1) < B``. Per symbol a heap holds where each account falls due, so a
tick finds the due ones in O(due x log n).

These accounts change often (every fill), and each change means a fresh check at the next tick
of a symbol they hold. A check replaces an account's entry only by an earlier one: an entry
that falls due sooner than the new budget needs only looks at the account early, which is
safe. As marks move on, and with distances in powers of two (a budget that shrank a little
keeps its distance), most checks push nothing. An entry is live while the account's
``due_at`` holds its figure; the others are dropped when they come up, or swept out once they
outnumber the live ones.

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
        # Per symbol, a heap of (moved at which the account is due, account).
        self.heaps: dict[str, list[tuple[int, int]]] = {s: [] for s in self.moved}
        # Per account, the figure of its live entry in each symbol's heap: one lookup by
        # account per check (account ids are the cold keys here, symbols the warm ones).
        self.due_at: dict[int, dict[str, int]] = {}
        self.live = 0  # entries in due_at, kept for the sweep rather than summed each time
        # Tracked accounts to check on the next tick of any symbol they hold: changed since
        # their last check, or with no budget left (at or past 80%).
        self.unchecked: set[int] = set()

    @property
    def entries(self) -> int:
        """Entries in the heaps, stale ones included."""
        return sum(len(heap) for heap in self.heaps.values())

    def track(self, account: int) -> None:
        """The account has cross positions in several symbols and changed: look at it next.
        Its entries stay: they fall due no later than its last check asked."""
        self.unchecked.add(account)

    def untrack(self, account: int) -> None:
        """The account has at most one cross position now (most accounts, most of the time:
        nothing to drop unless it was tracked)."""
        self.unchecked.discard(account)
        entries = self.due_at.pop(account, None)
        if entries:
            self.live -= len(entries)
            self._sweep()

    def due(self, symbol: str, mark: int, holders: Container[int]) -> list[int]:
        """The tracked accounts holding ``symbol`` to check now that its mark is ``mark``."""
        previous = self.marks.get(symbol, mark)
        self.marks[symbol] = mark
        moved = self.moved[symbol] + abs(mark - previous)
        self.moved[symbol] = moved
        heap = self.heaps[symbol]
        while heap and heap[0][0] <= moved:
            at, account = heapq.heappop(heap)
            entries = self.due_at.get(account)
            if entries is not None and entries.get(symbol) == at:
                del entries[symbol]
                self.live -= 1
                self.unchecked.add(account)
        return sorted(a for a in self.unchecked if a in holders)

    def checked(self, account: int, room: int, weights: list[tuple[str, int]]) -> None:
        """The tracked account was checked exactly: ``room`` atoms of margin left before
        80%, and ``(symbol, weight)`` for each of its cross positions."""
        total = sum(w for _, w in weights)
        if room <= 0 or total <= 0:
            self.unchecked.add(account)
            return
        self.unchecked.discard(account)
        # The distance rounded down to a power of two: a budget shrinks a little with most
        # trades, and an entry is replaced only by an earlier one, so a distance that keeps its
        # power of two pushes nothing (at worst the account is looked at twice as early).
        distance = 1 << ((-(-room // total)).bit_length() - 1)
        entries = self.due_at.get(account)
        if entries is None:
            entries = self.due_at[account] = {}
        before = len(entries)
        changed = False  # whether an entry was pushed or dropped: only then can one be stale
        for symbol, _ in weights:
            at = self.moved[symbol] + distance
            old = entries.get(symbol)
            if old is None or at < old:
                entries[symbol] = at
                heapq.heappush(self.heaps[symbol], (at, account))
                changed = True
        if len(entries) > len(weights):  # no cross position left in some symbol
            held = {symbol for symbol, _ in weights}
            for symbol in [s for s in entries if s not in held]:
                del entries[symbol]
            changed = True
        self.live += len(entries) - before
        if changed:
            self._sweep()

    def _sweep(self) -> None:
        """Drop the stale entries once they outnumber the live ones."""
        if self.entries > 2 * self.live + 1024:
            due_at = self.due_at
            for symbol, heap in self.heaps.items():
                kept = [e for e in heap if due_at.get(e[1], {}).get(symbol) == e[0]]
                heapq.heapify(kept)
                self.heaps[symbol] = kept
