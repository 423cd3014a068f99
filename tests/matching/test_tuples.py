"""``matching.tuples.new``: the same named tuple as calling the class, whichever way."""

from __future__ import annotations

from typing import NamedTuple

from matching.events import Trade
from matching.orders import Side
from matching.tuples import new


class Point(NamedTuple):
    x: int
    y: int
    label: str | None = None


def test_every_field_by_position_builds_the_class() -> None:
    t = new(Trade, 7, 1, 2, 10, 20, 100, 3, Side.BUY, 0, 5)
    assert type(t) is Trade
    assert t == Trade(7, 1, 2, 10, 20, 100, 3, Side.BUY, 0, 5)
    assert t.maker_owner == 10 and t.aggressor is Side.BUY and t._asdict()["taker_remaining"] == 5


def test_defaults_and_keywords_take_the_class_s_own_way() -> None:
    assert new(Point, 1, 2) == Point(1, 2, None)
    assert type(new(Point, 1, 2)) is Point
    assert new(Point, 1, y=2, label="a") == Point(1, 2, "a")
    assert new(Point, 1, 2, "b") == Point(1, 2, "b")
