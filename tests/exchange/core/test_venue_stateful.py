"""Stateful property test of the venue's deterministic core (``exchange.core.venue.Venue``).

Hypothesis drives one venue with three to five accounts on two or three of the default symbols
through random commands of every kind, valid and not: accounts, deposits and withdrawals (some
too large, some exactly the most allowed), leverage and margin-mode changes (some that must be
refused), isolated-margin transfers (some too large), orders of every type, time in force, flag
(reduce-only, close-position), working type, client order id (duplicates and malformed ones
included) and self-trade-prevention mode, cancels (by id, by client id, of unknown ids), amends,
cancel-all, mark moves of up to a few percent (so the 5% price band, the triggers, margin calls,
liquidations and auto-deleveraging all happen), index updates and time jumps across funding
times. Prices sit a few basis points around the mark so that orders cross often; quantities are
a few times what the minimum notional needs, with malformed values mixed in (0, negative, huge,
floats, strings, None) that must be rejected, never crash the venue. Some rules size orders to
exactly what an account can afford, the edge where margin checks and rounding meet.

After every command (not only every rule) the checker asserts:

1. conservation, both the venue's own ``conservation_gap()`` and an independent sum of wallets,
   isolated wallets, unrealized PnL at each mark, fee income and insurance fund against the net
   deposits seen in ``Deposited``/``Withdrawn`` events;
2. a ``Rejected`` command leaves ``digest()`` and ``seq`` unchanged;
3. an accepted opening LIMIT/MARKET order leaves its account's cross available balance >= 0;
4. no book is crossed;
5. ``Venue.orders``, each position's ``orders``, each account's ``client_ids`` and the books
   agree with each other, order by order;
6. each position's reserve totals (and its cached order margin) equal what its resting orders
   add up to;
7. resting reduce-only orders only ever close, and never more than the position;
8. event sequence numbers advance by exactly one per state-changing event;

and a few more: no position without a mark, isolated wallets only behind isolated positions,
the liquidation engine flat and the insurance fund >= 0 between commands, ``Venue.holders``
current, no stop or take-profit left waiting past its trigger price.

Known venue bugs found here have minimal repros at the end of this file, marked
``xfail(strict=True)``; while they stand, the state machine discards the examples that reach
them (see the ``KNOWN_BUG_*`` flags) so that it keeps hunting for new ones.

A separate test applies seeded random command lists to two fresh venues and requires identical
events and digests (determinism).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange.config import load_instruments
from exchange.core import risk
from exchange.core.commands import (
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    ResetAccount,
    SetIndexPrice,
    SetLeverage,
    SetMarginMode,
    SetMarkPrice,
    Tick,
    Withdraw,
)
from exchange.core.errors import Code
from exchange.core.events import (
    AdlFilled,
    Deposited,
    Event,
    LiquidationFilled,
    OrderAccepted,
    OrderFilled,
    Rejected,
    Withdrawn,
)
from exchange.core.orders import MarginMode, OrderType, WorkingType
from exchange.core.positions import Position
from exchange.core.triggers import would_fire
from exchange.core.venue import Venue
from matching import SelfTradePrevention, Side, TimeInForce

INSTRUMENTS = load_instruments()
USDT = 10**8
BTC, ETH, SOL = "BTCUSDT", "ETHUSDT", "SOLUSDT"
SYMBOLS = (BTC, ETH, SOL)
# Starting marks in ticks: 50,000.0 / 3,000.00 / 150.000. BTC and ETH get theirs in initialize,
# SOL only in some examples (elsewhere its orders are refused until a mark rule reaches it).
BASE_MARKS = {BTC: 500_000, ETH: 300_000, SOL: 15_000}
# Lots of one "unit" of quantity: enough for the symbol's min notional at its base mark.
UNIT_LOTS = {s: -(-INSTRUMENTS[s].min_notional // (m * INSTRUMENTS[s].atoms_per_tick_lot))
             for s, m in BASE_MARKS.items()}
ACCOUNT_IDS = (1, 2, 3, 4, 5)
UNKNOWN_ACCOUNT = 77
CLIENT_IDS = ("a", "b", "c", "bot-1", "X.y:z/9")
BAD_CLIENT_IDS: tuple[Any, ...] = ("", "paper-3", "has space", "x" * 37, 5)

# ---------------------------------------------------------------- strategies

# Mostly the three accounts made in initialize; sometimes the two a rule may create, or one
# that never exists.
accounts = st.sampled_from((1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 5,
                            UNKNOWN_ACCOUNT))
symbols = st.sampled_from((BTC, BTC, ETH, ETH, SOL))
odd_symbols = symbols | st.sampled_from(("DOGEUSDT", "btcusdt", 5, None))
sides = st.sampled_from((Side.BUY, Side.SELL))
# Basis points off the mark: mostly close (orders cross often), sometimes at or past the 5%
# band's edges (500 bp), occasionally a malformed price.
bps = st.integers(-40, 40) | st.integers(-40, 40) | st.sampled_from(
    (-600, -501, -500, -499, -300, 300, 499, 500, 501, 600))
prices = bps | st.sampled_from(("@0", "@-1", "@float", "@str", "@huge"))
# Quantity specs: k -> k units; "@min" one lot (usually below the min notional); the rest
# malformed or too large.
quantities = st.integers(1, 6) | st.integers(1, 4) | st.integers(1, 3) | st.sampled_from(
    ("@min", "@max", "@over", "@mmax", 0, -3, 1.5, "2", None, True, 10**16))
tifs = st.sampled_from((TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK,
                        TimeInForce.GTX))
stps = st.sampled_from(tuple(SelfTradePrevention))
client_ids = st.none() | st.none() | st.sampled_from(CLIENT_IDS) | st.sampled_from(BAD_CLIENT_IDS)
working_types = st.sampled_from(tuple(WorkingType))
rarely = st.integers(0, 9).map(lambda n: n == 0)
picks = st.integers(0, 10_000)
CONDITIONAL = (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT,
               OrderType.TAKE_PROFIT_MARKET, OrderType.TRAILING_STOP_MARKET)


def at_bp(mark: int, bp: int) -> int:
    return max(1, mark + mark * bp // 10_000)


def resolve_price(mark: int, spec: object) -> object:
    if isinstance(spec, int):
        return at_bp(mark, spec)
    return {"@0": 0, "@-1": -1, "@float": float(mark), "@str": str(mark), "@huge": 10**16}[
        str(spec)]


def resolve_qty(symbol: str, spec: object) -> object:
    inst = INSTRUMENTS.get(symbol) if isinstance(symbol, str) else None
    if inst is None:
        inst = INSTRUMENTS[BTC]
        symbol = BTC
    if type(spec) is int and 1 <= spec <= 6:
        return UNIT_LOTS[symbol] * spec
    named = {"@min": inst.min_qty, "@max": inst.max_qty, "@over": inst.max_qty + 1,
             "@mmax": inst.market_max_qty}
    if isinstance(spec, str) and spec in named:
        return named[spec]
    return spec


# ---------------------------------------------------------------- invariants on a venue


def book_orders(venue: Venue) -> dict[int, tuple[str, Any]]:
    """Every order resting on any book: order id -> (symbol, OrderInfo)."""
    found: dict[int, tuple[str, Any]] = {}
    for symbol, book in venue.books.items():
        snap = book.depth(1 << 30)
        for side, levels in ((Side.BUY, snap.bids), (Side.SELL, snap.asks)):
            for price, total in levels:
                infos = book.level_orders(side, price)
                assert sum(i.remaining for i in infos) == total
                for info in infos:
                    assert info.order_id not in found
                    found[info.order_id] = (symbol, info)
    return found


def order_margin(pos: Position, lots: dict[str, int]) -> int:
    """The initial margin resting orders reserve (risk.py's rule), from recomputed totals."""
    buy = sell = 0
    if lots["buy_lots"]:
        opening = lots["buy_lots"] - max(0, -pos.size - lots["reduce_buy_lots"])
        if opening > 0:
            buy = -(-lots["buy_notional"] * opening // lots["buy_lots"])
    if lots["sell_lots"]:
        opening = lots["sell_lots"] - max(0, pos.size - lots["reduce_sell_lots"])
        if opening > 0:
            sell = -(-lots["sell_notional"] * opening // lots["sell_lots"])
    margin: int = -(-max(buy, sell) // pos.leverage)
    return margin


def check_venue(venue: Venue) -> None:
    """Invariants 1 (the venue's own gap), 4, 5, 6 and 7, and a few more: empty positions
    without a mark, isolated wallets only behind isolated positions, the liquidation engine
    flat between commands, ``holders`` current, no stop left unfired past its trigger."""
    assert venue.conservation_gap() == 0
    assert venue.insurance_fund >= 0
    engine = venue.engine
    assert engine.wallet == 0 and not any(p.size for p in engine.positions.values())
    for symbol, holders in venue.holders.items():
        holding = {a for a, acct in venue.accounts.items() if acct.positions[symbol].size}
        assert set(holders) == holding, (symbol, holders, holding)

    # 4. No book is crossed.
    for book in venue.books.values():
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            assert bid < ask, (bid, ask)

    # 5. Venue.orders, positions' orders, client ids and the books agree.
    resting = book_orders(venue)
    for oid, order in venue.orders.items():
        assert order.order_id == oid
        assert order.account in venue.accounts, order.account
        acct = venue.accounts[order.account]
        pos = acct.positions[order.symbol]
        assert pos.orders.get(oid) is order
        assert acct.client_ids.get(order.client_order_id) == oid
        if order.is_conditional:
            assert oid not in resting, f"conditional order {oid} is on the book"
            # No stop or take-profit is left waiting once its price has been reached.
            if order.stop_price is not None:
                watched: int | None = venue.marks[order.symbol]
                if order.working_type is WorkingType.CONTRACT_PRICE:
                    watched = venue.markets[order.symbol].last
                assert watched is None or not would_fire(order, watched), (
                    f"order {oid} ({order.order_type} {order.side.name} stop "
                    f"{order.stop_price}, {order.working_type}) not fired at {watched}")
        else:
            assert oid in resting, f"open order {oid} is not on the book"
            symbol, info = resting[oid]
            assert symbol == order.symbol
            assert info.owner == order.account
            assert info.side == order.side
            assert info.price == order.price
            assert info.remaining == order.remaining > 0
    for oid in resting:
        assert oid in venue.orders, f"book order {oid} unknown to the venue"
    for acct in venue.accounts.values():
        for cid, oid in acct.client_ids.items():
            named = venue.orders.get(oid)
            assert named is not None and named.account == acct.account_id
            assert named.client_order_id == cid
        for symbol, pos in acct.positions.items():
            if symbol not in venue.marks:
                assert pos.size == 0 and not pos.orders and pos.entry_notional == 0
            if pos.size == 0:
                assert pos.entry_notional == 0
            if pos.size == 0 or pos.mode is MarginMode.CROSS:
                assert pos.isolated_wallet == 0, (acct.account_id, symbol)
            for oid, mine in pos.orders.items():
                assert venue.orders.get(oid) is mine
                assert mine.symbol == symbol and mine.account == acct.account_id
            # 6. Reserve totals.
            on_book = [o for o in pos.orders.values() if not o.is_conditional]
            assert pos.resting == len(on_book)
            totals = {"buy_lots": 0, "sell_lots": 0, "buy_notional": 0, "sell_notional": 0,
                      "reduce_buy_lots": 0, "reduce_sell_lots": 0}
            for o in on_book:
                assert o.price is not None
                side = "buy" if o.side is Side.BUY else "sell"
                if o.reduce_only:
                    totals[f"reduce_{side}_lots"] += o.remaining
                else:
                    totals[f"{side}_lots"] += o.remaining
                    totals[f"{side}_notional"] += o.remaining * o.price * pos.atpl
            actual = {k: getattr(pos, k) for k in totals}
            assert actual == totals, (acct.account_id, symbol, actual, totals)
            assert pos.order_im == order_margin(pos, totals), (acct.account_id, symbol)
            # 7. Resting reduce-only orders only close, and never more than the position.
            where = f"account {acct.account_id} {symbol} size {pos.size}"
            reducing = [o for o in on_book if o.reduce_only]
            if pos.size == 0:
                assert not reducing, f"reduce-only order without position: {where}"
            else:
                closing = Side.SELL if pos.size > 0 else Side.BUY
                assert all(o.side is closing for o in reducing), (
                    f"reduce-only order on the opening side: {where}")
                assert sum(o.remaining for o in reducing) <= abs(pos.size), (
                    f"reduce-only orders exceed the position: {where}")


def check_margin_calls(venue: Venue, symbol: str) -> None:
    """9. After a mark tick, every account (cross) or position (isolated) in that symbol is
    below 100%, and has a margin call out exactly when it is at or past 80%: the watch index
    and the budgets of multi-symbol accounts missed nobody. Exact ratios, computed here."""
    for account_id in venue.holders[symbol]:
        acct = venue.accounts[account_id]
        pos = acct.positions[symbol]
        if pos.mode is MarginMode.ISOLATED:
            mm = venue.instruments[symbol].maintenance_margin(pos.notional(venue.marks[symbol]))
            balance = pos.isolated_wallet + pos.unrealized_pnl(venue.marks[symbol])
            warned, where = pos.warned, (account_id, symbol)
        else:
            mm, balance = 0, acct.wallet
            for p in acct.positions.values():
                if p.size and p.mode is MarginMode.CROSS:
                    mark = venue.marks[p.symbol]
                    mm += venue.instruments[p.symbol].maintenance_margin(p.notional(mark))
                    balance += p.unrealized_pnl(mark)
            warned, where = acct.warned, (account_id, "cross")
        if not mm:
            assert not warned, ("margin call with nothing to maintain", where)
            continue
        assert balance > 0, ("left past bankruptcy", where, balance)
        ratio = -(-mm * 1_000_000 // balance)
        assert ratio < 1_000_000, ("left at or past 100%", where, ratio)
        assert warned == (ratio >= 800_000), ("margin call", where, ratio, warned)


def independent_holdings(venue: Venue) -> int:
    """Wallets + isolated wallets + unrealized PnL at each mark + fee income + fund."""
    held = venue.fee_income + venue.insurance_fund
    for acct in [*venue.accounts.values(), venue.engine]:
        held += acct.wallet
        for symbol, pos in acct.positions.items():
            held += pos.isolated_wallet
            if pos.size:
                held += pos.unrealized_pnl(venue.marks[symbol])
    return held


# Fixed (the flag stays for the record; its repro below now passes): liquidating a
# cross account past bankruptcy with positions in two symbols takes both over first (the
# engine's one wallet gets both negative leftovers), then closes them one symbol at a time
# and hands the engine's whole wallet to the fund after the first, so the fund goes negative
# and ``assert venue.insurance_fund >= 0`` in liquidation.py raises out of ``Venue.apply``.
# Until it is fixed, the state machine discards the examples that reach it (the venue's state
# is half-changed after the exception) instead of failing on it; set the flag to False once the
# xfail test passes.
KNOWN_BUG_FUND_NEGATIVE_MIDWAY = False


# Fixed (the flag stays for the record; its repros below now pass): the follow-ups of a
# fill (trimming reduce-only orders, firing the stops the new last price reaches) run only
# for the symbol of the command, and not at all for a Tick. So a liquidation fill or an
# auto-deleveraging in another symbol (a cross liquidation, or funding at a Tick) can leave a
# reduce-only order larger than its position, or a CONTRACT_PRICE stop past its trigger,
# waiting. Until it is fixed, the state machine discards examples where invariant 7 or the
# "no stop left unfired" check fails right after liquidation fills; set the flag to False
# once the xfail tests pass.
KNOWN_BUG_FOLLOW_UPS = False


# Fixed (the flag stays for the record; its repro below now passes): an isolated
# position opened at a price worse than the mark (a sell below it, a buy above it) gets only
# its initial margin in its isolated wallet, though the check made the account afford the
# open loss too; the position is born past bankruptcy and is not liquidated until the next
# mark. Closing (or flipping) it then releases the negative isolated wallet into the cross
# wallet, which the check for the closing order does not foresee: an accepted order leaves the
# account's available balance negative (invariant 3). Until it is fixed, invariant 3 forgives
# exactly the deficit so released; set the flag to False once the xfail test passes.
KNOWN_BUG_ISOLATED_DEFICIT = False


def released_deficit(venue: Venue, account: int, events: Sequence[Event],
                     iso_before: dict[str, int]) -> int:
    """How much isolated-wallet deficit ``account``'s fills in ``events`` pushed into its
    cross wallet (a closed isolated position whose wallet plus realized PnL was negative)."""
    pnl: dict[str, int] = {}
    for e in events:
        if type(e) is OrderFilled and e.account == account:
            pnl[e.symbol] = pnl.get(e.symbol, 0) + e.realized_pnl
    deficit = 0
    for symbol, realized in pnl.items():
        if venue.accounts[account].positions[symbol].mode is MarginMode.ISOLATED:
            deficit += max(0, -(iso_before[symbol] + realized))
    return deficit


class KnownBug(Exception):
    """The venue raised where a known bug makes it raise."""


class Checked:
    """Applies commands to a venue and checks every answer and the state after it."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.last_seq = venue.seq
        self.net_deposits = 0  # from Deposited / Withdrawn events

    def apply(self, command: Command) -> list[Event]:
        venue = self.venue
        before = venue.digest()
        seq_before = venue.seq
        placer = venue.accounts.get(getattr(command, "account", None))  # type: ignore[arg-type]
        iso_before = ({s: p.isolated_wallet for s, p in placer.positions.items()}
                      if placer is not None else {})
        try:
            events = venue.apply(command)
        except AssertionError as exc:
            if KNOWN_BUG_FUND_NEGATIVE_MIDWAY and "insurance fund never goes below" in str(exc):
                raise KnownBug(str(exc)) from exc
            raise
        if not events:
            # Accepted with nothing to report (CancelAllOrders with no open orders, a Tick
            # before any funding time, a reset to the wallet it has, without orders): no
            # event, so no sequence number either.
            assert type(command) in (CancelAllOrders, Tick, ResetAccount), (
                f"no events for {command!r}")
            assert venue.seq == seq_before
        elif len(events) == 1 and type(events[0]) is Rejected:
            # 2. A rejection changes nothing.
            assert events[0].seq == seq_before == venue.seq
            assert venue.digest() == before, f"rejected {command!r} changed the state"
        else:
            for e in events:
                assert type(e) is not Rejected, f"Rejected among other events: {events!r}"
                # 8. One more per state-changing event, across the whole run.
                assert e.seq == self.last_seq + 1, (e, self.last_seq)
                self.last_seq = e.seq
                assert e.ts == command.ts
                if type(e) is Deposited:
                    self.net_deposits += e.amount
                elif type(e) is Withdrawn:
                    self.net_deposits -= e.amount
            assert venue.seq == self.last_seq
        if not rejected(events):
            assert venue.now == command.ts
        try:
            check_venue(venue)
        except AssertionError as exc:
            liquidated = any(type(e) in (LiquidationFilled, AdlFilled) for e in events)
            if (KNOWN_BUG_FOLLOW_UPS and liquidated
                    and ("not fired at" in str(exc) or "reduce-only" in str(exc))):
                raise KnownBug(str(exc)) from exc
            raise
        if type(command) is SetMarkPrice and not rejected(events):
            check_margin_calls(venue, command.symbol)
        # 1. Conservation, counted independently of the venue's own bookkeeping.
        assert independent_holdings(venue) == self.net_deposits
        assert venue.deposits - venue.withdrawals == self.net_deposits
        # 3. An accepted opening limit/market order leaves its account able to pay for it.
        if type(command) is PlaceOrder:
            accepted = [e for e in events if type(e) is OrderAccepted]
            if accepted:
                a = accepted[0]
                assert a.account == command.account
                if a.order_type in (OrderType.LIMIT, OrderType.MARKET) and not a.reduce_only:
                    acct = venue.accounts[a.account]
                    available = risk.cross_available(acct, venue.instruments, venue.marks)
                    if available < 0 and KNOWN_BUG_ISOLATED_DEFICIT:
                        available += released_deficit(venue, a.account, events, iso_before)
                    assert available >= 0, (a, available)
        return events


def rejected(events: Sequence[Event], code: Code | None = None) -> bool:
    first = events[0] if len(events) == 1 else None
    if type(first) is not Rejected:
        return False
    assert code is None or first.code == code, first
    return True


# ---------------------------------------------------------------- the state machine


class VenueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.checked = Checked(Venue(INSTRUMENTS))
        self.ts = 1_700_000_000_000
        self.broken = False

    @property
    def venue(self) -> Venue:
        return self.checked.venue

    def run(self, command_type: type, *args: Any, dt: int = 1, **kwargs: Any) -> list[Event]:
        self.ts += dt
        return self.apply(command_type(self.ts, *args, **kwargs))

    def apply(self, command: Any) -> list[Event]:
        try:
            return self.checked.apply(command)
        except KnownBug:
            self.broken = True
            assume(False)  # a known crash: discard this example (see KnownBug)
            raise

    def mark(self, symbol: object) -> int:
        if not isinstance(symbol, str) or symbol not in BASE_MARKS:
            return BASE_MARKS[BTC]
        return self.venue.marks.get(symbol, BASE_MARKS[symbol])

    def pick_order(self, pick: int) -> Any:
        orders = sorted(self.venue.orders)
        return self.venue.orders[orders[pick % len(orders)]] if orders else None

    # ------------------------------------------------------------ setup

    @initialize(funds=st.lists(st.sampled_from((100, 1_000, 10_000, 100_000)), min_size=3,
                               max_size=3),
                sol=st.booleans(),
                settings=st.lists(st.tuples(st.sampled_from((BTC, BTC, ETH, SOL)),
                                            st.sampled_from((MarginMode.ISOLATED, None)),
                                            st.sampled_from((2, 10, 50, 75, 100))),
                                  min_size=3, max_size=3))
    def setup(self, funds: list[int], sol: bool,
              settings: list[tuple[str, MarginMode | None, int]]) -> None:
        """Marks for two or three symbols; three funded accounts, each with one symbol set
        to its own leverage and, sometimes, to isolated margin."""
        for symbol in (BTC, ETH, SOL) if sol else (BTC, ETH):
            self.run(SetMarkPrice, symbol, BASE_MARKS[symbol], BASE_MARKS[symbol])
        for account, usdt, (symbol, mode, leverage) in zip(ACCOUNT_IDS[:3], funds, settings,
                                                          strict=True):
            assert not rejected(self.run(CreateAccount, account))
            assert not rejected(self.run(Deposit, account, usdt * USDT))
            assert not rejected(self.run(SetLeverage, account, symbol, leverage))
            if mode is not None:
                assert not rejected(self.run(SetMarginMode, account, symbol, mode))

    # ------------------------------------------------------------ accounts and money

    @precondition(lambda self: len(self.venue.accounts) < len(ACCOUNT_IDS))
    @rule(account=st.sampled_from((4, 5, 4, 5, 1, -1, "4", 4.0, None)))
    def create_account(self, account: Any) -> None:
        fresh = type(account) is int and account >= 0 and account not in self.venue.accounts
        events = self.run(CreateAccount, account)
        assert rejected(events) != fresh

    @rule(account=accounts, amount=st.sampled_from((1, 10, 100, 1_000, 50_000)).map(
        lambda u: u * USDT) | st.sampled_from((0, -5, 1.5, "100", None, 10**21, 12_345)))
    def deposit(self, account: int, amount: Any) -> None:
        events = self.run(Deposit, account, amount)
        valid = (account in self.venue.accounts and type(amount) is int
                 and 0 < amount <= 10**20)
        assert rejected(events) != valid

    @rule(account=accounts, balance=st.sampled_from((0, 1_000, 20_000, 100_000)).map(
        lambda u: u * USDT) | st.sampled_from((-1, 2.5, "1", None)))
    def reset_account(self, account: int, balance: Any) -> None:
        acct = self.venue.accounts.get(account)
        events = self.run(ResetAccount, account, balance)
        flat = acct is not None and not any(
            p.size or p.isolated_wallet for p in acct.positions.values())
        valid = flat and type(balance) is int and balance >= 0
        assert rejected(events) != valid, events
        if valid:
            assert acct is not None and acct.wallet == balance
            assert not any(p.orders for p in acct.positions.values())

    @rule(account=accounts, how=st.sampled_from(("small", "max", "max+1", "wallet+1", "bad")),
          bad=st.sampled_from((0, -1, 2.5, "1", None)))
    def withdraw(self, account: int, how: str, bad: Any) -> None:
        acct = self.venue.accounts.get(account)
        if acct is None:
            rejected(self.run(Withdraw, account, 10 * USDT), Code.UNKNOWN_ACCOUNT)
            return
        limit = min(risk.cross_available(acct, self.venue.instruments, self.venue.marks),
                    acct.wallet)
        amount = {"small": 5 * USDT, "max": limit, "max+1": limit + 1,
                  "wallet+1": acct.wallet + 1, "bad": bad}[how]
        events = self.run(Withdraw, account, amount)
        if type(amount) is int and amount > 0:
            assert rejected(events) == (amount > limit), (amount, limit, events)
        else:
            assert rejected(events)

    @rule(account=accounts, symbol=odd_symbols,
          leverage=st.sampled_from((1, 2, 5, 10, 20, 50, 75, 100, 125, 150))
          | st.sampled_from((0, -1, 1.5, "10", None, 10**6)))
    def set_leverage(self, account: int, symbol: Any, leverage: Any) -> None:
        self.run(SetLeverage, account, symbol, leverage)

    @rule(account=accounts, symbol=odd_symbols,
          mode=st.sampled_from(tuple(MarginMode)) | st.sampled_from(("CROSS", "hedge", 1)))
    def set_margin_mode(self, account: int, symbol: Any, mode: Any) -> None:
        acct = self.venue.accounts.get(account)
        pos = acct.positions.get(symbol) if acct and isinstance(symbol, str) else None
        may = pos is not None and mode != pos.mode and not pos.orders and not pos.size
        events = self.run(SetMarginMode, account, symbol, mode)
        if pos is not None and mode in tuple(MarginMode):
            assert rejected(events) != may, events

    @rule(account=accounts, symbol=symbols)
    def flatten_and_toggle(self, account: int, symbol: str) -> None:
        """Cancel all, close the position with a reduce-only market order, switch the margin
        mode: makes mode switches (and their refusals) common."""
        self.run(CancelAllOrders, account, symbol)
        acct = self.venue.accounts.get(account)
        if acct is None:
            return
        pos = acct.positions[symbol]
        if pos.size:
            side = Side.SELL if pos.size > 0 else Side.BUY
            self.run(PlaceOrder, account, symbol, side, OrderType.MARKET, abs(pos.size),
                     reduce_only=True)
        other = MarginMode.CROSS if pos.mode is MarginMode.ISOLATED else MarginMode.ISOLATED
        self.run(SetMarginMode, account, symbol, other)

    def positions(self, isolated: bool = False) -> list[tuple[int, str]]:
        """(account, symbol) of the open positions (isolated ones only, if asked)."""
        return [(a, s) for a, acct in sorted(self.venue.accounts.items())
                for s, p in sorted(acct.positions.items())
                if p.size and (not isolated or p.mode is MarginMode.ISOLATED)]

    @rule(account=accounts, symbol=symbols, pick=st.none() | picks,
          how=st.sampled_from(("add", "add", "too much", "remove", "remove max",
                               "remove max+1", "bad")),
          bad=st.sampled_from((0, 1.5, "5", None, -(10**21))))
    def adjust_isolated_margin(self, account: int, symbol: str, pick: int | None, how: str,
                               bad: Any) -> None:
        """Add or remove isolated margin: of an isolated position if ``pick`` and there is
        one, else of whatever ``account`` holds in ``symbol`` (usually refused)."""
        isolated = self.positions(isolated=True)
        if pick is not None and isolated:
            account, symbol = isolated[pick % len(isolated)]
        acct = self.venue.accounts.get(account)
        removable = None
        pos = acct.positions[symbol] if acct else None
        if acct is not None and pos is not None and pos.mode is MarginMode.ISOLATED and pos.size:
            removable = self.venue.max_removable_isolated(acct, INSTRUMENTS[symbol], pos)
        wallet = acct.wallet if acct else 0
        delta = {"add": 20 * USDT, "too much": max(wallet, 0) + 1, "remove": -5 * USDT,
                 "remove max": -(removable or 1), "remove max+1": -((removable or 0) + 1),
                 "bad": bad}[how]
        events = self.run(AdjustIsolatedMargin, account, symbol, delta)
        if removable is not None:
            if how == "remove max" and removable > 0:
                assert not rejected(events), events
            if how in ("remove max+1", "too much"):
                assert rejected(events), events

    # ------------------------------------------------------------ orders

    @rule(account=accounts, symbol=symbols, side=sides, price=prices, qty=quantities, tif=tifs,
          reduce_only=rarely, cid=client_ids, stp=stps)
    def place_limit(self, account: int, symbol: str, side: Side, price: Any, qty: Any,
                    tif: TimeInForce, reduce_only: bool, cid: Any,
                    stp: SelfTradePrevention) -> None:
        self.run(PlaceOrder, account, symbol, side, OrderType.LIMIT, resolve_qty(symbol, qty),
                 resolve_price(self.mark(symbol), price), tif=tif, reduce_only=reduce_only,
                 client_order_id=cid, stp=stp)

    @rule(symbol=symbols, quotes=st.lists(st.tuples(
        st.sampled_from(ACCOUNT_IDS[:3]), sides, st.integers(-30, 30), st.integers(1, 4), tifs,
        st.none() | st.sampled_from(CLIENT_IDS), stps), min_size=1, max_size=4))
    def place_quotes(self, symbol: str, quotes: list[tuple[Any, ...]]) -> None:
        """Well-formed limit orders near the mark: the liquidity the rest trades against."""
        for account, side, bp, units, tif, cid, stp in quotes:
            self.run(PlaceOrder, account, symbol, side, OrderType.LIMIT,
                     UNIT_LOTS[symbol] * units, at_bp(self.mark(symbol), bp), tif=tif,
                     client_order_id=cid, stp=stp)

    @precondition(lambda self: bool(self.positions()))
    @rule(pick=picks, share=st.sampled_from((1, 2, 3)), bp=st.integers(-30, 30),
          kind=st.sampled_from(("limit", "limit", "stop", "take profit", "trailing")),
          working=working_types)
    def protect_position(self, pick: int, share: int, bp: int, kind: str,
                         working: WorkingType) -> None:
        """A reduce-only order on the closing side of an open position: a resting limit for
        a share of it, or a stop-market, take-profit-market or trailing stop: later fills,
        liquidations and auto-deleveraging must trim or cancel the resting ones."""
        held = self.positions()
        account, symbol = held[pick % len(held)]
        pos = self.venue.accounts[account].positions[symbol]
        side = Side.SELL if pos.size > 0 else Side.BUY
        lots = max(1, abs(pos.size) // share)
        mark = self.mark(symbol)
        if kind == "limit":
            self.run(PlaceOrder, account, symbol, side, OrderType.LIMIT, lots,
                     at_bp(mark, bp), reduce_only=True)
            return
        last = self.venue.markets[symbol].last
        ref = mark if working is WorkingType.MARK_PRICE or last is None else last
        # Stops sit on the losing side of the reference price, take-profits on the winning.
        away = abs(bp) + 1
        if kind == "trailing":
            self.run(PlaceOrder, account, symbol, side, OrderType.TRAILING_STOP_MARKET, lots,
                     reduce_only=True, callback_ppm=1_000 * away, working_type=working)
        elif kind == "stop":
            stop = at_bp(ref, away if side is Side.BUY else -away)
            self.run(PlaceOrder, account, symbol, side, OrderType.STOP_MARKET, lots,
                     reduce_only=True, stop_price=stop, working_type=working)
        else:
            stop = at_bp(ref, -away if side is Side.BUY else away)
            self.run(PlaceOrder, account, symbol, side, OrderType.TAKE_PROFIT_MARKET, lots,
                     reduce_only=True, stop_price=stop, working_type=working)

    @rule(account=accounts, symbol=symbols, side=sides, qty=quantities, reduce_only=rarely,
          cid=client_ids, stp=stps)
    def place_market(self, account: int, symbol: str, side: Side, qty: Any, reduce_only: bool,
                     cid: Any, stp: SelfTradePrevention) -> None:
        self.run(PlaceOrder, account, symbol, side, OrderType.MARKET, resolve_qty(symbol, qty),
                 reduce_only=reduce_only, client_order_id=cid, stp=stp)

    def affordable_lots(self, account: int, symbol: str, side: Side, price: int) -> int:
        """Roughly the most lots ``account`` can buy or sell at ``price`` (margin, open loss
        and taker fee), at least one."""
        acct = self.venue.accounts[account]
        mark = self.mark(symbol)
        inst = INSTRUMENTS[symbol]
        pos = acct.positions[symbol]
        available = risk.cross_available(acct, self.venue.instruments, self.venue.marks)
        per_lot = price * inst.atoms_per_tick_lot
        gap = abs(price - mark) * inst.atoms_per_tick_lot
        cost = per_lot // pos.leverage + gap + gap // pos.leverage
        cost += per_lot * inst.taker_fee_ppm // 1_000_000 + 1
        return max(1, available // max(cost, 1))

    @rule(account=accounts, symbol=symbols, side=sides, bp=bps, market=st.booleans(),
          stp=stps, extra=st.integers(-1, 1))
    def place_at_the_limit(self, account: int, symbol: str, side: Side, bp: int, market: bool,
                           stp: SelfTradePrevention, extra: int) -> None:
        """An order sized to what the account can just about afford (and one lot more): the
        edge where margin checks, price improvement, self-trade prevention and rounding meet."""
        if account not in self.venue.accounts or symbol not in self.venue.marks:
            return
        price = at_bp(self.mark(symbol), bp)
        lots = self.affordable_lots(account, symbol, side, price)
        for q in (lots + 1 + extra, lots + extra):
            if q <= 0:
                continue
            if market:
                self.run(PlaceOrder, account, symbol, side, OrderType.MARKET, q, stp=stp)
            else:
                self.run(PlaceOrder, account, symbol, side, OrderType.LIMIT, q, price, stp=stp)

    @rule(maker=st.sampled_from(ACCOUNT_IDS[:3]), taker=st.sampled_from(ACCOUNT_IDS[:3]),
          symbol=symbols, side=sides, bp=st.integers(-20, 20), share=st.sampled_from((2, 1)),
          market=st.booleans())
    def open_big_positions(self, maker: int, taker: int, symbol: str, side: Side, bp: int,
                           share: int, market: bool) -> None:
        """Two accounts trade about all (or half) the margin of the maker with each other, so
        that the next mark moves margin-call, liquidate and auto-deleverage them."""
        if maker == taker or symbol not in self.venue.marks:
            return
        price = at_bp(self.mark(symbol), bp)
        lots = max(1, min(self.affordable_lots(maker, symbol, side, price),
                          self.affordable_lots(taker, symbol, Side(-side), price)) // share - 1)
        self.run(PlaceOrder, maker, symbol, side, OrderType.LIMIT, lots, price)
        if market:
            self.run(PlaceOrder, taker, symbol, Side(-side), OrderType.MARKET, lots)
        else:
            self.run(PlaceOrder, taker, symbol, Side(-side), OrderType.LIMIT, lots, price,
                     tif=TimeInForce.IOC)

    @rule(account=accounts, symbol=symbols, side=sides, otype=st.sampled_from(CONDITIONAL),
          stop_bp=st.integers(-60, 60) | st.integers(-150, 150), limit_bp=bps, qty=quantities,
          reduce_only=rarely, close_position=rarely, working=working_types, cid=client_ids,
          stp=stps,
          callback=st.sampled_from((1_000, 2_000, 5_000, 20_000, 100_000, 999, 100_001)),
          activation_bp=st.none() | st.integers(-100, 100))
    def place_conditional(self, account: int, symbol: str, side: Side, otype: OrderType,
                          stop_bp: int, limit_bp: int, qty: Any, reduce_only: bool,
                          close_position: bool, working: WorkingType, cid: Any,
                          stp: SelfTradePrevention, callback: int,
                          activation_bp: int | None) -> None:
        mark = self.mark(symbol)
        last = self.venue.markets[symbol].last
        ref = mark if working is WorkingType.MARK_PRICE or last is None else last
        kwargs: dict[str, Any] = {"reduce_only": reduce_only, "close_position": close_position,
                                  "working_type": working, "client_order_id": cid, "stp": stp}
        if otype in (OrderType.STOP, OrderType.TAKE_PROFIT):
            kwargs["price"] = at_bp(mark, limit_bp)
        if otype is OrderType.TRAILING_STOP_MARKET:
            kwargs["callback_ppm"] = callback
            if activation_bp is not None:
                kwargs["activation_price"] = at_bp(ref, activation_bp)
        else:
            kwargs["stop_price"] = at_bp(ref, stop_bp)
        quantity = 0 if close_position else resolve_qty(symbol, qty)
        self.run(PlaceOrder, account, symbol, side, otype, quantity, **kwargs)

    @rule(account=accounts, symbol=symbols, side=sides, bp=bps,
          field=st.sampled_from(("side", "order_type", "tif", "stp", "reduce_only",
                                 "close_position", "stop_price", "callback_ppm",
                                 "activation_price", "working_type", "market_price",
                                 "market_tif", "symbol", "account", "quantity")),
          value=st.sampled_from((0, 2, -1, 7, 1.0, "BUY", "LIMIT", "GTC", None, True, "x",
                                 10**16)))
    def place_malformed(self, account: int, symbol: str, side: Side, bp: int, field: str,
                        value: Any) -> None:
        """A valid-looking limit (or market) order with one field replaced by junk."""
        order = PlaceOrder(self.ts + 1, account, symbol, side, OrderType.LIMIT,
                           UNIT_LOTS[symbol], at_bp(self.mark(symbol), bp))
        if field == "market_price":
            order = order._replace(order_type=OrderType.MARKET)
        elif field == "market_tif":
            order = order._replace(order_type=OrderType.MARKET, price=None,
                                   tif=TimeInForce.IOC)
        else:
            order = order._replace(**{field: value})
        self.ts += 1
        self.apply(order)

    @rule(account=accounts, symbol=symbols, side=sides, trigger_bp=st.integers(-150, 150),
          otype=st.sampled_from((OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)),
          working=working_types)
    def place_close_position(self, account: int, symbol: str, side: Side, trigger_bp: int,
                             otype: OrderType, working: WorkingType) -> None:
        acct = self.venue.accounts.get(account)
        if acct is not None and acct.positions[symbol].size:
            # Protect the position that exists, most of the time.
            side = Side.SELL if acct.positions[symbol].size > 0 else Side.BUY
        last = self.venue.markets[symbol].last
        mark = self.mark(symbol)
        ref = mark if working is WorkingType.MARK_PRICE or last is None else last
        self.run(PlaceOrder, account, symbol, side, otype, 0, close_position=True,
                 stop_price=at_bp(ref, trigger_bp), working_type=working)

    # ------------------------------------------------------------ cancel and amend

    @precondition(lambda self: len(self.venue.orders) > 0)
    @rule(pick=picks, how=st.sampled_from(("id", "id", "cid", "both", "mismatch", "unknown",
                                           "neither", "other account", "other symbol",
                                           "junk id")))
    def cancel_order(self, pick: int, how: str) -> None:
        order = self.pick_order(pick)
        if order is None or how == "unknown":
            self.run(CancelOrder, ACCOUNT_IDS[pick % 3], SYMBOLS[pick % 3], order_id=10**9)
            return
        a, s, oid, cid = order.account, order.symbol, order.order_id, order.client_order_id
        command = {
            "id": (a, s, oid, None), "cid": (a, s, None, cid), "both": (a, s, oid, cid),
            "mismatch": (a, s, oid, cid + "z"), "neither": (a, s, None, None),
            "other account": (a % 5 + 1, s, oid, None),
            "other symbol": (a, BTC if s != BTC else ETH, oid, None),
            "junk id": (a, s, str(oid), None),
        }[how]
        events = self.run(CancelOrder, *command)
        assert rejected(events) == (how not in ("id", "cid", "both")), events
        if how in ("id", "cid", "both"):
            assert oid not in self.venue.orders

    @precondition(lambda self: len(self.venue.orders) > 0)
    @rule(pick=picks, price=st.none() | prices, qty=st.none() | quantities,
          how=st.sampled_from(("id", "id", "cid", "unknown")))
    def amend_order(self, pick: int, price: Any, qty: Any, how: str) -> None:
        order = self.pick_order(pick)
        if order is None or how == "unknown":
            self.run(AmendOrder, ACCOUNT_IDS[pick % 3], SYMBOLS[pick % 3], order_id=10**9,
                     price=1)
            return
        new_price = None if price is None else resolve_price(self.mark(order.symbol), price)
        new_qty = None if qty is None else resolve_qty(order.symbol, qty)
        if type(new_qty) is int and new_qty > 0 and type(qty) is int and pick % 4 == 0:
            new_qty += order.filled  # keep some of it open after an amend of a partial fill
        if how == "id":
            self.run(AmendOrder, order.account, order.symbol, order_id=order.order_id,
                     price=new_price, quantity=new_qty)
        else:
            self.run(AmendOrder, order.account, order.symbol,
                     client_order_id=order.client_order_id, price=new_price, quantity=new_qty)

    @rule(account=accounts, symbol=odd_symbols)
    def cancel_all(self, account: int, symbol: Any) -> None:
        events = self.run(CancelAllOrders, account, symbol)
        if not rejected(events):
            assert not self.venue.accounts[account].positions[symbol].orders

    # ------------------------------------------------------------ prices and time

    @rule(symbol=symbols, move=st.integers(-300, 300) | st.integers(-700, 700),
          index_bp=st.integers(-20, 20), dt=st.integers(0, 1_000))
    def set_mark(self, symbol: str, move: int, index_bp: int, dt: int) -> None:
        base = BASE_MARKS[symbol]
        mark = min(max(at_bp(self.mark(symbol), move), base * 7 // 10), base * 13 // 10)
        events = self.run(SetMarkPrice, symbol, mark, at_bp(mark, index_bp), dt=dt)
        assert not rejected(events)
        assert self.venue.marks[symbol] == mark

    @rule(jump=st.sampled_from((1_000, 5_000, 60_000, 3_600_000, 3 * 3_600_000)))
    def advance_time(self, jump: int) -> None:
        """Time passes (premium samples; across 00:00/08:00/16:00 UTC, funding)."""
        assert not rejected(self.run(Tick, dt=jump))

    @rule(symbol=symbols, index_bp=st.integers(-200, 200), dt=st.integers(0, 2_000))
    def set_index(self, symbol: str, index_bp: int, dt: int) -> None:
        """An index update: the venue computes the mark itself from it and the book."""
        base = BASE_MARKS[symbol]
        index = min(max(at_bp(self.mark(symbol), index_bp), base * 8 // 10), base * 12 // 10)
        assert not rejected(self.run(SetIndexPrice, symbol, index, dt=dt))

    @rule(what=st.sampled_from(("bad mark", "stale ts", "float ts", "existing account",
                                "unknown order", "not a command")),
          account=accounts, symbol=odd_symbols, back=st.integers(1, 3),
          value=st.sampled_from((0, -1, 1.5, "50000", None, 10**16)))
    def junk(self, what: str, account: int, symbol: Any, back: int, value: Any) -> None:
        """Commands that must all be refused, each for its own reason."""
        if what == "bad mark":
            assert rejected(self.run(SetMarkPrice, symbol, value, BASE_MARKS[BTC]))
            assert rejected(self.run(SetIndexPrice, symbol, value))
        elif what in ("stale ts", "float ts"):
            ts: Any = self.venue.now - back if what == "stale ts" else float(self.venue.now)
            for command in (Deposit(ts, account, 10 * USDT),
                            PlaceOrder(ts, account, BTC, Side.BUY, OrderType.MARKET,
                                       UNIT_LOTS[BTC]),
                            SetMarkPrice(ts, BTC, self.mark(BTC), self.mark(BTC))):
                rejected(self.apply(command), Code.INVALID_TIMESTAMP)
        elif what == "existing account":
            rejected(self.run(CreateAccount, ACCOUNT_IDS[back - 1]), Code.ACCOUNT_EXISTS)
        elif what == "unknown order":
            assert rejected(self.run(CancelOrder, account, symbol, order_id=10**9))
            assert rejected(self.run(CancelOrder, account, symbol, client_order_id="nobody"))
            assert rejected(self.run(AmendOrder, account, symbol, order_id=10**9, price=1))
        else:
            assert rejected(self.apply(value))

    @rule(account=accounts, symbol=symbols, side=sides)
    def sweep(self, account: int, symbol: str, side: Side) -> None:
        """A market order large enough to walk several levels (and reach protection)."""
        self.run(PlaceOrder, account, symbol, side, OrderType.MARKET, UNIT_LOTS[symbol] * 25)

    @precondition(lambda self: len(self.venue.orders) > 0)
    @rule(pick=picks)
    def cross_a_resting_order(self, pick: int) -> None:
        """Another account takes a resting order: fills (and fired triggers) become common."""
        order = self.pick_order(pick)
        if order.is_conditional or order.price is None:
            return
        taker = ACCOUNT_IDS[(order.account + pick) % 3]
        self.run(PlaceOrder, taker, order.symbol, Side(-order.side), OrderType.LIMIT,
                 order.remaining, order.price, tif=TimeInForce.IOC)

    @invariant()
    def venue_is_consistent(self) -> None:
        if not self.broken:
            check_venue(self.venue)


VenueMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=80, deadline=None,
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.filter_too_much))
test_venue_state_machine = VenueMachine.TestCase


# ---------------------------------------------------------------- determinism


def random_commands(rng: random.Random, n: int) -> list[Command]:
    """A seeded command list of every kind, built without looking at any venue."""
    ts = 1_700_000_000_000
    marks = dict(BASE_MARKS)
    out: list[Command] = [SetMarkPrice(ts, BTC, marks[BTC], marks[BTC]),
                          SetMarkPrice(ts, ETH, marks[ETH], marks[ETH])]
    for a in ACCOUNT_IDS[:4]:
        out.append(CreateAccount(ts, a))
        out.append(Deposit(ts, a, rng.choice((300, 3_000, 30_000)) * USDT))
    for _ in range(n):
        ts += rng.choice((0, 1, 1, 5))
        a = rng.choice(ACCOUNT_IDS)
        s = rng.choice((BTC, BTC, ETH, SOL))
        side = rng.choice((Side.BUY, Side.SELL))
        price = at_bp(marks[s], rng.randint(-40, 40))
        qty = UNIT_LOTS[s] * rng.randint(1, 5)
        oid = rng.randint(1, max(1, n // 2))
        kind = rng.random()
        if kind < 0.30:
            out.append(PlaceOrder(ts, a, s, side, OrderType.LIMIT, qty, price,
                                  tif=rng.choice(list(TimeInForce)),
                                  reduce_only=rng.random() < 0.1,
                                  client_order_id=rng.choice((None, None, *CLIENT_IDS)),
                                  stp=rng.choice(list(SelfTradePrevention))))
        elif kind < 0.40:
            out.append(PlaceOrder(ts, a, s, side, OrderType.MARKET, qty,
                                  reduce_only=rng.random() < 0.2))
        elif kind < 0.50:
            otype = rng.choice(CONDITIONAL)
            stop = at_bp(marks[s], rng.randint(-100, 100))
            if otype is OrderType.TRAILING_STOP_MARKET:
                out.append(PlaceOrder(ts, a, s, side, otype, qty, callback_ppm=5_000,
                                      working_type=rng.choice(list(WorkingType))))
            elif otype in (OrderType.STOP, OrderType.TAKE_PROFIT):
                out.append(PlaceOrder(ts, a, s, side, otype, qty, price, stop_price=stop,
                                      working_type=rng.choice(list(WorkingType))))
            else:
                close = rng.random() < 0.3
                out.append(PlaceOrder(ts, a, s, side, otype, 0 if close else qty,
                                      stop_price=stop, close_position=close,
                                      working_type=rng.choice(list(WorkingType))))
        elif kind < 0.60:
            out.append(CancelOrder(ts, a, s, order_id=oid))
        elif kind < 0.68:
            out.append(AmendOrder(ts, a, s, order_id=oid,
                                  price=rng.choice((None, price)),
                                  quantity=rng.choice((None, qty))))
        elif kind < 0.72:
            out.append(CancelAllOrders(ts, a, s))
        elif kind < 0.82:
            marks[s] = min(max(at_bp(marks[s], rng.randint(-300, 300)), BASE_MARKS[s] * 8 // 10),
                           BASE_MARKS[s] * 12 // 10)
            out.append(SetMarkPrice(ts, s, marks[s], marks[s]))
        elif kind < 0.86:
            out.append(SetLeverage(ts, a, s, rng.choice((1, 5, 20, 50, 125, 0, 500))))
        elif kind < 0.89:
            out.append(SetMarginMode(ts, a, s, rng.choice(list(MarginMode))))
        elif kind < 0.92:
            out.append(AdjustIsolatedMargin(ts, a, s, rng.choice((10, -10, -1_000)) * USDT))
        elif kind < 0.95:
            out.append(Withdraw(ts, a, rng.choice((10, 1_000, 100_000)) * USDT))
        elif kind < 0.96:
            out.append(Deposit(ts, a, rng.choice((10, 1_000)) * USDT))
        elif kind < 0.97:
            out.append(SetIndexPrice(ts, s, at_bp(marks[s], rng.randint(-50, 50))))
        elif kind < 0.975:
            ts += rng.choice((60_000, 3_600_000))
            out.append(Tick(ts))
        elif kind < 0.98:
            out.append(CreateAccount(ts, a))
        else:
            out.append(Deposit(ts - 10, a, USDT))  # stale: rejected
    return out


def run_plain(commands: Iterable[Command]) -> tuple[list[list[Event]], list[str], int | None]:
    """Each command's events and the digest after it, from a fresh venue; stops at the known
    crash (KNOWN_BUG_FUND_NEGATIVE_MIDWAY) and returns its index as the third item."""
    venue = Venue(INSTRUMENTS)
    events: list[list[Event]] = []
    digests: list[str] = []
    for i, command in enumerate(commands):
        try:
            events.append(venue.apply(command))
        except AssertionError as exc:
            if KNOWN_BUG_FUND_NEGATIVE_MIDWAY and "insurance fund never" in str(exc):
                return events, digests, i
            raise
        digests.append(venue.digest())
    return events, digests, None


def test_a_pickled_venue_carries_on_as_the_original() -> None:
    """Snapshots pickle the venue, caches included (watches, budgets): a copy taken midway
    answers the rest of the commands exactly as the original does, in either build."""
    import pickle

    commands = random_commands(random.Random(4), 600)
    venue = Venue(INSTRUMENTS)
    for command in commands[:300]:
        venue.apply(command)
    assert venue.budgets.live or venue.budgets.unchecked, "no account held several symbols"
    copy = pickle.loads(pickle.dumps(venue))
    assert copy.digest() == venue.digest()
    for command in commands[300:]:
        assert copy.apply(command) == venue.apply(command)
    assert copy.digest() == venue.digest()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_commands_same_events(seed: int) -> None:
    """Determinism: one seeded command list, two fresh venues, the same events and the same
    state digest after every command. The list is also run through the invariant checker."""
    commands = random_commands(random.Random(seed), 600)
    events_a, digests_a, crash_a = run_plain(commands)
    events_b, digests_b, crash_b = run_plain(commands)
    assert events_a == events_b
    assert digests_a == digests_b
    assert crash_a == crash_b
    # The run did something: trades, rejections, cancels all happened.
    kinds = {type(e).__name__ for answer in events_a for e in answer}
    assert {"OrderFilled", "Rejected", "OrderAccepted", "OrderCanceled"} <= kinds, kinds
    checked = Checked(Venue(INSTRUMENTS))
    for command, answer in zip(commands, events_a, strict=False):
        try:
            assert checked.apply(command) == answer
        except KnownBug:
            break


def test_cross_sell_below_mark_keeps_available_non_negative() -> None:
    """Found by the state machine (invariant 3), fixed since: account 2 could just afford to
    sell 1 BTC at 49,000 with the mark at 50,000 and leverage 20 when the venue asked 2,450
    (margin at 49,000) + 1,000 (open loss) + 24.5 (taker fee) = 3,474.5 USDT. Filled, the
    position's margin at mark is 2,500, so 50 USDT = (50,000 - 49,000) x 1 / 20 were missing:
    available -50. The venue now asks for the margin at the mark and refuses the order."""
    venue = Venue(INSTRUMENTS)
    for command in (SetMarkPrice(1, BTC, 500_000, 500_000),
                    CreateAccount(2, 1), Deposit(3, 1, 10_000 * USDT),
                    CreateAccount(4, 2), Deposit(5, 2, 3_474_50000000),
                    PlaceOrder(6, 1, BTC, Side.BUY, OrderType.LIMIT, 1_000, 490_000)):
        assert not rejected(venue.apply(command))
    events = venue.apply(PlaceOrder(7, 2, BTC, Side.SELL, OrderType.LIMIT, 1_000, 490_000))
    # The order is refused (INSUFFICIENT_MARGIN), or it fills and the account can still pay
    # the margin of the position it opened.
    if not rejected(events, Code.INSUFFICIENT_MARGIN):
        assert any(type(e) is OrderFilled for e in events)
        assert risk.cross_available(venue.accounts[2], venue.instruments, venue.marks) >= 0


@pytest.mark.parametrize("deposit", [2_525 * USDT, 2_525 * USDT + 50_000_000])
def test_isolated_sell_with_price_improvement_keeps_wallet_non_negative(deposit: int) -> None:
    """Found by the state machine (invariant 3), fixed since. Account 2, isolated on BTCUSDT
    at leverage 20, sells 1 BTC limit at 50,000 = the mark with all it has; the order fills at
    51,000 against a higher bid. Settlement used to move 51,000 / 20 = 2,550 into the isolated
    wallet and charge a 25.5 fee where the check had reserved 2,500 + 25: the cross wallet
    ended at -50.5 USDT. Now the fee is checked at the best bid and the margin moved at
    min(fill, mark): 2,525 USDT is refused, 2,525.5 fills and leaves exactly zero."""
    venue = Venue(INSTRUMENTS)
    for command in (SetMarkPrice(1, BTC, 500_000, 500_000),
                    CreateAccount(2, 1), Deposit(3, 1, 10_000 * USDT),
                    CreateAccount(4, 2), Deposit(5, 2, deposit),
                    SetMarginMode(6, 2, BTC, MarginMode.ISOLATED),
                    PlaceOrder(7, 1, BTC, Side.BUY, OrderType.LIMIT, 1_000, 510_000)):
        assert not rejected(venue.apply(command))
    events = venue.apply(PlaceOrder(8, 2, BTC, Side.SELL, OrderType.LIMIT, 1_000, 500_000))
    # Refused, or filled leaving the cross wallet and the available balance >= 0.
    if not rejected(events, Code.INSUFFICIENT_MARGIN):
        assert any(type(e) is OrderFilled for e in events)
        acct = venue.accounts[2]
        assert acct.wallet >= 0
        assert risk.cross_available(acct, venue.instruments, venue.marks) >= 0


def test_cross_liquidation_of_two_positions_does_not_crash() -> None:
    """Found by the state machine (an exception out of ``Venue.apply``). Account 1, cross, is
    long 0.002 BTC and short 1 ETH against account 2 with 300 USDT. ETH jumps 10%: the margin
    balance is below zero, so both positions are taken over with negative leftovers. BTC closes
    first (by ADL at its bankruptcy price, the book being empty) and ``_close_engine`` then
    moves the engine's whole wallet, ETH's negative leftover included, into the empty fund:
    ``assert venue.insurance_fund >= 0`` fails inside ``SetMarkPrice``. Expected: the
    liquidation completes, the fund never goes below zero, money is conserved, account 1 ends
    at zero without positions."""
    venue = Venue(INSTRUMENTS)
    for command in (SetMarkPrice(1, BTC, 500_000, 500_000),
                    SetMarkPrice(2, ETH, 300_000, 300_000),
                    CreateAccount(3, 1), Deposit(4, 1, 300 * USDT),
                    CreateAccount(5, 2), Deposit(6, 2, 100_000 * USDT),
                    PlaceOrder(7, 1, BTC, Side.BUY, OrderType.LIMIT, 2, 500_000),
                    PlaceOrder(8, 2, BTC, Side.SELL, OrderType.LIMIT, 2, 500_000,
                               tif=TimeInForce.IOC),
                    PlaceOrder(9, 1, ETH, Side.SELL, OrderType.LIMIT, 1_000, 300_000),
                    PlaceOrder(10, 2, ETH, Side.BUY, OrderType.LIMIT, 1_000, 300_000,
                               tif=TimeInForce.IOC)):
        assert not rejected(venue.apply(command))
    events = venue.apply(SetMarkPrice(11, ETH, 330_000, 330_000))  # raises AssertionError
    assert not rejected(events)
    assert venue.insurance_fund >= 0
    assert venue.conservation_gap() == 0
    acct = venue.accounts[1]
    assert acct.wallet == 0 and not any(p.size for p in acct.positions.values())


def test_funding_liquidation_on_tick_trims_reduce_only_orders() -> None:
    """Found while checking invariant 7 on funding-driven liquidations. Account 1 is long
    1 BTC (cross, leverage 20) against account 2, and the mark falls to 47,600.5, just short
    of account 1's liquidation; account 2 rests a reduce-only buy for its whole short at 45,300.
    At 08:00 UTC the funding payment tips account 1 over: it is liquidated, the engine's sell
    at the bankruptcy price finds no bid at or above it, and the rest is auto-deleveraged
    against account 2, whose short closes. Expected: account 2's reduce-only buy is canceled
    (reason REDUCE_ONLY), as after any fill. Actual: ``_tick`` never runs the follow-ups
    (``_after_trading``), so the order rests with no position to reduce (and ``_dirty`` is
    left set for whichever command comes next)."""
    venue = Venue(INSTRUMENTS)
    for command in (SetMarkPrice(1, BTC, 500_000, 500_000),
                    CreateAccount(2, 1), Deposit(3, 1, 2_600 * USDT),
                    CreateAccount(4, 2), Deposit(5, 2, 100_000 * USDT),
                    PlaceOrder(6, 1, BTC, Side.BUY, OrderType.LIMIT, 1_000, 500_000),
                    PlaceOrder(7, 2, BTC, Side.SELL, OrderType.LIMIT, 1_000, 500_000,
                               tif=TimeInForce.IOC),
                    SetMarkPrice(8, BTC, 476_005, 476_005),
                    PlaceOrder(9, 2, BTC, Side.BUY, OrderType.LIMIT, 1_000, 453_000,
                               reduce_only=True)):
        assert not rejected(venue.apply(command))
    events = venue.apply(Tick(8 * 3_600_000))  # 1970-01-01 08:00 UTC: funding
    kinds = [type(e).__name__ for e in events]
    assert "LiquidationStarted" in kinds and "AdlFilled" in kinds, kinds
    assert venue.accounts[2].positions[BTC].size == 0
    check_venue(venue)  # fails: 'reduce-only order without position'


def test_liquidation_fill_in_another_symbol_fires_its_stops() -> None:
    """Found by the "no stop left unfired" check. Account 1 (cross, 300 USDT) is long 0.002
    BTC and short 1 ETH against account 2; account 3 bids 0.003 BTC at 49,900 and has a
    STOP_MARKET sell of 0.003 BTC at 49,950 on the last price (50,000 now). ETH rises to 3,290:
    account 1 is liquidated, and the engine sells its BTC into account 3's bid at 49,900. The
    BTC last price is now below the stop. Expected: account 3's stop fires (OrderTriggered) in
    the same command. Actual: ``_mark_moved`` runs the follow-ups for ETH only; the BTC stop
    waits for some later BTC trade."""
    venue = Venue(INSTRUMENTS)
    for command in (SetMarkPrice(1, BTC, 500_000, 500_000),
                    SetMarkPrice(2, ETH, 300_000, 300_000),
                    CreateAccount(3, 1), Deposit(4, 1, 300 * USDT),
                    CreateAccount(5, 2), Deposit(6, 2, 100_000 * USDT),
                    CreateAccount(7, 3), Deposit(8, 3, 100_000 * USDT),
                    PlaceOrder(9, 1, BTC, Side.BUY, OrderType.LIMIT, 2, 500_000),
                    PlaceOrder(10, 2, BTC, Side.SELL, OrderType.LIMIT, 2, 500_000,
                               tif=TimeInForce.IOC),
                    PlaceOrder(11, 1, ETH, Side.SELL, OrderType.LIMIT, 1_000, 300_000),
                    PlaceOrder(12, 2, ETH, Side.BUY, OrderType.LIMIT, 1_000, 300_000,
                               tif=TimeInForce.IOC),
                    PlaceOrder(13, 3, BTC, Side.BUY, OrderType.LIMIT, 3, 499_000),
                    PlaceOrder(14, 3, BTC, Side.SELL, OrderType.STOP_MARKET, 3,
                               stop_price=499_500)):
        assert not rejected(venue.apply(command))
    events = venue.apply(SetMarkPrice(15, ETH, 329_000, 329_000))
    assert any(type(e) is LiquidationFilled and e.symbol == BTC for e in events)
    assert venue.markets[BTC].last == 499_000
    assert any(type(e).__name__ == "OrderTriggered" for e in events), "stop not fired"


def test_isolated_open_loss_does_not_leak_into_cross_wallet() -> None:
    """Found by the state machine (invariant 3). Account 1, isolated on BTCUSDT at leverage
    50, sells 1 BTC at 47,500 with the mark at 50,000 into account 2's bid. The check asks
    950 (margin) + 2,500 (open loss) + 50 (margin at the mark) + 23.75 (fee) = 3,523.75 USDT,
    all it has; but only the 950 of margin goes into the isolated wallet, so the position,
    2,500 under water, is past bankruptcy from birth (not liquidated: the mark has not moved).
    Account 1 then buys 2 BTC at market from an ask at 50,000, closing the short and opening
    a long: the check asks 1,000 (margin of the new long) + 50 (fee) out of 2,550 available,
    but the close releases the isolated wallet, 950 - 2,500 = -1,550, into the cross wallet.
    Expected: the isolated loss stays with the isolated position (or the open loss goes into
    its wallet when it opens), and the account's available balance stays >= 0. Actual: cross
    wallet and available balance -50 USDT."""
    venue = Venue(INSTRUMENTS)
    for command in (SetMarkPrice(1, BTC, 500_000, 500_000),
                    CreateAccount(2, 1), Deposit(3, 1, 3_523_75000000),
                    SetMarginMode(4, 1, BTC, MarginMode.ISOLATED),
                    SetLeverage(5, 1, BTC, 50),
                    CreateAccount(6, 2), Deposit(7, 2, 100_000 * USDT),
                    PlaceOrder(8, 2, BTC, Side.BUY, OrderType.LIMIT, 1_000, 475_000),
                    PlaceOrder(9, 1, BTC, Side.SELL, OrderType.LIMIT, 1_000, 475_000),
                    PlaceOrder(10, 2, BTC, Side.SELL, OrderType.LIMIT, 2_000, 500_000)):
        assert not rejected(venue.apply(command))
    acct = venue.accounts[1]
    assert acct.positions[BTC].size == -1_000
    events = venue.apply(PlaceOrder(11, 1, BTC, Side.BUY, OrderType.MARKET, 2_000))
    if not rejected(events, Code.INSUFFICIENT_MARGIN):
        assert acct.positions[BTC].size == 1_000
        assert risk.cross_available(acct, venue.instruments, venue.marks) >= 0  # -50 USDT
