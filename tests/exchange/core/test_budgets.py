"""When accounts with cross positions in several symbols are looked at (budgets.py)."""

from __future__ import annotations

from exchange.core.budgets import Budgets

HOLDERS = {1, 2, 3}


def test_an_account_is_due_once_any_symbol_moved_its_distance() -> None:
    b = Budgets(["A", "B"])
    assert b.due("A", 1_000, HOLDERS) == []  # the first mark moves nothing
    b.track(1)
    assert b.due("A", 1_000, HOLDERS) == [1]  # changed: looked at on the next tick
    # 100 atoms of room over weights 10 + 20: due after ceil(100 / 30) = 4 ticks in all.
    b.checked(1, 100, [("A", 10), ("B", 20)])
    assert b.due("A", 1_003, HOLDERS) == []  # 3 ticks cost at most 90 < 100
    assert b.due("A", 1_001, HOLDERS) == [1]  # up and down: 5 ticks moved in all
    assert b.due("B", 50, HOLDERS) == [1]  # still unchecked until checked again


def test_every_symbol_has_the_whole_distance() -> None:
    b = Budgets(["A", "B"])
    b.due("A", 1_000, HOLDERS)
    b.due("B", 1_000, HOLDERS)
    b.track(1)
    b.checked(1, 100, [("A", 10), ("B", 20)])
    assert b.due("A", 1_003, HOLDERS) == []
    assert b.due("B", 1_003, HOLDERS) == []  # 3 x 10 + 3 x 20 = 90: still under 100
    assert b.due("B", 1_004, HOLDERS) == [1]


def test_no_room_means_looked_at_on_every_tick() -> None:
    b = Budgets(["A"])
    b.track(2)
    b.checked(2, 0, [("A", 10), ("B", 10)])
    assert b.due("A", 5, HOLDERS) == [2]
    assert b.due("A", 5, HOLDERS) == [2]
    assert b.due("A", 5, {1}) == []  # only holders of the symbol


def test_a_change_or_untracking_makes_old_entries_stale() -> None:
    b = Budgets(["A"])
    b.due("A", 1_000, HOLDERS)
    b.track(1)
    b.checked(1, 10, [("A", 10)])  # due after 1 tick
    b.untrack(1)
    assert b.due("A", 1_010, HOLDERS) == []  # its entry is stale
    b.track(1)
    b.checked(1, 1_000, [("A", 10)])  # due after 100 ticks
    assert b.due("A", 1_011, HOLDERS) == []


def test_stale_entries_are_swept() -> None:
    b = Budgets(["A", "B"])
    for _ in range(2_000):
        b.track(3)
        b.checked(3, 10**9, [("A", 1), ("B", 1)])
    assert b.live == 2
    assert sum(len(h) for h in b.heaps.values()) <= 2 * b.live + 1_024 + 2


def test_a_sweep_while_entries_fall_due_keeps_the_count() -> None:
    b = Budgets(["A", "B"])
    b.due("A", 0, HOLDERS)
    for account in range(600):  # 1,200 live entries, due after 1 tick of A
        b.track(account)
        b.checked(account, 1, [("A", 1), ("B", 1)])
    for account in range(600, 1_200):  # stale ones, enough to sweep on the next change
        b.track(account)
        b.checked(account, 10**9, [("A", 1), ("B", 1)])
        b.track(account)
    # The first 600 fall due together; the heaps are swept once, after the pops.
    assert b.due("A", 1, set(range(1_200))) == list(range(1_200))
    assert b.entries == sum(len(h) for h in b.heaps.values()) == 0
    assert b.live == 0
