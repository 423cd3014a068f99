"""Differential stateful test: matching.book.Book against the naive ReferenceBook.

Hypothesis drives both books with the same random command stream and requires identical event
lists from every command. The command mix is tuned to reach the hard paths often: few owners, so
self-trade prevention fires; a narrow price band, so orders cross and sweep several levels; small
quantities, so partial fills and amends at or below the filled quantity happen; and a share of
invalid inputs, so validation order is exercised. Invariants are checked on the real Book after
every step, partly against the reference and partly from the events alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from matching.book import Book
from matching.events import (
    Accepted,
    Amended,
    Canceled,
    Event,
    Expired,
    Rejected,
    Trade,
)
from matching.orders import OrderInfo, SelfTradePrevention, Side, TimeInForce
from tests.matching.reference_book import ReferenceBook

OWNERS = (1, 2, 3)
ALL_LEVELS = 10_000  # more levels than a test book can ever hold
STP_DEFAULT = SelfTradePrevention.EXPIRE_TAKER

owners = st.sampled_from(OWNERS)
sides = st.sampled_from(list(Side))
prices = st.integers(98, 102)
quantities = st.integers(1, 6)
tifs = st.sampled_from(list(TimeInForce))
# GTC-heavy so the book fills up: IOC, FOK and GTX-that-crosses leave nothing resting.
mostly_gtc = st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, *TimeInForce])
stps = st.sampled_from(list(SelfTradePrevention))
# Ids the machine never hands out, so they are unknown to both books.
UNKNOWN_IDS = (1_000_000, 1_000_001)
# Any index; taken modulo the number of resting orders to pick one.
picks = st.integers(0, 1_000)

# Mixed valid/invalid inputs: each field independently, so several can be wrong at once and the
# validation order decides which reason wins.
odd_sides = sides | st.sampled_from([0, 2])
# True is an int to isinstance() but not to the spec's type() check.
odd_quantities = quantities | st.sampled_from([0, -1, 2.5, True])
odd_prices = prices | st.sampled_from([0, -5, 100.5, True])
odd_tifs = tifs | st.just(7)
odd_stps = stps | st.just(9)
amend_prices = st.none() | prices | st.sampled_from([0, -3])
amend_quantities = st.none() | st.integers(1, 8) | st.sampled_from([0, -2])
# None: act as the order's real owner (known to the reference); otherwise this owner, which is
# often someone else's and must then be refused as UNKNOWN_ORDER.
acting_owners = st.none() | owners

AnyBook = Book | ReferenceBook


@dataclass
class Ledger:
    """One accepted order's quantities as told by the events alone."""

    total: int  # current total quantity (Accepted, then Amended)
    filled: int = 0
    closed: int = 0  # canceled or expired


def _describe(events: list[Event]) -> str:
    return "\n".join(f"    {e!r}" for e in events) or "    (no events)"


class BookComparison(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.book = Book()
        self.ref = ReferenceBook()
        self.next_id = 1
        self.last_seq = 0
        # Keyed by order id; a reused id (allowed once the old order is gone) starts a new ledger.
        self.ledgers: dict[int, Ledger] = {}

    # ---------------------------------------------------------------- plumbing

    def _fresh_id(self) -> int:
        order_id = self.next_id
        self.next_id += 1
        return order_id

    def _run(self, label: str, command: Callable[[AnyBook], list[Event]]) -> None:
        expected = command(self.ref)
        actual = list(command(self.book))
        # Compare type names too: NamedTuples of different classes compare equal by value.
        assert [(type(e).__name__, e) for e in actual] == [
            (type(e).__name__, e) for e in expected
        ], f"{label}\n  expected (reference):\n{_describe(expected)}\n  actual (Book):\n" + (
            _describe(actual)
        )
        for event in actual:
            self._check_seq(event)
            self._account(event)
        assert self.book.seq == self.last_seq

    def _check_seq(self, event: Event) -> None:
        if isinstance(event, Rejected):
            assert event.seq == self.last_seq, f"Rejected must carry the current seq: {event}"
        else:
            assert event.seq == self.last_seq + 1, f"seq must advance by one: {event}"
            self.last_seq = event.seq

    def _account(self, event: Event) -> None:
        if isinstance(event, Accepted):
            previous = self.ledgers.get(event.order_id)
            if previous is not None:
                # The id can only be reused once its old order is finished.
                assert previous.filled + previous.closed == previous.total, previous
            self.ledgers[event.order_id] = Ledger(total=event.quantity)
        elif isinstance(event, Trade):
            maker = self.ledgers[event.maker_order_id]
            taker = self.ledgers[event.taker_order_id]
            maker.filled += event.quantity
            taker.filled += event.quantity
            assert event.maker_remaining == maker.total - maker.filled - maker.closed, event
            assert event.taker_remaining == taker.total - taker.filled - taker.closed, event
        elif isinstance(event, Canceled | Expired):
            self.ledgers[event.order_id].closed += event.quantity
        elif isinstance(event, Amended):
            ledger = self.ledgers[event.order_id]
            ledger.total = event.quantity
            assert event.remaining == ledger.total - ledger.filled, event

    def _owner_of(self, order_id: int, acting: int | None) -> int:
        if acting is not None:
            return acting
        info = self.ref.order(order_id)
        return info.owner if info is not None else OWNERS[0]

    def _has_resting(self) -> bool:
        return any(self.ref.open_orders(owner) for owner in OWNERS)

    def _pick_resting(self, pick: int) -> tuple[int, int]:
        """(order_id, owner) of a resting order, chosen by pick from the reference's orders."""
        resting = [info for owner in OWNERS for info in self.ref.open_orders(owner)]
        resting.sort(key=lambda info: info.order_id)
        chosen = resting[pick % len(resting)]
        return chosen.order_id, chosen.owner

    def _partially_filled(self) -> list[OrderInfo]:
        return [info for owner in OWNERS for info in self.ref.open_orders(owner) if info.filled > 0]

    def _place_passive(
        self,
        owner: int,
        side: Side,
        behind: int,
        quantity: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
    ) -> int:
        touch = self.ref.best_ask() if side == Side.BUY else self.ref.best_bid()
        price = (100 + side if touch is None else touch) - behind * side
        order_id = self._fresh_id()
        self._run(
            f"place({order_id}, {owner}, {side!r}, {price}, {quantity}, {tif!r}, {stp!r})",
            lambda b: b.place(order_id, owner, side, price, quantity, tif=tif, stp=stp),
        )
        return order_id

    # ---------------------------------------------------------------- rules

    @initialize(target=ids)
    def seed_unknown_ids(self) -> MultipleResults[int]:
        # Never-placed ids in the bundle: cancel/amend meet unknown ids without extra rules, and
        # the bundle is never empty, so no rule has to wait for one.
        return multiple(*UNKNOWN_IDS)

    @initialize(
        target=ids,
        ladder=st.lists(st.tuples(owners, sides, st.integers(1, 3), quantities), max_size=10),
    )
    def seed_book(self, ladder: list[tuple[int, Side, int, int]]) -> MultipleResults[int]:
        # Start most runs from a book a few orders deep, so that even short runs sweep queues;
        # the ladder shrinks away when a failure does not need it.
        return multiple(
            *(
                self._place_passive(owner, side, behind, quantity, TimeInForce.GTC, STP_DEFAULT)
                for owner, side, behind, quantity in ladder
            )
        )

    @rule(
        target=ids,
        owner=owners,
        side=sides,
        price=prices,
        quantity=quantities,
        tif=mostly_gtc,
        stp=stps,
    )
    def place_limit(
        self,
        owner: int,
        side: Side,
        price: int,
        quantity: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
    ) -> int:
        order_id = self._fresh_id()
        self._run(
            f"place({order_id}, {owner}, {side!r}, {price}, {quantity}, {tif!r}, {stp!r})",
            lambda b: b.place(order_id, owner, side, price, quantity, tif=tif, stp=stp),
        )
        return order_id

    @rule(
        target=ids,
        owner=owners,
        side=sides,
        behind=st.integers(1, 3),
        quantity=quantities,
        post_only=st.booleans(),
        stp=stps,
    )
    def place_passive(
        self,
        owner: int,
        side: Side,
        behind: int,
        quantity: int,
        post_only: bool,
        stp: SelfTradePrevention,
    ) -> int:
        # Rules are drawn uniformly and most of them take liquidity away, so without this the
        # book would hold 0-2 orders most of the time. Resting 1-3 ticks behind the opposite
        # best, on few prices, it builds levels several orders deep: time priority, sweeps and
        # STP against a queue then get exercised.
        tif = TimeInForce.GTX if post_only else TimeInForce.GTC
        return self._place_passive(owner, side, behind, quantity, tif, stp)

    @rule(
        target=ids,
        owner=owners,
        side=sides,
        through=st.integers(0, 2),
        quantity=quantities,
        tif=tifs,
        stp=stps,
    )
    def place_crossing(
        self,
        owner: int,
        side: Side,
        through: int,
        quantity: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
    ) -> int:
        # Priced at the opposite best or a tick or two past it, so that FOK feasibility, IOC
        # rests, multi-level sweeps and STP against the owner's own orders come up every run.
        touch = self.ref.best_ask() if side == Side.BUY else self.ref.best_bid()
        price = 100 if touch is None else touch + through * side
        order_id = self._fresh_id()
        self._run(
            f"place({order_id}, {owner}, {side!r}, {price}, {quantity}, {tif!r}, {stp!r})",
            lambda b: b.place(order_id, owner, side, price, quantity, tif=tif, stp=stp),
        )
        return order_id

    @rule(
        target=ids,
        owner=owners,
        side=sides,
        quantity=quantities,
        protection=st.none() | prices,
        stp=stps,
    )
    def place_market(
        self,
        owner: int,
        side: Side,
        quantity: int,
        protection: int | None,
        stp: SelfTradePrevention,
    ) -> int:
        order_id = self._fresh_id()
        self._run(
            f"place_market({order_id}, {owner}, {side!r}, {quantity}, {protection}, {stp!r})",
            lambda b: b.place_market(
                order_id, owner, side, quantity, protection_price=protection, stp=stp
            ),
        )
        return order_id

    @rule(
        target=ids,
        owner=owners,
        side=odd_sides,
        price=odd_prices,
        quantity=odd_quantities,
        tif=odd_tifs,
        stp=odd_stps,
        market=st.booleans(),
        protection=st.none() | odd_prices,
    )
    def place_maybe_invalid(
        self,
        owner: int,
        # Any: these are deliberately of the wrong type or range at times.
        side: Any,
        price: Any,
        quantity: Any,
        tif: Any,
        stp: Any,
        market: bool,
        protection: Any,
    ) -> int:
        order_id = self._fresh_id()
        if market:
            self._run(
                f"place_market({order_id}, {owner}, {side!r}, {quantity!r}, {protection!r}, "
                f"{stp!r})",
                lambda b: b.place_market(
                    order_id, owner, side, quantity, protection_price=protection, stp=stp
                ),
            )
        else:
            self._run(
                f"place({order_id}, {owner}, {side!r}, {price!r}, {quantity!r}, {tif!r}, {stp!r})",
                lambda b: b.place(order_id, owner, side, price, quantity, tif=tif, stp=stp),
            )
        return order_id

    @rule(
        order_id=ids,
        owner=owners,
        side=sides,
        price=prices,
        quantity=quantities,
        tif=tifs,
        stp=stps,
    )
    def place_reused_id(
        self,
        order_id: int,
        owner: int,
        side: Side,
        price: int,
        quantity: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
    ) -> None:
        # DUPLICATE_ORDER_ID while the old order rests; a legal new order once it is gone.
        self._run(
            f"place({order_id}, {owner}, {side!r}, {price}, {quantity}, {tif!r}, {stp!r})",
            lambda b: b.place(order_id, owner, side, price, quantity, tif=tif, stp=stp),
        )

    @rule(order_id=ids, acting=acting_owners)
    def cancel(self, order_id: int, acting: int | None) -> None:
        # Any id ever used: resting, finished, never placed, or someone else's.
        owner = self._owner_of(order_id, acting)
        self._run(f"cancel({order_id}, {owner})", lambda b: b.cancel(order_id, owner))

    @precondition(_has_resting)
    @rule(pick=picks)
    def cancel_resting(self, pick: int) -> None:
        order_id, owner = self._pick_resting(pick)
        self._run(f"cancel({order_id}, {owner})", lambda b: b.cancel(order_id, owner))

    @rule(order_id=ids, acting=acting_owners, price=amend_prices, quantity=amend_quantities)
    def amend(
        self, order_id: int, acting: int | None, price: int | None, quantity: int | None
    ) -> None:
        owner = self._owner_of(order_id, acting)
        self._run(
            f"amend({order_id}, {owner}, price={price}, quantity={quantity})",
            lambda b: b.amend(order_id, owner, price=price, quantity=quantity),
        )

    @precondition(_has_resting)
    @rule(pick=picks, price=amend_prices, quantity=amend_quantities)
    def amend_resting(self, pick: int, price: int | None, quantity: int | None) -> None:
        order_id, owner = self._pick_resting(pick)
        self._run(
            f"amend({order_id}, {owner}, price={price}, quantity={quantity})",
            lambda b: b.amend(order_id, owner, price=price, quantity=quantity),
        )

    @precondition(_has_resting)
    @rule(pick=picks, delta=st.sampled_from([-2, -1, 1, 2]), same_price=st.booleans())
    def amend_size(self, pick: int, delta: int, same_price: bool) -> None:
        # Size changes at an unchanged price: down keeps time priority, up goes to the back of
        # the level; an explicit price equal to the current one is still "same price".
        order_id, owner = self._pick_resting(pick)
        info = self.ref.order(order_id)
        assert info is not None
        quantity = max(1, info.quantity + delta)
        price = info.price if same_price else None
        self._run(
            f"amend({order_id}, {owner}, price={price}, quantity={quantity})",
            lambda b: b.amend(order_id, owner, price=price, quantity=quantity),
        )

    @precondition(_has_resting)
    @rule(pick=picks, through=st.integers(0, 2), quantity=st.none() | st.integers(1, 8))
    def amend_through_touch(self, pick: int, through: int, quantity: int | None) -> None:
        # Random re-prices rarely cross a book that is never crossed, so aim at the opposite
        # best (and up to two ticks past it): the re-priced order trades, meets its owner's
        # orders (STP), or, if post-only, is canceled.
        order_id, owner = self._pick_resting(pick)
        info = self.ref.order(order_id)
        assert info is not None
        touch = self.ref.best_ask() if info.side == Side.BUY else self.ref.best_bid()
        # With no opposite side, one tick more aggressive: still a re-price.
        price = info.price + info.side if touch is None else touch + through * info.side
        self._run(
            f"amend({order_id}, {owner}, price={price}, quantity={quantity})",
            lambda b: b.amend(order_id, owner, price=price, quantity=quantity),
        )

    @precondition(lambda self: bool(self._partially_filled()))
    @rule(pick=picks, offset=st.integers(-1, 1), new_price=st.booleans())
    def amend_to_filled(self, pick: int, offset: int, new_price: bool) -> None:
        # New total around the filled quantity: below or at it cancels the order, one above
        # leaves a single lot open (or is INVALID_QUANTITY when it comes out at 0).
        candidates = self._partially_filled()
        info = candidates[pick % len(candidates)]
        quantity = info.filled + offset
        price = info.price - info.side if new_price else None  # a passive re-price
        self._run(
            f"amend({info.order_id}, {info.owner}, price={price}, quantity={quantity})",
            lambda b: b.amend(info.order_id, info.owner, price=price, quantity=quantity),
        )

    @rule(owner=owners)
    def cancel_all(self, owner: int) -> None:
        self._run(f"cancel_all({owner})", lambda b: b.cancel_all(owner))

    @rule()
    def query_orders(self) -> None:
        # Read-only, and deliberately argument-free: Hypothesis sorts target-less rules by
        # argument count and favours the first, which would otherwise be cancel_all and would
        # keep emptying the book. This rule takes that extra share harmlessly.
        for order_id in [*self.ledgers, *UNKNOWN_IDS]:
            assert self.book.order(order_id) == self.ref.order(order_id), order_id

    # ---------------------------------------------------------------- invariants

    @invariant()
    def never_crossed(self) -> None:
        bid, ask = self.book.best_bid(), self.book.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask, f"crossed book: bid {bid} >= ask {ask}"
        assert (bid, ask) == (self.ref.best_bid(), self.ref.best_ask())

    @invariant()
    def quantities_conserved(self) -> None:
        for order_id, ledger in self.ledgers.items():
            info = self.book.order(order_id)
            open_quantity = 0 if info is None else info.remaining
            assert ledger.filled + open_quantity + ledger.closed == ledger.total, (
                order_id,
                ledger,
                info,
            )
            if info is not None:
                assert (info.quantity, info.filled) == (ledger.total, ledger.filled), (
                    order_id,
                    ledger,
                    info,
                )

    @invariant()
    def level_totals_match_orders(self) -> None:
        snapshot = self.book.depth(ALL_LEVELS)
        for side, levels in ((Side.BUY, snapshot.bids), (Side.SELL, snapshot.asks)):
            for price, total in levels:
                orders = self.book.level_orders(side, price)
                assert total > 0, (side, price, total)
                assert total == sum(o.remaining for o in orders), (side, price, total, orders)
                assert all(o.side == side and o.price == price for o in orders), orders

    @invariant()
    def same_state_as_reference(self) -> None:
        assert self.book.seq == self.ref.seq
        snapshot = self.book.depth(ALL_LEVELS)
        assert snapshot == self.ref.depth(ALL_LEVELS)
        assert self.book.depth(2) == self.ref.depth(2)
        for owner in OWNERS:
            assert self.book.open_orders(owner) == self.ref.open_orders(owner), owner
        # Time priority inside each level, which depth alone cannot show.
        for side, levels in ((Side.BUY, snapshot.bids), (Side.SELL, snapshot.asks)):
            for price, _ in levels:
                assert self.book.level_orders(side, price) == self.ref.level_orders(side, price)


BookComparison.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
TestBookComparison = BookComparison.TestCase
