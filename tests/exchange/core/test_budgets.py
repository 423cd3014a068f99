"""When accounts with cross positions in several symbols are looked at (budgets.py)."""

from __future__ import annotations

import random

from exchange.core.budgets import Budgets

HOLDERS = {1, 2, 3}


def checked_once(room: int, weight: int = 10, mark: int = 1_000) -> Budgets:
    """Budgets for one symbol A, first seen at ``mark``, where account 1 changed and was then
    checked with ``room`` atoms to spend over its ``weight`` in A."""
    b = Budgets(["A"])
    b.due("A", mark, HOLDERS)
    b.track(1)
    b.checked(1, room, [("A", weight)])
    return b


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


def test_untracking_makes_old_entries_stale() -> None:
    b = checked_once(10)  # due after 1 tick
    b.untrack(1)
    assert b.due("A", 1_010, HOLDERS) == []  # its entry is stale
    b.track(1)
    b.checked(1, 1_000, [("A", 10)])  # due after 64 ticks (100, rounded down)
    assert b.due("A", 1_011, HOLDERS) == []
    assert b.due("A", 1_110, HOLDERS) == [1]


def test_a_change_keeps_an_entry_that_falls_due_sooner() -> None:
    b = checked_once(20)  # due after 2 ticks
    b.track(1)  # it traded: looked at on the next tick
    assert b.due("A", 1_000, HOLDERS) == [1]
    b.checked(1, 1_000, [("A", 10)])  # room for 64 ticks now, but the old entry stays
    assert b.live == 1 and b.entries == 1
    assert b.due("A", 1_001, HOLDERS) == []
    assert b.due("A", 1_002, HOLDERS) == [1]  # early, which is safe: it is checked again
    b.checked(1, 1_000, [("A", 10)])  # 100 ticks, rounded down to 64
    assert b.due("A", 1_065, HOLDERS) == []
    assert b.due("A", 1_066, HOLDERS) == [1]


def test_distances_round_down_to_a_power_of_two() -> None:
    b = checked_once(100, weight=1, mark=0)  # 100 ticks of room: looked at after 64
    assert b.due("A", 63, HOLDERS) == []
    assert b.due("A", 64, HOLDERS) == [1]
    b.checked(1, 127, [("A", 1)])  # 64 again
    b.track(1)
    b.checked(1, 120, [("A", 1)])  # a little less room, the same power of two: no push
    assert b.entries == 1


def test_a_check_that_needs_an_earlier_look_replaces_the_entry() -> None:
    b = checked_once(1_000)  # due after 64 ticks
    b.track(1)
    b.checked(1, 30, [("A", 10)])  # a loss: due after 2 ticks now (3, rounded down)
    assert b.live == 1 and b.entries == 2  # the old entry is stale
    assert b.due("A", 1_003, HOLDERS) == [1]
    b.checked(1, 10**6, [("A", 10)])
    assert b.due("A", 1_100, HOLDERS) == []  # the stale entry came up: dropped, not due


def test_a_symbol_no_longer_held_drops_its_entry() -> None:
    b = Budgets(["A", "B", "C"])
    b.track(1)
    b.checked(1, 100, [("A", 10), ("B", 10), ("C", 10)])
    b.track(1)
    b.checked(1, 100, [("A", 10), ("B", 10)])
    assert b.live == 2
    assert sorted(b.due_at[1]) == ["A", "B"]


def test_stale_entries_are_swept() -> None:
    b = Budgets(["A", "B"])
    for room in range(10**6, 10**6 - 2_000, -1):  # each check needs a slightly earlier look
        b.track(3)
        b.checked(3, room * 2, [("A", 1), ("B", 1)])
    assert b.live == 2
    assert b.entries <= 2 * b.live + 1_024 + 2


def test_the_live_count_the_heaps_and_the_entries_agree() -> None:
    rng = random.Random(7)
    symbols = ["A", "B", "C"]
    b = Budgets(symbols)
    for step in range(5_000):
        account = rng.randrange(40)
        roll = rng.random()
        if roll < 0.3:
            b.track(account)
        elif roll < 0.4:
            b.untrack(account)
        elif roll < 0.8:
            held = rng.sample(symbols, rng.randint(2, 3))
            b.checked(account, rng.randrange(-5, 5_000), [(s, rng.randint(1, 50)) for s in held])
        else:
            symbol = rng.choice(symbols)
            b.due(symbol, 1_000 + rng.randint(-30, 30), set(range(40)))
        assert b.live == sum(len(entries) for entries in b.due_at.values()), step
        for account_id, entries in b.due_at.items():
            for symbol, at in entries.items():
                assert (at, account_id) in b.heaps[symbol], step
        assert b.entries <= 2 * b.live + 1_024 + 3, step
