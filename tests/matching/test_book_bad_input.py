"""Wrongly typed arguments to the book's commands: one ``Rejected`` event, nothing changed.

The same in pure Python and in the compiled build (``.ci/compiled`` runs this file against it),
where an argument of the wrong type would otherwise raise TypeError at the call.
"""

from __future__ import annotations

from typing import Any

import pytest

from matching import Book, Rejected, RejectReason, SelfTradePrevention, Side, TimeInForce

BUY, SELL = Side.BUY, Side.SELL
# Values of the wrong type for any argument (None is tested where it is not allowed).
WRONG: list[Any] = [1.0, 1.5, "1", b"1", True, [1], {"a": 1}, (1,), object()]


def fresh() -> Book:
    book = Book()
    book.place(1, 1, SELL, 101, 5)
    book.place(2, 2, BUY, 99, 5)
    return book


def state(book: Book) -> tuple[object, ...]:
    return (book.seq, book.depth(100), book.open_orders(1), book.open_orders(2), len(book))


# Each command with valid arguments, and which of them (by position) may be None.
CALLS: dict[str, tuple[tuple[Any, ...], set[int]]] = {
    "place": ((10, 3, BUY, 100, 1, TimeInForce.GTC, SelfTradePrevention.EXPIRE_TAKER), set()),
    "place_market": ((10, 3, BUY, 1, 200, SelfTradePrevention.EXPIRE_TAKER), {4}),
    "cancel": ((1, 1), set()),
    "amend": ((1, 1, 102, 4), {2, 3}),
    "cancel_all": ((1,), set()),
}
CASES = [(method, position, value)
         for method, (args, nullable) in CALLS.items()
         for position in range(len(args))
         for value in [*WRONG, *([] if position in nullable else [None])]]


@pytest.mark.parametrize(("method", "position", "value"), CASES,
                         ids=[f"{m}-{p}-{type(v).__name__}" for m, p, v in CASES])
def test_a_wrongly_typed_argument_is_rejected_and_changes_nothing(
        method: str, position: int, value: Any) -> None:
    book = fresh()
    before = state(book)
    args = list(CALLS[method][0])
    args[position] = value
    events = getattr(book, method)(*args)
    assert len(events) == 1 and type(events[0]) is Rejected, events
    assert events[0].seq == before[0]
    assert state(book) == before


def test_the_valid_calls_above_are_accepted() -> None:
    for method, (args, _) in CALLS.items():
        events = getattr(fresh(), method)(*args)
        assert events and type(events[0]) is not Rejected, (method, events)


@pytest.mark.parametrize(("args", "reason"), [
    (("1", 3, BUY, 100, 1), RejectReason.INVALID_ORDER_ID),
    ((True, 3, BUY, 100, 1), RejectReason.INVALID_ORDER_ID),
    ((10, 3.0, BUY, 100, 1), RejectReason.INVALID_OWNER),
    ((10, None, BUY, 100, 1), RejectReason.INVALID_OWNER),
    ((10, 3, True, 100, 1), RejectReason.INVALID_SIDE),
    ((10, 3, 1.0, 100, 1), RejectReason.INVALID_SIDE),
    ((10, 3, [1], 100, 1), RejectReason.INVALID_SIDE),
    ((10, 3, BUY, 100, 1, True), RejectReason.INVALID_TIME_IN_FORCE),
    ((10, 3, BUY, 100, 1, {}), RejectReason.INVALID_TIME_IN_FORCE),
    ((10, 3, BUY, 100, 1, 0, 0.0), RejectReason.INVALID_STP_MODE),
])
def test_the_reason_names_the_argument(args: tuple[Any, ...], reason: RejectReason) -> None:
    book = fresh()
    assert book.place(*args) == [Rejected(book.seq, args[0], args[1], reason)]


def test_plain_ints_are_sides_and_modes() -> None:
    book = fresh()
    events = book.place(10, 3, 1, 101, 2, 1, 3)  # BUY, IOC, STP NONE
    assert [type(e).__name__ for e in events] == ["Accepted", "Trade", "LevelChanged"]


def test_cancel_all_of_a_wrong_owner_names_no_order() -> None:
    book = fresh()
    assert book.cancel_all("1") == [Rejected(book.seq, 0, "1", RejectReason.INVALID_OWNER)]  # type: ignore[arg-type]
