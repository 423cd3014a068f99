"""Unit tests of the order book: each order type, flag, STP mode, amend rule and rejection."""

from __future__ import annotations

import pytest

from matching import (
    Accepted,
    Amended,
    Book,
    Canceled,
    Event,
    Expired,
    ExpireReason,
    LevelChanged,
    OrderType,
    Rejected,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK, GTX = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTX
STP = SelfTradePrevention


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def of(events: list[Event], cls: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, cls)]


def two_by_two() -> Book:
    """Asks 5@101 (owner 1), 5@102 (owner 2); bids 5@99 (owner 1), 5@98 (owner 2)."""
    b = Book()
    b.place(1, 1, SELL, 101, 5)
    b.place(2, 2, SELL, 102, 5)
    b.place(3, 1, BUY, 99, 5)
    b.place(4, 2, BUY, 98, 5)
    return b


@pytest.fixture
def book() -> Book:
    return two_by_two()


# ---------------------------------------------------------------- placing and resting


def test_limit_order_rests_and_reports_its_level() -> None:
    b = Book()
    events = b.place(1, 7, BUY, 100, 3)
    assert events == [
        Accepted(1, 1, 7, BUY, OrderType.LIMIT, GTC, 100, 3),
        LevelChanged(2, BUY, 100, 3),
    ]
    assert b.best_bid() == 100 and b.best_ask() is None
    assert b.seq == 2
    info = b.order(1)
    assert info is not None and (info.price, info.remaining, info.filled) == (100, 3, 0)


def test_fifo_within_a_level_and_best_price_first() -> None:
    b = Book()
    b.place(1, 1, SELL, 101, 2)
    b.place(2, 2, SELL, 100, 2)
    b.place(3, 3, SELL, 100, 2)
    events = b.place(4, 4, BUY, 101, 5)
    trades = of(events, Trade)
    assert [(t.maker_order_id, t.price, t.quantity) for t in trades] == [
        (2, 100, 2), (3, 100, 2), (1, 101, 1)]
    assert trades[-1].maker_remaining == 1 and trades[-1].taker_remaining == 0
    assert kinds(events) == ["Accepted", "Trade", "Trade", "LevelChanged", "Trade",
                             "LevelChanged"]
    assert of(events, LevelChanged) == [LevelChanged(10, SELL, 100, 0),
                                        LevelChanged(12, SELL, 101, 1)]


def test_trade_is_at_the_makers_price(book: Book) -> None:
    trades = of(book.place(10, 3, BUY, 105, 2), Trade)
    assert trades == [Trade(trades[0].seq, 1, 10, 1, 3, 101, 2, BUY, 3, 0)]


def test_partially_filled_gtc_rests_the_rest(book: Book) -> None:
    events = book.place(10, 3, BUY, 101, 8)
    assert kinds(events) == ["Accepted", "Trade", "LevelChanged", "LevelChanged"]
    assert events[-1] == LevelChanged(events[-1].seq, BUY, 101, 3)
    info = book.order(10)
    assert info is not None and (info.filled, info.remaining, info.quantity) == (5, 3, 8)
    assert book.best_bid() == 101 and book.best_ask() == 102


def test_ioc_rest_expires(book: Book) -> None:
    events = book.place(10, 3, BUY, 101, 8, IOC)
    assert kinds(events) == ["Accepted", "Trade", "LevelChanged", "Expired"]
    assert events[-1] == Expired(events[-1].seq, 10, 3, BUY, 3, ExpireReason.IOC)
    assert book.order(10) is None


def test_ioc_that_does_not_cross_expires_whole(book: Book) -> None:
    events = book.place(10, 3, BUY, 100, 2, IOC)
    assert kinds(events) == ["Accepted", "Expired"]
    assert events[-1].quantity == 2  # type: ignore[union-attr]


def test_fok_fills_whole_or_not_at_all(book: Book) -> None:
    before = book.depth(10)
    events = book.place(10, 3, BUY, 102, 11, FOK)
    assert kinds(events) == ["Accepted", "Expired"]
    assert events[-1] == Expired(events[-1].seq, 10, 3, BUY, 11, ExpireReason.FOK)
    assert book.depth(10)[1:] == before[1:]

    events = book.place(11, 3, BUY, 102, 10, FOK)
    assert sum(t.quantity for t in of(events, Trade)) == 10
    assert book.best_ask() is None


def test_fok_counts_only_prices_within_its_limit(book: Book) -> None:
    events = book.place(10, 3, BUY, 101, 6, FOK)
    assert kinds(events) == ["Accepted", "Expired"]


def test_post_only_rests_when_it_would_not_take(book: Book) -> None:
    events = book.place(10, 3, BUY, 100, 2, GTX)
    assert kinds(events) == ["Accepted", "LevelChanged"]
    info = book.order(10)
    assert info is not None and info.post_only


def test_post_only_that_would_take_is_rejected_and_changes_nothing(book: Book) -> None:
    seq, depth = book.seq, book.depth(10)
    events = book.place(10, 3, BUY, 101, 2, GTX)
    assert events == [Rejected(seq, 10, 3, RejectReason.POST_ONLY_WOULD_TAKE)]
    assert book.seq == seq and book.depth(10) == depth and book.order(10) is None


# ---------------------------------------------------------------- market orders


@pytest.mark.parametrize("order", [
    (10, 3, BUY, 97, 2, GTC),  # rests
    (10, 3, BUY, 102, 7, GTC),  # two trades, then rests
    (10, 3, SELL, 98, 20, IOC),  # sweeps the bids, the rest expires
    (10, 3, BUY, 101, 9, FOK),  # cannot fill whole
    (10, 1, BUY, 101, 2, GTC),  # meets its own order
])
def test_placing_without_accepted_leaves_out_only_that_event(
        order: tuple[int, int, Side, int, int, TimeInForce]) -> None:
    with_it, without = two_by_two(), two_by_two()
    events = with_it.place(*order)
    assert type(events[0]) is Accepted
    assert without.place(*order, accepted=False) == events[1:]
    assert without.depth(10) == with_it.depth(10) and without.seq == with_it.seq
    market = (11, 4, SELL, 3)
    assert without.place_market(*market, accepted=False) == with_it.place_market(*market)[1:]


def test_market_order_sweeps_levels(book: Book) -> None:
    events = book.place_market(10, 3, BUY, 7)
    assert events[0] == Accepted(events[0].seq, 10, 3, BUY, OrderType.MARKET, IOC, None, 7)
    assert [(t.price, t.quantity) for t in of(events, Trade)] == [(101, 5), (102, 2)]
    assert kinds(events)[-1] == "LevelChanged"


def test_market_order_stops_at_its_protection_price(book: Book) -> None:
    events = book.place_market(10, 3, BUY, 7, protection_price=101)
    assert [(t.price, t.quantity) for t in of(events, Trade)] == [(101, 5)]
    assert events[-1] == Expired(events[-1].seq, 10, 3, BUY, 2, ExpireReason.PROTECTION)
    assert book.best_ask() == 102


def test_sell_market_order_protection_is_a_floor(book: Book) -> None:
    events = book.place_market(10, 3, SELL, 7, protection_price=99)
    assert [(t.price, t.quantity) for t in of(events, Trade)] == [(99, 5)]
    assert events[-1].reason == ExpireReason.PROTECTION  # type: ignore[union-attr]


def test_market_order_that_empties_the_side_expires_for_liquidity(book: Book) -> None:
    events = book.place_market(10, 3, BUY, 12)
    assert events[-1] == Expired(events[-1].seq, 10, 3, BUY, 2, ExpireReason.NO_LIQUIDITY)
    assert book.best_ask() is None


def test_market_order_into_an_empty_book() -> None:
    b = Book()
    events = b.place_market(1, 1, SELL, 3)
    assert kinds(events) == ["Accepted", "Expired"]
    assert events[-1].reason == ExpireReason.NO_LIQUIDITY  # type: ignore[union-attr]


# ---------------------------------------------------------------- self-trade prevention


def stp_book() -> Book:
    """Asks at 101: 2 from owner 2, then 2 from owner 1 (the taker), then 2 from owner 3."""
    b = Book()
    b.place(1, 2, SELL, 101, 2)
    b.place(2, 1, SELL, 101, 2)
    b.place(3, 3, SELL, 101, 2)
    return b


def test_stp_expire_taker_is_the_default() -> None:
    b = stp_book()
    events = b.place(10, 1, BUY, 101, 6)
    assert kinds(events) == ["Accepted", "Trade", "LevelChanged", "Expired"]
    assert events[-1] == Expired(events[-1].seq, 10, 1, BUY, 4, ExpireReason.STP)
    assert [o.order_id for o in b.level_orders(SELL, 101)] == [2, 3]


def test_stp_expire_maker() -> None:
    b = stp_book()
    events = b.place(10, 1, BUY, 101, 6, stp=STP.EXPIRE_MAKER)
    assert kinds(events) == ["Accepted", "Trade", "Expired", "Trade", "LevelChanged",
                             "LevelChanged"]
    maker_expiry = of(events, Expired)[0]
    assert (maker_expiry.order_id, maker_expiry.side, maker_expiry.quantity) == (2, SELL, 2)
    assert maker_expiry.reason == ExpireReason.STP
    assert [t.maker_order_id for t in of(events, Trade)] == [1, 3]
    assert b.order(2) is None
    assert b.order(10) is not None and b.best_bid() == 101  # the rest of 2 rests


def test_stp_expire_both() -> None:
    b = stp_book()
    events = b.place(10, 1, BUY, 101, 6, stp=STP.EXPIRE_BOTH)
    assert kinds(events) == ["Accepted", "Trade", "Expired", "LevelChanged", "Expired"]
    maker, taker = of(events, Expired)
    assert (maker.order_id, maker.quantity) == (2, 2)
    assert (taker.order_id, taker.quantity, taker.reason) == (10, 4, ExpireReason.STP)
    assert [o.order_id for o in b.level_orders(SELL, 101)] == [3]


def test_stp_none_trades_with_itself() -> None:
    b = stp_book()
    events = b.place(10, 1, BUY, 101, 6, stp=STP.NONE)
    assert [t.maker_order_id for t in of(events, Trade)] == [1, 2, 3]
    assert of(events, Trade)[1].maker_owner == of(events, Trade)[1].taker_owner == 1


def test_stp_applies_to_market_orders() -> None:
    b = stp_book()
    events = b.place_market(10, 1, BUY, 6)
    assert events[-1].reason == ExpireReason.STP  # type: ignore[union-attr]


def test_fok_with_stp_expire_taker_counts_only_up_to_the_own_order() -> None:
    b = stp_book()
    assert kinds(b.place(10, 1, BUY, 101, 3, FOK)) == ["Accepted", "Expired"]
    assert kinds(b.place(11, 1, BUY, 101, 2, FOK)) == ["Accepted", "Trade", "LevelChanged"]


def test_fok_with_stp_expire_maker_skips_own_orders() -> None:
    b = stp_book()
    events = b.place(10, 1, BUY, 101, 4, FOK, STP.EXPIRE_MAKER)
    assert sum(t.quantity for t in of(events, Trade)) == 4
    assert b.best_ask() is None


# ---------------------------------------------------------------- cancel and cancel-all


def test_cancel(book: Book) -> None:
    events = book.cancel(1, 1)
    assert events == [Canceled(book.seq - 1, 1, 1, SELL, 101, 5),
                      LevelChanged(book.seq, SELL, 101, 0)]
    assert book.best_ask() == 102 and book.order(1) is None


def test_cancel_of_a_partly_filled_order_cancels_the_open_rest(book: Book) -> None:
    book.place(10, 3, BUY, 101, 2)
    events = book.cancel(1, 1)
    assert events[0].quantity == 3  # type: ignore[union-attr]


def test_cancel_unknown_or_foreign_order_is_rejected(book: Book) -> None:
    seq = book.seq
    assert book.cancel(99, 1) == [Rejected(seq, 99, 1, RejectReason.UNKNOWN_ORDER)]
    assert book.cancel(2, 1) == [Rejected(seq, 2, 1, RejectReason.UNKNOWN_ORDER)]
    assert book.order(2) is not None and book.seq == seq


def test_canceled_order_in_mid_queue_is_skipped_by_matching() -> None:
    b = Book()
    for oid in (1, 2, 3):
        b.place(oid, oid, SELL, 100, 1)
    b.cancel(2, 2)
    trades = of(b.place(10, 9, BUY, 100, 3, IOC), Trade)
    assert [t.maker_order_id for t in trades] == [1, 3]


def test_cancel_all_cancels_only_that_owner_in_order_id_order(book: Book) -> None:
    book.place(10, 1, SELL, 103, 1)
    events = book.cancel_all(1)
    assert [(e.order_id) for e in of(events, Canceled)] == [1, 3, 10]
    assert kinds(events) == ["Canceled", "LevelChanged"] * 3
    assert book.open_orders(1) == []
    assert [o.order_id for o in book.open_orders(2)] == [2, 4]
    assert book.cancel_all(1) == []


# ---------------------------------------------------------------- amend


def test_amend_quantity_down_keeps_priority() -> None:
    b = Book()
    b.place(1, 1, SELL, 100, 5)
    b.place(2, 2, SELL, 100, 5)
    events = b.amend(1, 1, quantity=3)
    assert events == [Amended(b.seq - 1, 1, 1, SELL, 100, 3, 3, True),
                      LevelChanged(b.seq, SELL, 100, 8)]
    assert [o.order_id for o in b.level_orders(SELL, 100)] == [1, 2]


def test_amend_quantity_up_loses_priority() -> None:
    b = Book()
    b.place(1, 1, SELL, 100, 5)
    b.place(2, 2, SELL, 100, 5)
    events = b.amend(1, 1, quantity=7)
    assert events == [Amended(b.seq - 1, 1, 1, SELL, 100, 7, 7, False),
                      LevelChanged(b.seq, SELL, 100, 12)]
    assert [o.order_id for o in b.level_orders(SELL, 100)] == [2, 1]
    trades = of(b.place(10, 3, BUY, 100, 6, IOC), Trade)
    assert [t.maker_order_id for t in trades] == [2, 1]


def test_amend_price_loses_priority_and_moves_level() -> None:
    b = Book()
    b.place(1, 1, SELL, 101, 5)
    b.place(2, 2, SELL, 100, 5)
    events = b.amend(1, 1, price=100)
    assert kinds(events) == ["Amended", "LevelChanged", "LevelChanged"]
    assert events[1] == LevelChanged(events[1].seq, SELL, 101, 0)
    assert events[2] == LevelChanged(events[2].seq, SELL, 100, 10)
    assert [o.order_id for o in b.level_orders(SELL, 100)] == [2, 1]


def test_amend_total_quantity_counts_fills() -> None:
    b = Book()
    b.place(1, 1, SELL, 100, 10)
    b.place(2, 2, BUY, 100, 4)  # fills 4 of order 1
    events = b.amend(1, 1, quantity=6)
    assert events[0] == Amended(events[0].seq, 1, 1, SELL, 100, 6, 2, True)
    info = b.order(1)
    assert info is not None and (info.quantity, info.filled, info.remaining) == (6, 4, 2)


def test_amend_to_at_most_the_filled_quantity_cancels() -> None:
    b = Book()
    b.place(1, 1, SELL, 100, 10)
    b.place(2, 2, BUY, 100, 4)
    events = b.amend(1, 1, quantity=4)
    assert kinds(events) == ["Canceled", "LevelChanged"]
    assert events[0].quantity == 6  # type: ignore[union-attr]
    assert b.order(1) is None


def test_amend_to_a_crossing_price_trades_as_taker(book: Book) -> None:
    events = book.amend(3, 1, price=102)  # bid 5@99 of owner 1 -> 102: hits owner 2's ask
    # The first ask at 101 is owner 1's own: EXPIRE_TAKER (the order's mode) expires it
    # before any fill, so no level but the one it left changes.
    assert kinds(events) == ["Amended", "LevelChanged", "Expired"]
    assert events[2].reason == ExpireReason.STP  # type: ignore[union-attr]
    assert book.order(3) is None

    b = Book()
    b.place(1, 1, SELL, 101, 2)
    b.place(2, 2, BUY, 99, 5)
    events = b.amend(2, 2, price=101)
    assert kinds(events) == ["Amended", "LevelChanged", "Trade", "LevelChanged", "LevelChanged"]
    assert events[-1] == LevelChanged(events[-1].seq, BUY, 101, 3)


def test_amend_post_only_to_a_crossing_price_cancels_it() -> None:
    b = Book()
    b.place(1, 1, SELL, 101, 2)
    b.place(2, 2, BUY, 99, 5, GTX)
    events = b.amend(2, 2, price=101)
    assert kinds(events) == ["Canceled", "LevelChanged"]
    assert b.order(2) is None and b.best_ask() == 101


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"quantity": 0}, RejectReason.INVALID_QUANTITY),
        ({"quantity": -1}, RejectReason.INVALID_QUANTITY),
        ({"quantity": 1.5}, RejectReason.INVALID_QUANTITY),
        ({"price": 0}, RejectReason.INVALID_PRICE),
        ({"price": "100"}, RejectReason.INVALID_PRICE),
        ({}, RejectReason.NO_CHANGE),
        ({"price": 101, "quantity": 5}, RejectReason.NO_CHANGE),
    ],
)
def test_amend_rejections_change_nothing(book: Book, kwargs: dict, reason: RejectReason) -> None:  # type: ignore[type-arg]
    seq, depth = book.seq, book.depth(10)
    assert book.amend(1, 1, **kwargs) == [Rejected(seq, 1, 1, reason)]
    assert book.seq == seq and book.depth(10) == depth


def test_amend_unknown_or_foreign_order_is_rejected(book: Book) -> None:
    assert book.amend(2, 1, quantity=1)[0].reason == RejectReason.UNKNOWN_ORDER  # type: ignore[union-attr]
    assert book.amend(77, 1, quantity=1)[0].reason == RejectReason.UNKNOWN_ORDER  # type: ignore[union-attr]


# ---------------------------------------------------------------- rejections of place


@pytest.mark.parametrize(
    ("args", "kwargs", "reason"),
    [
        ((10, 3, 0, 100, 1), {}, RejectReason.INVALID_SIDE),
        ((10, 3, 2, 100, 1), {}, RejectReason.INVALID_SIDE),
        ((10, 3, BUY, 100, 0), {}, RejectReason.INVALID_QUANTITY),
        ((10, 3, BUY, 100, -5), {}, RejectReason.INVALID_QUANTITY),
        ((10, 3, BUY, 100, 1.0), {}, RejectReason.INVALID_QUANTITY),
        ((10, 3, BUY, 100, True), {}, RejectReason.INVALID_QUANTITY),
        ((10, 3, BUY, 0, 1), {}, RejectReason.INVALID_PRICE),
        ((10, 3, BUY, -1, 1), {}, RejectReason.INVALID_PRICE),
        ((10, 3, BUY, 99.5, 1), {}, RejectReason.INVALID_PRICE),
        ((10, 3, BUY, 100, 1), {"tif": 9}, RejectReason.INVALID_TIME_IN_FORCE),
        ((10, 3, BUY, 100, 1), {"stp": 9}, RejectReason.INVALID_STP_MODE),
        ((1, 3, BUY, 100, 1), {}, RejectReason.DUPLICATE_ORDER_ID),
    ],
)
def test_place_rejections_change_nothing(book: Book, args: tuple, kwargs: dict,  # type: ignore[type-arg]
                                         reason: RejectReason) -> None:
    seq, depth = book.seq, book.depth(10)
    events = book.place(*args, **kwargs)
    assert events == [Rejected(seq, args[0], args[1], reason)]
    assert book.seq == seq and book.depth(10) == depth


@pytest.mark.parametrize(
    ("args", "kwargs", "reason"),
    [
        ((10, 3, 5, 1), {}, RejectReason.INVALID_SIDE),
        ((10, 3, BUY, 0), {}, RejectReason.INVALID_QUANTITY),
        ((10, 3, BUY, 1), {"protection_price": 0}, RejectReason.INVALID_PRICE),
        ((10, 3, BUY, 1), {"stp": -3}, RejectReason.INVALID_STP_MODE),
        ((2, 3, BUY, 1), {}, RejectReason.DUPLICATE_ORDER_ID),
    ],
)
def test_market_rejections_change_nothing(book: Book, args: tuple, kwargs: dict,  # type: ignore[type-arg]
                                          reason: RejectReason) -> None:
    seq, depth = book.seq, book.depth(10)
    assert book.place_market(*args, **kwargs) == [Rejected(seq, args[0], args[1], reason)]
    assert book.seq == seq and book.depth(10) == depth


def test_an_order_id_can_be_reused_once_the_order_has_left(book: Book) -> None:
    book.cancel(1, 1)
    assert kinds(book.place(1, 1, SELL, 101, 5)) == ["Accepted", "LevelChanged"]


# ---------------------------------------------------------------- queries


def test_depth_is_best_first_and_limited(book: Book) -> None:
    snap = book.depth(1)
    assert snap.bids == [(99, 5)] and snap.asks == [(101, 5)] and snap.seq == book.seq
    assert book.depth(10).bids == [(99, 5), (98, 5)]
    assert book.depth(0).asks == []


def test_deltas_replayed_onto_a_snapshot_give_the_live_book(book: Book) -> None:
    snap = book.depth(1000)
    levels = {(BUY, p): q for p, q in snap.bids} | {(SELL, p): q for p, q in snap.asks}
    deltas: list[Event] = []
    deltas += book.place(10, 3, BUY, 102, 7)
    deltas += book.cancel(4, 2)
    deltas += book.place(11, 3, SELL, 97, 1, IOC)
    deltas += book.amend(2, 2, price=104)
    for e in deltas:
        if isinstance(e, LevelChanged) and e.seq > snap.seq:
            levels[e.side, e.price] = e.total
    live = book.depth(1000)
    assert sorted((p, q) for (s, p), q in levels.items() if s == BUY and q) == sorted(live.bids)
    assert sorted((p, q) for (s, p), q in levels.items() if s == SELL and q) == sorted(live.asks)


def test_sequence_numbers_increase_by_one_per_event(book: Book) -> None:
    start = book.seq
    events = book.place(10, 3, BUY, 102, 12)
    assert [e.seq for e in events] == list(range(start + 1, start + 1 + len(events)))


def test_open_orders_of_an_owner(book: Book) -> None:
    assert [o.order_id for o in book.open_orders(1)] == [1, 3]
    assert book.open_orders(42) == []


def test_many_cancels_do_not_leave_a_level_growing() -> None:
    b = Book()
    b.place(0, 0, SELL, 100, 1)  # one order that stays, so the level never empties
    for oid in range(1, 5000):
        b.place(oid, 1, SELL, 100, 1)
        b.cancel(oid, 1)
    level = b._asks[100]
    assert len(level.orders) < 100
    assert [o.order_id for o in b.level_orders(SELL, 100)] == [0]


def test_sweep_price_estimates_the_worst_level_reached(book: Book) -> None:
    assert book.sweep_price(BUY, 5) == 101
    assert book.sweep_price(BUY, 6) == 102
    assert book.sweep_price(BUY, 11) is None  # deeper than the book
    assert book.sweep_price(BUY, 6, limit=101) is None  # beyond the limit
    assert book.sweep_price(SELL, 7) == 98
    assert book.sweep_price(SELL, 5, limit=99) == 99


def test_a_pickled_book_is_the_same_book() -> None:
    import pickle

    b = Book()
    for oid in range(1, 20_001):  # one owner's chain of 10,000 orders: deep, not recursive
        side = BUY if oid % 2 else SELL
        b.place(oid, oid % 3, side, 1_000 - side * (1 + oid % 50), 1 + oid % 7, GTX)
    b.cancel(7, 7 % 3)
    copy = pickle.loads(pickle.dumps(b))
    assert copy.seq == b.seq and copy.depth(100) == b.depth(100)
    assert copy.open_orders(1) == b.open_orders(1)
    assert copy.level_orders(SELL, 1_010) == b.level_orders(SELL, 1_010)
    assert copy.place(30_000, 9, BUY, 1_010, 3) == b.place(30_000, 9, BUY, 1_010, 3)
