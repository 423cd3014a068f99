"""The venue: applies one command at a time and returns its events.

``Venue.apply`` is the whole pipeline, readable top to bottom:

1. validate the command against the state (``risk`` for orders): a failure raises
   ``Rejection`` before anything has changed, and becomes one ``Rejected`` event;
2. matching (``matching.Book``) for orders that reach the book;
3. settlement (``settlement``) of every fill, both sides;
4. follow-ups: reduce-only orders trimmed to what their position can still close, and
   conditional orders fired by the new last or mark price (``triggers``), which go through
   steps 1-4 themselves.

The venue reads no clock and draws no random numbers: time arrives on the commands.

A command's fields are whatever its sender put there: the handlers check each field through
the command's raw view (``commands.py``: the same fields typed ``object``) before they use it
as its annotated type, so that a float quantity or a string account id is rejected with its
code in the compiled build (mypyc) exactly as in pure Python, rather than raising TypeError.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, cast

from exchange.core import funding, liquidation, risk
from exchange.core.accounts import Account
from exchange.core.budgets import Budgets
from exchange.core.commands import (
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CreateAccount,
    Deposit,
    PlaceOrder,
    RawAdjustIsolatedMargin,
    RawAmendOrder,
    RawCancelAllOrders,
    RawCancelOrder,
    RawCreateAccount,
    RawDeposit,
    RawPlaceOrder,
    RawResetAccount,
    RawSetIndexPrice,
    RawSetLeverage,
    RawSetMarginMode,
    RawSetMarkPrice,
    RawWithdraw,
    ResetAccount,
    SetIndexPrice,
    SetLeverage,
    SetMarginMode,
    SetMarkPrice,
    Tick,
    Withdraw,
)
from exchange.core.errors import Code, Rejection
from exchange.core.events import (
    AccountCreated,
    BookChanged,
    Deposited,
    Event,
    FundingPaid,
    FundingSettled,
    IsolatedMarginChanged,
    LeverageChanged,
    LiquidationFilled,
    MarginModeChanged,
    MarkPriceChanged,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderTriggered,
    Rejected,
    Traded,
    Withdrawn,
)
from exchange.core.instruments import Instrument
from exchange.core.native import mypyc_attr
from exchange.core.orders import (
    CONDITIONAL_TYPES,
    LIMIT_ON_TRIGGER,
    CancelReason,
    ExpireReason,
    MarginMode,
    Order,
    OrderStatus,
    OrderType,
    WorkingType,
)
from exchange.core.positions import Position
from exchange.core.prices import PriceState
from exchange.core.settlement import settle_fill
from exchange.core.triggers import Triggers, would_fire
from exchange.core.units import PPM, ceil_div
from exchange.core.watch import Watch
from matching import Book, SelfTradePrevention, Side, TimeInForce
from matching import events as book_events
from matching.tuples import new

# Module constants are ``Final``: the compiled build (mypyc) loads a Final name as a C static,
# where a plain global costs a dict lookup.

# Largest amount (atoms) one deposit, withdrawal or transfer may move: 10^12 USDT. Far beyond
# any practice account, and it keeps arithmetic on user-given numbers bounded.
MAX_AMOUNT: Final = 10**20
# Largest price (ticks) or quantity (lots) accepted from a command.
MAX_UNITS: Final = 10**15
DEFAULT_LEVERAGE: Final = 20
# Client order ids: 1-36 of these characters (a string made only of them strips to nothing).
CLIENT_ID_CHARS: Final = string.ascii_letters + string.digits + ".:/_-"
CLIENT_ID_MAX: Final = 36
# Ids the venue gives orders sent without one (paper-<digits>); a client may not choose one.
AUTO_CLIENT_ID_PREFIX: Final = "paper-"
MIN_CALLBACK_PPM: Final = 1_000  # 0.1%, Binance's bounds for trailing stops
MAX_CALLBACK_PPM: Final = 100_000  # 10%

_SIDES: Final = {1: Side.BUY, -1: Side.SELL}
# The book's event types, which _book_events tells apart for every event.
_BOOK_TRADE: Final = book_events.Trade
_BOOK_LEVEL_CHANGED: Final = book_events.LevelChanged
_BOOK_EXPIRED: Final = book_events.Expired
_BOOK_CANCELED: Final = book_events.Canceled
_BOOK_AMENDED: Final = book_events.Amended


# The shape of the state a snapshot pickles (the venue's attributes and what they hold). A
# snapshot of another format is skipped and the journal replayed whole: bump this whenever
# that shape changes (tests/exchange/core/test_venue.py lists the attributes to remind you).
# 2: ``budgets`` replaced ``multi``, ``multi_budget`` and ``checked_marks``.
# 3: budgets keep each account's entry per symbol (``due_at``), not versions.
# 4: budgets keep them by account (``due_at``) with their count (``live``).
STATE_FORMAT: Final = 4


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)  # see native.py
class Venue:
    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self.instruments: dict[str, Instrument] = dict(instruments)
        self.books: dict[str, Book] = {s: Book() for s in self.instruments}
        self.markets: dict[str, PriceState] = {s: PriceState() for s in self.instruments}
        self.funding: dict[str, funding.FundingState] = {
            s: funding.FundingState(i.funding_interval_ms, i.interest_ppm * funding.PPM_TO_E8)
            for s, i in self.instruments.items()}
        self.triggers: dict[str, Triggers] = {s: Triggers() for s in self.instruments}
        self.accounts: dict[int, Account] = {}
        self.orders: dict[int, Order] = {}  # every open order, resting or conditional
        self.marks: dict[str, int] = {}  # symbol -> mark, for symbols that have one
        self.seq = 0
        self.now = 0
        self.next_order_id = 1
        self.next_trade_id = 1
        self.fee_income = 0
        self.insurance_fund = 0
        self.deposits = 0
        self.withdrawals = 0
        self._slots = [(s, min(DEFAULT_LEVERAGE, i.tiers[0].max_leverage), i.atoms_per_tick_lot)
                       for s, i in self.instruments.items()]
        # (account, symbol) whose position changed during the command: their reduce-only
        # orders are checked once the book is done.
        self._dirty: set[tuple[int, str]] = set()
        # Symbols whose last price changed during the command: their CONTRACT_PRICE
        # triggers are checked once the book is done.
        self._traded: set[str] = set()
        # Accounts holding a position, per symbol (insertion-ordered, so iteration is
        # deterministic): those a mark change can liquidate or funding can touch.
        self.holders: dict[str, dict[int, None]] = {s: {} for s in self.instruments}
        # Positions by the marks at which they need a margin call or liquidation (watch.py),
        # accounts whose cross liquidation prices move with other marks, accounts changed
        # since their keys were computed, and the margin calls out (account, symbol or "").
        self.watches: dict[str, Watch] = {s: Watch() for s in self.instruments}
        # Accounts with cross positions in several symbols: when to look at them (budgets.py).
        self.budgets = Budgets(self.instruments)
        self.warned: set[tuple[int, str]] = set()
        self._risk_dirty: set[int] = set()
        # The liquidation engine: takes over positions and closes them (liquidation.py).
        self.engine = Account(liquidation.ENGINE, self._slots)
        self.liquidating: dict[int, int] = {}  # engine order id -> account it liquidates
        self._handlers: dict[type, Callable[[Any, list[Event]], None]] = {
            CreateAccount: self._create_account,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            SetLeverage: self._set_leverage,
            SetMarginMode: self._set_margin_mode,
            AdjustIsolatedMargin: self._adjust_isolated_margin,
            PlaceOrder: self._place_order,
            CancelOrder: self._cancel_order,
            AmendOrder: self._amend_order,
            CancelAllOrders: self._cancel_all,
            ResetAccount: self._reset_account,
            SetIndexPrice: self._set_index_price,
            Tick: self._tick,
            SetMarkPrice: self._set_mark_price,
        }

    # ================================================================ the pipeline

    def apply(self, command: object) -> list[Event]:
        """Apply one command (a ``Command``); return its events. A rejected command changes
        nothing, and anything that is not a command is rejected. (Annotated ``object`` because
        it takes anything: the compiled build, mypyc, would raise TypeError at the call on a
        value that is not of the annotated type.)"""
        kind = type(command)
        handler = self._handlers.get(kind)
        if handler is None:
            return [new(Rejected, self.seq, self.now, kind.__name__, None, Code.INVALID_FLAGS,
                        f"{kind.__name__} is not a venue command")]
        ts = getattr(command, "ts", None)
        if type(ts) is not int or ts < self.now:
            return [new(Rejected, self.seq, self.now, kind.__name__,
                        getattr(command, "account", None), Code.INVALID_TIMESTAMP,
                        f"ts must be an integer of ms at or after {self.now}")]
        out: list[Event] = []
        try:
            # The two commands of most of any trading stream are called directly: in the
            # compiled build that is a native call, where a handler from the table is a bound
            # method called through Python's protocol.
            if kind is PlaceOrder:
                self._place_order(cast(PlaceOrder, command), out)
            elif kind is CancelOrder:
                self._cancel_order(cast(CancelOrder, command), out)
            else:
                handler(command, out)
        except Rejection as r:
            if out:  # a handler raised after emitting: a bug, never a partial state change
                raise
            return [new(Rejected, self.seq, ts, kind.__name__, getattr(command, "account", None),
                        r.code, r.message, getattr(command, "client_order_id", None))]
        if self._dirty or self._traded:
            self._follow_ups(out)
        return out

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def next_seq(self) -> int:
        """The next event sequence number, for liquidation.py. (A method of its own rather
        than ``next_seq = _next``: mypyc cannot compile an alias in a class body.)"""
        self.seq += 1
        return self.seq

    # ================================================================ lookups

    def _account(self, account_id: object) -> Account:
        acct = self.accounts.get(account_id) if type(account_id) is int else None
        if acct is None:
            raise Rejection(Code.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
        return acct

    def _instrument(self, symbol: object) -> Instrument:
        inst = self.instruments.get(symbol) if type(symbol) is str else None
        if inst is None:
            raise Rejection(Code.UNKNOWN_SYMBOL,
                            f"unknown symbol {symbol!r}; listed: {', '.join(self.instruments)}")
        return inst

    def _mark(self, symbol: str) -> int:
        mark = self.marks.get(symbol)
        if mark is None:
            raise Rejection(Code.MARK_PRICE_UNAVAILABLE,
                            f"{symbol} has no mark price yet; wait for the first price update")
        return mark

    def _available(self, acct: Account) -> int:
        return risk.cross_available(acct, self.instruments, self.marks)

    # ================================================================ accounts

    def _create_account(self, c: CreateAccount, out: list[Event]) -> None:
        account = cast(RawCreateAccount, c).account
        if type(account) is not int or account < 0:
            raise Rejection(Code.UNKNOWN_ACCOUNT, "account ids are integers >= 0")
        if account in self.accounts:
            raise Rejection(Code.ACCOUNT_EXISTS, f"account {account} exists already")
        self.now = c.ts
        self.accounts[account] = Account(account, self._slots)
        out.append(AccountCreated(self._next(), c.ts, account))

    def _deposit(self, c: Deposit, out: list[Event]) -> None:
        raw = cast(RawDeposit, c)
        acct = self._account(raw.account)
        _check_amount(raw.amount)
        self.now = c.ts
        acct.wallet += c.amount
        self.deposits += c.amount
        self.account_changed(c.account)
        out.append(Deposited(self._next(), c.ts, c.account, c.amount, acct.wallet))

    def _withdraw(self, c: Withdraw, out: list[Event]) -> None:
        raw = cast(RawWithdraw, c)
        acct = self._account(raw.account)
        _check_amount(raw.amount)
        available = min(self._available(acct), acct.wallet)
        if c.amount > available:
            raise Rejection(Code.INSUFFICIENT_BALANCE,
                            f"at most {max(available, 0)} atoms can be withdrawn now")
        self.now = c.ts
        acct.wallet -= c.amount
        self.withdrawals += c.amount
        self.account_changed(c.account)
        out.append(Withdrawn(self._next(), c.ts, c.account, c.amount, acct.wallet))

    def _reset_account(self, c: ResetAccount, out: list[Event]) -> None:
        raw = cast(RawResetAccount, c)
        acct = self._account(raw.account)
        balance = raw.balance
        if type(balance) is not int or not 0 <= balance <= MAX_AMOUNT:
            raise Rejection(Code.INVALID_AMOUNT,
                            f"balance must be an integer of atoms from 0 to {MAX_AMOUNT}")
        held = sorted(s for s, p in acct.positions.items() if p.size or p.isolated_wallet)
        if held:
            raise Rejection(Code.POSITION_OPEN,
                            f"close your positions first ({', '.join(held)}): a reset cancels "
                            "orders and sets the wallet, it does not wipe positions")
        self.now = c.ts
        for symbol in sorted(acct.positions):
            self.cancel_orders(acct.positions[symbol], CancelReason.CANCEL_ALL, out)
        change = balance - acct.wallet
        acct.wallet = balance
        if change > 0:
            self.deposits += change
            out.append(Deposited(self._next(), c.ts, c.account, change, balance))
        elif change < 0:
            self.withdrawals -= change
            out.append(Withdrawn(self._next(), c.ts, c.account, -change, balance))
        self.account_changed(c.account)

    def _set_leverage(self, c: SetLeverage, out: list[Event]) -> None:
        raw = cast(RawSetLeverage, c)
        acct = self._account(raw.account)
        inst = self._instrument(raw.symbol)
        pos = acct.positions[c.symbol]
        top = inst.tiers[0].max_leverage
        leverage = raw.leverage
        if type(leverage) is not int or not 1 <= leverage <= top:
            raise Rejection(Code.INVALID_LEVERAGE,
                            f"leverage must be an integer from 1 to {top} for {c.symbol}")
        if pos.mode is MarginMode.ISOLATED and pos.size and c.leverage < pos.leverage:
            raise Rejection(Code.LEVERAGE_REDUCTION_NOT_SUPPORTED,
                            "an isolated position's leverage can only be raised while it is open")
        cap = inst.max_notional_for_leverage(c.leverage)
        if cap is not None and (pos.size or pos.buy_lots or pos.sell_lots):
            mark = self._mark(c.symbol)
            worst = pos.worst_case_lots() * mark * inst.atoms_per_tick_lot
            if worst > cap:
                raise Rejection(Code.POSITION_LIMIT_EXCEEDED,
                                f"leverage {c.leverage} allows at most {cap} atoms of notional; "
                                f"the position and open orders reach {worst}")
        old = pos.leverage
        if c.leverage < old and (pos.size or pos.buy_lots or pos.sell_lots):
            pos.set_leverage(c.leverage)
            short = self._available(acct) < 0
            pos.set_leverage(old)
            if short:
                raise Rejection(Code.INSUFFICIENT_MARGIN,
                                "not enough available balance for the margin this leverage needs")
        self.now = c.ts
        pos.set_leverage(c.leverage)
        out.append(LeverageChanged(self._next(), c.ts, c.account, c.symbol, c.leverage, cap))

    def _set_margin_mode(self, c: SetMarginMode, out: list[Event]) -> None:
        raw = cast(RawSetMarginMode, c)
        acct = self._account(raw.account)
        self._instrument(raw.symbol)
        pos = acct.positions[c.symbol]
        # A member or its value: the string "CROSS" names it too.
        mode = raw.mode
        if mode not in (MarginMode.CROSS, MarginMode.ISOLATED):
            raise Rejection(Code.INVALID_FLAGS, "margin mode is CROSS or ISOLATED")
        if mode == pos.mode:
            raise Rejection(Code.MARGIN_MODE_UNCHANGED, f"{c.symbol} is {pos.mode} already")
        if pos.orders:
            raise Rejection(Code.MARGIN_MODE_OPEN_ORDERS,
                            f"cancel the open orders on {c.symbol} first")
        if pos.size:
            raise Rejection(Code.MARGIN_MODE_OPEN_POSITION,
                            f"close the position on {c.symbol} first")
        self.now = c.ts
        pos.mode = MarginMode.CROSS if mode == MarginMode.CROSS else MarginMode.ISOLATED
        out.append(MarginModeChanged(self._next(), c.ts, c.account, c.symbol, pos.mode))

    def _adjust_isolated_margin(self, c: AdjustIsolatedMargin, out: list[Event]) -> None:
        raw = cast(RawAdjustIsolatedMargin, c)
        acct = self._account(raw.account)
        inst = self._instrument(raw.symbol)
        pos = acct.positions[c.symbol]
        if pos.mode is not MarginMode.ISOLATED:
            raise Rejection(Code.NOT_ISOLATED, f"{c.symbol} is in cross margin mode")
        if not pos.size:
            raise Rejection(Code.NO_POSITION, f"no open position on {c.symbol} to add margin to")
        delta = raw.delta
        if type(delta) is not int or delta == 0 or abs(delta) > MAX_AMOUNT:
            raise Rejection(Code.INVALID_AMOUNT, "delta must be a non-zero integer of atoms")
        if c.delta > 0:
            available = min(self._available(acct), acct.wallet)
            if c.delta > available:
                raise Rejection(Code.INSUFFICIENT_BALANCE,
                                f"at most {max(available, 0)} atoms can be added now")
        else:
            removable = self.max_removable_isolated(acct, inst, pos)
            if -c.delta > removable:
                raise Rejection(Code.INSUFFICIENT_MARGIN,
                                f"at most {removable} atoms can be removed now")
        self.now = c.ts
        pos.isolated_wallet += c.delta
        acct.wallet -= c.delta
        self.account_changed(c.account)
        out.append(IsolatedMarginChanged(self._next(), c.ts, c.account, c.symbol, c.delta,
                                         pos.isolated_wallet, acct.wallet))

    def max_removable_isolated(self, acct: Account, inst: Instrument, pos: Position) -> int:
        """Binance's rule: min(isolated wallet - maintenance margin, isolated wallet + unrealized
        PnL - initial margin at mark), never below zero."""
        mark = self._mark(pos.symbol)
        upnl = pos.unrealized_pnl(mark)
        return max(0, min(pos.isolated_wallet - risk.maintenance_margin(pos, inst, mark),
                          pos.isolated_wallet + upnl - risk.position_margin(pos, inst, mark)))

    # ================================================================ prices

    def _set_mark_price(self, c: SetMarkPrice, out: list[Event]) -> None:
        raw = cast(RawSetMarkPrice, c)
        self._instrument(raw.symbol)
        for value, what in ((raw.mark, "mark"), (raw.index_price, "index")):
            if type(value) is not int or not 0 < value <= MAX_UNITS:
                raise Rejection(Code.INVALID_PRICE, f"{what} must be a positive integer of ticks")
        self.now = c.ts
        self._run_clock(c.ts, out)
        market = self.markets[c.symbol]
        market.mark = c.mark
        market.index = c.index_price
        self.marks[c.symbol] = c.mark
        out.append(new(MarkPriceChanged, self._next(), c.ts, c.symbol, c.mark, c.index_price))
        self._mark_moved(c.symbol, out)

    def _mark_moved(self, symbol: str, out: list[Event]) -> None:
        """What follows a new mark: mark-price triggers, then margin calls and liquidations."""
        self._fire_triggers(symbol, WorkingType.MARK_PRICE, self.marks[symbol], out)
        liquidation.check(self, [symbol], out)

    def _set_index_price(self, c: SetIndexPrice, out: list[Event]) -> None:
        raw = cast(RawSetIndexPrice, c)
        self._instrument(raw.symbol)
        index = raw.index_price
        if type(index) is not int or not 0 < index <= MAX_UNITS:
            raise Rejection(Code.INVALID_PRICE, "index price must be a positive integer of ticks")
        self.now = c.ts
        self._run_clock(c.ts, out)
        symbol = c.symbol
        state = self.markets[symbol]
        state.index = c.index_price
        book = self.books[symbol]
        state.sample_basis(c.ts, book.best_bid(), book.best_ask())
        fs = self.funding[symbol]
        assert fs.next_time is not None
        mark = state.compute_mark(fs.rate_e8, fs.next_time - c.ts, fs.interval_ms)
        state.mark = mark
        self.marks[symbol] = mark
        out.append(new(MarkPriceChanged, self._next(), c.ts, symbol, mark, c.index_price))
        self._mark_moved(symbol, out)

    def _tick(self, c: Tick, out: list[Event]) -> None:
        self.now = c.ts
        self._run_clock(c.ts, out)

    def _run_clock(self, ts: int, out: list[Event]) -> None:
        """Time has reached ``ts``: take the premium samples and settle the funding due.

        After a gap (a quiet spell, a restart) the samples it missed are all of the book as it
        stands, so the premium is computed once and counted for each; every funding time
        passed in the gap is settled in turn.
        """
        for symbol in sorted(self.funding):
            fs = self.funding[symbol]
            if fs.next_time is None:
                fs.start(ts)
            assert fs.next_time is not None and fs.next_sample is not None
            premium: int | None = None
            while True:
                until = min(ts, fs.next_time)
                if fs.next_sample <= until:
                    count = (until - fs.next_sample) // fs.sample_ms + 1
                    if premium is None:
                        premium = self._premium(symbol)
                    if premium is not None:
                        fs.samples.extend([premium] * count)
                    fs.next_sample += count * fs.sample_ms
                if fs.next_time > ts:
                    break
                self._settle_funding(symbol, fs, out)
                premium = None  # payments may have liquidated: the book may differ

    def _premium(self, symbol: str) -> int | None:
        index = self.markets[symbol].index
        if index is None:
            return None
        inst = self.instruments[symbol]
        impact = 200 * 10**8 * inst.tiers[0].max_leverage  # 200 USDT x max leverage
        snap = self.books[symbol].depth(1_000)
        return funding.premium_e8(
            index,
            funding.impact_price(snap.bids, impact, inst.atoms_per_tick_lot),
            funding.impact_price(snap.asks, impact, inst.atoms_per_tick_lot))

    def _settle_funding(self, symbol: str, fs: funding.FundingState,
                        out: list[Event]) -> None:
        assert fs.next_time is not None
        inst = self.instruments[symbol]
        at = fs.next_time
        rate = funding.funding_rate_e8(fs.samples, inst.interest_ppm * funding.PPM_TO_E8,
                                       inst.funding_cap_ppm * funding.PPM_TO_E8)
        fs.rate_e8 = rate
        fs.samples = []
        fs.next_time = at + fs.interval_ms
        mark = self.marks.get(symbol)
        if mark is None:
            return  # no price yet: no position can be open
        out.append(FundingSettled(self._next(), self.now, symbol, rate, mark, at, fs.next_time))
        positions = [(a, self.accounts[a].positions[symbol].size) for a in self.holders[symbol]]
        amounts = funding.payments(positions, mark, inst.atoms_per_tick_lot, rate)
        for account_id, size in positions:
            amount = amounts.get(account_id, 0)
            acct = self.accounts[account_id]
            pos = acct.positions[symbol]
            if pos.mode is MarginMode.ISOLATED:
                pos.isolated_wallet += amount
            else:
                acct.wallet += amount
            self.account_changed(account_id)
            out.append(FundingPaid(self._next(), self.now, account_id, symbol, size, amount,
                                   rate))
        if amounts:
            liquidation.check(self, sorted(self.instruments), out)

    # ================================================================ orders: placing

    def _place_order(self, c: PlaceOrder, out: list[Event]) -> None:
        raw = cast(RawPlaceOrder, c)
        acct = self._account(raw.account)
        inst = self._instrument(raw.symbol)
        pos = acct.positions[c.symbol]
        order = self._validate_new_order(c, acct, inst, pos)
        self.now = c.ts
        self.next_order_id += 1
        if not order.client_order_id:
            order.client_order_id = f"{AUTO_CLIENT_ID_PREFIX}{order.order_id}"
        out.append(new(OrderAccepted,
            self._next(), c.ts, acct.account_id, c.symbol, order.order_id,
            order.client_order_id, order.side, order.order_type, order.tif, order.price,
            order.quantity, order.stop_price, order.working_type, order.reduce_only,
            order.close_position))
        if order.order_type in CONDITIONAL_TYPES:
            self._track(acct, pos, order)
            self.triggers[c.symbol].add(order, self._working_price(c.symbol, order.working_type))
            return
        self._enter_book(acct, pos, inst, order, out)

    def _working_price(self, symbol: str, working: WorkingType) -> int:
        """The price a conditional order watches; before the first trade, the last price is
        taken to be the mark."""
        mark = self.marks[symbol]
        if working is WorkingType.MARK_PRICE:
            return mark
        last = self.markets[symbol].last
        return mark if last is None else last

    def _validate_new_order(self, c: PlaceOrder, acct: Account, inst: Instrument,
                            pos: Position) -> Order:
        """Every check of a new order; builds its (not yet tracked) Order. Raises Rejection."""
        raw = cast(RawPlaceOrder, c)  # the fields as sent: each is checked before it is used
        side = _side(raw.side)
        if side is None:
            raise Rejection(Code.INVALID_SIDE, "side is BUY or SELL")
        otype = _lookup(_ORDER_TYPES, raw.order_type, "order type")
        tif = _lookup(_TIFS, raw.tif, "time in force")
        working = _lookup(_WORKING_TYPES, raw.working_type, "working type")
        stp = _lookup(_STPS, raw.stp, "self-trade prevention mode")
        reduce_only = raw.reduce_only
        close_position = raw.close_position
        if type(reduce_only) is not bool or type(close_position) is not bool:
            raise Rejection(Code.INVALID_FLAGS, "reduce_only and close_position are booleans")
        client_id = self._check_client_id(acct, raw.client_order_id)
        mark = self._mark(c.symbol)
        symbol = c.symbol

        conditional = otype in CONDITIONAL_TYPES
        takes_price = otype is OrderType.LIMIT or otype in LIMIT_ON_TRIGGER
        if close_position:
            if otype not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
                raise Rejection(Code.INVALID_FLAGS,
                                "close_position is for STOP_MARKET and TAKE_PROFIT_MARKET orders")
            if reduce_only:
                raise Rejection(Code.INVALID_FLAGS, "close_position implies reduce_only: send one")
            if raw.quantity not in (0, None):
                raise Rejection(Code.INVALID_QUANTITY,
                                "a close_position order takes no quantity: it closes it all")
            quantity = 0
        else:
            lots = raw.quantity
            if type(lots) is not int or not 0 < lots <= MAX_UNITS:
                raise Rejection(Code.INVALID_QUANTITY,
                                f"quantity must be a positive whole number of lots "
                                f"(step {inst.step_size})")
            quantity = lots
            if quantity < inst.min_qty:
                raise Rejection(Code.QUANTITY_BELOW_MIN,
                                f"quantity must be at least {inst.qty_str(inst.min_qty)}")
            market_like = not takes_price
            limit = inst.market_max_qty if market_like else inst.max_qty
            if quantity > limit:
                raise Rejection(Code.QUANTITY_ABOVE_MAX,
                                f"quantity must be at most {inst.qty_str(limit)} "
                                f"for {'market' if market_like else 'limit'} orders")
        price: int | None = None
        if takes_price:
            limit_price = raw.price
            if type(limit_price) is not int or not 0 < limit_price <= MAX_UNITS:
                raise Rejection(Code.INVALID_PRICE,
                                f"{otype} needs a positive price in ticks of {inst.tick_size}")
            price = limit_price
        elif raw.price is not None:
            raise Rejection(Code.INVALID_PRICE, f"{otype} orders take no price")
        if tif is not TimeInForce.GTC and not takes_price:
            raise Rejection(Code.INVALID_TIME_IN_FORCE, f"{otype} orders take no time in force")

        stop: int | None = None
        callback: int | None = None
        activation: int | None = None
        if otype is OrderType.TRAILING_STOP_MARKET:
            cb = raw.callback_ppm
            if type(cb) is not int or not MIN_CALLBACK_PPM <= cb <= MAX_CALLBACK_PPM:
                raise Rejection(Code.INVALID_CALLBACK_RATE,
                                "callback rate must be from 0.1% to 10%")
            callback = cb
            activation = _activation_price(raw.activation_price)
            if raw.stop_price is not None:
                raise Rejection(Code.INVALID_STOP_PRICE,
                                "trailing stops take a callback rate, not a stop price")
        elif conditional:
            stop_price = raw.stop_price
            if type(stop_price) is not int or not 0 < stop_price <= MAX_UNITS:
                raise Rejection(Code.INVALID_STOP_PRICE,
                                f"{otype} needs a positive stop price in ticks")
            stop = stop_price
            # Kept on the order though only trailing stops use it: it must be a price too.
            activation = _activation_price(raw.activation_price)
        elif raw.stop_price is not None or raw.callback_ppm is not None or (
                raw.activation_price is not None):
            raise Rejection(Code.INVALID_STOP_PRICE,
                            f"{otype} orders take no stop price, callback or activation price")

        order = Order(self.next_order_id, acct.account_id, symbol, client_id or "", side,
                      otype, tif, price, quantity, reduce_only, close_position, stop,
                      working, callback, activation, stp, c.ts)
        if conditional:
            if len(pos.orders) - pos.resting >= inst.max_conditional_orders:
                raise Rejection(Code.TOO_MANY_CONDITIONAL_ORDERS,
                                f"at most {inst.max_conditional_orders} conditional orders "
                                f"per symbol")
            if stop is not None:
                now_price = self._working_price(symbol, working)
                if would_fire(order, now_price):
                    raise Rejection(Code.WOULD_IMMEDIATELY_TRIGGER,
                                    f"the {working} is {inst.price_str(now_price)}: this "
                                    f"order would trigger at once")
            if price is not None:
                self._check_price_band(inst, price, mark)
            # Reduce-only and close-position are checked when the order fires: a stop may be
            # placed before the position it protects exists.
            return order
        # A limit or market order: the checks it meets again when a trigger fires.
        order.quantity = self._check_for_book(acct, pos, inst, order, mark)
        return order

    def _check_client_id(self, acct: Account, client_id: object) -> str | None:
        if client_id is None:
            return None
        if (type(client_id) is not str or not 0 < len(client_id) <= CLIENT_ID_MAX
                or client_id.strip(CLIENT_ID_CHARS)):
            raise Rejection(Code.INVALID_CLIENT_ORDER_ID,
                            "client order id: 1-36 characters of A-Z a-z 0-9 . : / _ -")
        if client_id.startswith(AUTO_CLIENT_ID_PREFIX) and (
                client_id[len(AUTO_CLIENT_ID_PREFIX):].isdigit()):
            raise Rejection(Code.INVALID_CLIENT_ORDER_ID,
                            "client order ids of the form paper-<number> are the venue's own")
        if client_id in acct.client_ids:
            raise Rejection(Code.DUPLICATE_CLIENT_ORDER_ID,
                            f"an open order already has client order id {client_id}")
        return client_id

    def _check_price_band(self, inst: Instrument, price: int, mark: int) -> None:
        low, high = risk.band_limits(mark, inst.price_band_ppm)
        if not low <= price <= high:
            raise Rejection(Code.PRICE_OUT_OF_BAND,
                            f"price must lie within {inst.price_str(low)} and "
                            f"{inst.price_str(high)} ({inst.price_band_ppm / 10_000:g}% of mark "
                            f"{inst.price_str(mark)})")

    def _reducible(self, pos: Position, side: Side) -> int:
        """Lots a new reduce-only order on ``side`` may still close."""
        if not pos.size or (pos.size > 0) == (side is Side.BUY):
            raise Rejection(Code.REDUCE_ONLY_REJECTED,
                            "a reduce-only order must be opposite an open position")
        pending = pos.reduce_buy_lots if side is Side.BUY else pos.reduce_sell_lots
        left = abs(pos.size) - pending
        if left <= 0:
            raise Rejection(Code.REDUCE_ONLY_REJECTED,
                            "open reduce-only orders already cover the whole position")
        return left

    def _check_for_book(self, acct: Account, pos: Position, inst: Instrument, order: Order,
                        mark: int) -> int:
        """Pre-trade risk for an order about to enter the book; returns its quantity (a
        reduce-only order is trimmed to what the position can still close)."""
        side = order.side
        quantity = order.quantity
        price = order.price
        atpl = inst.atoms_per_tick_lot
        if order.reduce_only:
            quantity = min(quantity, self._reducible(pos, side))
        if price is not None:
            self._check_price_band(inst, price, mark)
            ref_price = price
        else:
            # A market order is priced at the worst level it would reach in the book now,
            # or at its protection bound if the book is too thin to fill it.
            low, high = risk.band_limits(mark, inst.market_band_ppm)
            bound = high if side is Side.BUY else low
            swept = self.books[order.symbol].sweep_price(side, quantity, bound)
            ref_price = bound if swept is None else swept
        if not order.reduce_only:
            notional_here = (price if price is not None else mark) * quantity * atpl
            if notional_here < inst.min_notional:
                raise Rejection(Code.NOTIONAL_BELOW_MIN,
                                f"order notional must be at least "
                                f"{inst.min_notional // 10**8} USDT (unless reduce-only)")
        rests = price is not None and order.tif in (TimeInForce.GTC, TimeInForce.GTX)
        if rests and pos.resting >= inst.max_open_orders:
            raise Rejection(Code.TOO_MANY_ORDERS,
                            f"at most {inst.max_open_orders} open orders per symbol")
        if order.tif is TimeInForce.GTX and price is not None:
            book = self.books[order.symbol]
            best = book.best_ask() if side is Side.BUY else book.best_bid()
            if best is not None and (price >= best if side is Side.BUY else price <= best):
                raise Rejection(Code.POST_ONLY_WOULD_TAKE,
                                "a post-only order must not take: it would trade at once")
        if order.reduce_only:
            return quantity
        # Margin: what this order adds to the symbol's reserve, what it loses at once if
        # filled at its price, and its fee (charged as a taker: the worst case).
        notional = ref_price * quantity * atpl
        before = pos.order_im
        after = pos.order_margin_with(side, quantity, notional)
        worst_lots = pos.worst_case_lots(side, quantity)
        cap = inst.max_notional_for_leverage(pos.leverage)
        if cap is not None and worst_lots > pos.worst_case_lots():
            worst = worst_lots * mark * atpl
            if worst > cap:
                raise Rejection(Code.POSITION_LIMIT_EXCEEDED,
                                f"at leverage {pos.leverage} a position may reach "
                                f"{cap // 10**8} USDT; this order could take it to "
                                f"{worst // 10**8} USDT: lower the leverage or the quantity")
        # A sell fills at its price or higher: its fee is at most that of the best bid.
        fee_price = ref_price
        if side is Side.SELL:
            fee_price = max(ref_price, self.books[order.symbol].best_bid() or 0)
        cost = (after - before
                + risk.open_loss(side, ref_price, quantity, mark, atpl)
                + risk.fee_for(fee_price * quantity * atpl, max(inst.taker_fee_ppm, 0)))
        if side is Side.SELL and ref_price < mark:
            # A short opened below the mark needs its margin at the mark once filled, more
            # than the reserve at its price (Binance prices a sell's margin at max(price,
            # mark)). A buy below the mark is covered by the gain it shows at once.
            opening = max(0, quantity - max(0, pos.size))
            cost += ceil_div((mark - ref_price) * opening * atpl, pos.leverage)
        if cost > 0:
            available = self._available(acct)
            if cost > available:
                raise Rejection(Code.INSUFFICIENT_MARGIN,
                                f"the order needs {cost} atoms of margin; "
                                f"{max(available, 0)} are available")
        return quantity

    # ================================================================ orders: the book

    def _track(self, acct: Account, pos: Position, order: Order) -> None:
        """Start tracking an open order (resting or conditional)."""
        self.orders[order.order_id] = order
        pos.orders[order.order_id] = order
        acct.client_ids[order.client_order_id] = order.order_id

    def _untrack(self, order: Order) -> None:
        """Stop tracking an open order and release what it reserved."""
        self._forget(order)
        if not order.is_conditional:
            pos = self.accounts[order.account].positions[order.symbol]
            pos.resting -= 1
            pos.reserve(order.side, order.price or 0, order.remaining, order.reduce_only, -1)

    def _enter_book(self, acct: Account, pos: Position, inst: Instrument, order: Order,
                    out: list[Event]) -> None:
        """Send a checked limit or market order to the book and settle what it does."""
        book = self.books[order.symbol]
        if order.price is None:
            low, high = risk.band_limits(self.marks[order.symbol], inst.market_band_ppm)
            protection = high if order.side is Side.BUY else low
            result = book.place_market(order.order_id, acct.account_id, order.side,
                                       order.remaining, protection, order.stp, accepted=False)
        else:
            result = book.place(order.order_id, acct.account_id, order.side, order.price,
                                order.remaining, order.tif, order.stp, accepted=False)
        taker_gone = self._book_events(order.symbol, inst, result, order, out)
        if not taker_gone and order.remaining:
            # It rests: from now on it reserves margin and counts as an open order.
            order.status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.NEW
            if order.order_id not in self.orders:
                self._track(acct, pos, order)
            pos.resting += 1
            pos.reserve(order.side, order.price or 0, order.remaining, order.reduce_only, 1)
        elif order.order_id in self.orders:  # a triggered conditional order that is done
            self._forget(order)

    def _forget(self, order: Order) -> None:
        """Drop an order from the indexes (by id, by symbol, by client id); what it reserved
        is the caller's business."""
        acct = self.accounts[order.account]
        pos = acct.positions[order.symbol]
        del self.orders[order.order_id]
        del pos.orders[order.order_id]
        del acct.client_ids[order.client_order_id]

    def _book_events(self, symbol: str, inst: Instrument, result: list[book_events.Event],
                     taker: Order | None, out: list[Event],
                     cancel_reason: CancelReason = CancelReason.AMEND) -> bool:
        """Translate the book's events into venue events, settling trades. Returns True if
        the taker order (if any) is finished (expired or fully filled). The book cancels only
        when asked to, or when an amend cancels: ``cancel_reason`` says which."""
        ts = self.now
        taker_gone = False
        for e in result:
            if type(e) is _BOOK_TRADE:
                self._settle_trade(symbol, inst, e, taker, out)
                if e.taker_remaining == 0 and taker is not None:
                    taker_gone = True
            elif type(e) is _BOOK_LEVEL_CHANGED:
                out.append(new(BookChanged, self._next(), ts, symbol, e.side, e.price, e.total,
                               e.seq))
            elif type(e) is _BOOK_EXPIRED:
                if taker is not None and e.order_id == taker.order_id:
                    taker_gone = True
                    taker.status = OrderStatus.EXPIRED
                    out.append(new(OrderExpired, self._next(), ts, taker.account, symbol,
                                   taker.order_id, taker.client_order_id, e.quantity,
                                   ExpireReason(e.reason)))
                else:  # a resting order expired by self-trade prevention
                    maker = self.orders[e.order_id]
                    self._untrack(maker)
                    maker.status = OrderStatus.EXPIRED
                    out.append(new(OrderExpired, self._next(), ts, maker.account, symbol,
                                   maker.order_id, maker.client_order_id, e.quantity,
                                   ExpireReason.STP))
            elif type(e) is _BOOK_CANCELED:
                o = self.orders[e.order_id]
                self._untrack(o)
                o.status = OrderStatus.CANCELED
                out.append(new(OrderCanceled, self._next(), ts, o.account, symbol, o.order_id,
                               o.client_order_id, e.quantity, cancel_reason))
            elif type(e) is _BOOK_AMENDED:
                o = self.orders[e.order_id]
                out.append(OrderAmended(self._next(), ts, o.account, symbol, o.order_id,
                                        o.client_order_id, e.price, e.quantity, e.remaining,
                                        e.priority_kept))
            # No book Accepted: the venue announces its orders itself (OrderAccepted).
        return taker_gone

    def _settle_trade(self, symbol: str, inst: Instrument, t: book_events.Trade,
                      taker: Order | None, out: list[Event]) -> None:
        ts = self.now
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        self.markets[symbol].last = t.price
        self._traded.add(symbol)
        out.append(new(Traded, self._next(), ts, symbol, trade_id, t.price, t.quantity, t.aggressor,
                       t.maker_order_id, t.taker_order_id))
        maker = self.orders[t.maker_order_id]
        maker_acct = self.accounts[t.maker_owner]
        maker_pos = maker_acct.positions[symbol]
        # The maker's reserve shrinks by what filled, at its limit price.
        maker_pos.reserve(maker.side, maker.price or 0, t.quantity, maker.reduce_only, -1)
        maker.filled += t.quantity
        mark = self.marks[symbol]
        pnl, fee = settle_fill(maker_acct, maker_pos, inst, maker.side, t.price, t.quantity,
                               inst.maker_fee_ppm, mark)
        self.fee_income += fee
        if maker.remaining:
            maker.status = OrderStatus.PARTIALLY_FILLED
        else:
            maker.status = OrderStatus.FILLED
            maker_pos.resting -= 1
            self._forget(maker)
        self._filled(maker, maker_pos, trade_id, t, True, fee, pnl, out)
        self.position_changed(maker.account, maker_pos)

        assert taker is not None
        taker.filled += t.quantity
        taker.status = OrderStatus.FILLED if not taker.remaining else OrderStatus.PARTIALLY_FILLED
        if taker.account == liquidation.ENGINE:
            # The liquidation engine pays no fee; its result goes to the insurance fund.
            settle_fill(self.engine, self.engine.positions[symbol], inst, taker.side, t.price,
                        t.quantity, 0)
            out.append(LiquidationFilled(self._next(), ts, self.liquidating[taker.order_id],
                                         symbol, taker.order_id, trade_id, taker.side, t.price,
                                         t.quantity))
            return
        taker_acct = self.accounts[t.taker_owner]
        taker_pos = taker_acct.positions[symbol]
        pnl, fee = settle_fill(taker_acct, taker_pos, inst, taker.side, t.price, t.quantity,
                               inst.taker_fee_ppm, mark)
        self.fee_income += fee
        self.position_changed(taker.account, taker_pos)
        self._filled(taker, taker_pos, trade_id, t, False, fee, pnl, out)

    def _filled(self, order: Order, pos: Position, trade_id: int, t: book_events.Trade,
                maker: bool, fee: int, pnl: int, out: list[Event]) -> None:
        """One side's fill, as its account sees it; and its position marked for the
        reduce-only trim if it has resting reduce-only orders, as only those can need one. (A
        reduce-only taker that rests afterwards is not one yet, and needs none: its quantity
        was capped at what the position could close, and each of its fills shrinks both
        alike.)"""
        out.append(new(OrderFilled, self._next(), self.now, order.account, order.symbol,
                       order.order_id, order.client_order_id, trade_id, order.side, t.price,
                       t.quantity, maker, fee, pnl, order.remaining, pos.size,
                       pos.entry_notional))
        if pos.reduce_buy_lots or pos.reduce_sell_lots:
            self._dirty.add((order.account, order.symbol))

    # ================================================================ for liquidation.py

    def position_changed(self, account_id: int, pos: Position) -> None:
        """Keep ``holders`` current after a position or its account changed."""
        if pos.size:
            self.holders[pos.symbol][account_id] = None
        else:
            self.holders[pos.symbol].pop(account_id, None)
        self._risk_dirty.add(account_id)

    def account_changed(self, account_id: int) -> None:
        """The account's wallet moved: its liquidation prices need recomputing."""
        self._risk_dirty.add(account_id)

    def changed(self, account_id: int) -> bool:
        """Whether the account's positions or wallet changed since ``refresh_risk``."""
        return account_id in self._risk_dirty

    def refresh_risk(self) -> set[int]:
        """Recompute the watch keys of the accounts changed since the last time; return
        those accounts."""
        dirty = self._risk_dirty
        if not dirty:
            return set()
        self._risk_dirty = set()
        for account_id in dirty:
            acct = self.accounts.get(account_id)
            if acct is None:
                continue
            crossed = sum(1 for p in acct.positions.values()
                          if p.size and p.mode is MarginMode.CROSS)
            if crossed >= 2:
                self.budgets.track(account_id)
            else:
                self.budgets.untrack(account_id)
            for symbol, p in acct.positions.items():
                watch = self.watches[symbol]
                isolated = p.mode is MarginMode.ISOLATED
                if not p.size or (not isolated and crossed >= 2):
                    watch.drop(account_id)
                    continue
                inst = self.instruments[symbol]
                wallet = p.isolated_wallet if isolated else acct.wallet
                warned = p.warned if isolated else acct.warned
                long = p.size > 0
                cost = p.signed_cost()
                liq = _key(risk.ratio_price(p.size, cost, wallet, 0, 0, inst, PPM), long)
                call = None if warned else _key(risk.ratio_price(
                    p.size, cost, wallet, 0, 0, inst, liquidation.MARGIN_CALL_PPM), long)
                watch.set(account_id, long, liq, call)
        return dirty

    def mark_dirty(self, account_id: int, symbol: str) -> None:
        self._dirty.add((account_id, symbol))

    def cancel_orders(self, pos: Position, reason: CancelReason, out: list[Event]) -> None:
        """Cancel every open order (resting and conditional) of a position, oldest first."""
        for order_id in sorted(pos.orders):
            self._cancel(pos.orders[order_id], reason, out)

    def backing_margin(self, account_id: int, pos: Position) -> int:
        """The margin behind a position: its isolated wallet and PnL, or the account's cross
        margin balance."""
        if pos.mode is MarginMode.ISOLATED:
            return pos.isolated_wallet + pos.unrealized_pnl(self.marks[pos.symbol])
        return risk.cross_margin_balance(self.accounts[account_id], self.instruments, self.marks)

    def enter_book(self, acct: Account, pos: Position, inst: Instrument, order: Order,
                   out: list[Event]) -> None:
        self._enter_book(acct, pos, inst, order, out)

    # ================================================================ follow-ups

    _dirty: set[tuple[int, str]]

    def _follow_ups(self, out: list[Event]) -> None:
        """What any trading in a command sets off, whichever symbol and however it came
        (orders, triggers, liquidations, ADL): reduce-only orders trimmed to the positions that
        changed, then the last-price triggers of every symbol that traded; repeated while
        fired orders trade."""
        rounds = 0
        while self._dirty or self._traded:
            dirty = sorted(self._dirty)
            self._dirty.clear()
            for account_id, sym in dirty:
                self._trim_reduce_only(self.accounts[account_id], sym, out)
            traded = sorted(self._traded)
            self._traded.clear()
            rounds += 1
            if rounds > len(self.orders) + 1:
                continue  # every conditional order fires at most once: this cannot go on
            for sym in traded:
                last = self.markets[sym].last
                if last is not None:
                    self._fire_triggers(sym, WorkingType.CONTRACT_PRICE, last, out)

    def _trim_reduce_only(self, acct: Account, symbol: str, out: list[Event]) -> None:
        """Keep reduce-only orders able only to shrink the position: cancel those on the wrong
        side (or all, with no position) and trim the newest so their total fits its size."""
        pos = acct.positions[symbol]
        if not (pos.reduce_buy_lots or pos.reduce_sell_lots):
            return
        book = self.books[symbol]
        inst = self.instruments[symbol]
        closing_side = Side.SELL if pos.size > 0 else Side.BUY
        room = abs(pos.size)
        resting = [o for o in pos.orders.values() if o.reduce_only and not o.is_conditional]
        for o in sorted(resting, key=lambda o: o.order_id):
            if not pos.size or o.side is not closing_side or room <= 0:
                self._book_events(symbol, inst, book.cancel(o.order_id, acct.account_id), None,
                                  out, CancelReason.REDUCE_ONLY)
                continue
            if o.remaining > room:
                pos.reserve(o.side, o.price or 0, o.remaining, True, -1)
                new_total = o.filled + room
                result = book.amend(o.order_id, acct.account_id, quantity=new_total)
                o.quantity = new_total
                pos.reserve(o.side, o.price or 0, o.remaining, True, 1)
                self._book_events(symbol, inst, result, None, out)
            room -= o.remaining

    def _fire_triggers(self, symbol: str, working: WorkingType, price: int,
                       out: list[Event]) -> bool:
        """Fire the conditional orders that ``price`` reaches; True if any fired."""
        fired = self.triggers[symbol].fired(working, price, self.orders)
        if not fired:
            return False
        inst = self.instruments[symbol]
        for order in fired:
            if order.order_id not in self.orders:
                continue  # canceled by an earlier order's consequences in this same round
            acct = self.accounts[order.account]
            pos = acct.positions[symbol]
            order.triggered = True
            quantity = order.quantity
            if order.close_position:
                quantity = abs(pos.size)
            out.append(new(OrderTriggered, self._next(), self.now, order.account, symbol,
                           order.order_id, price, quantity))
            try:
                if order.close_position:
                    if not pos.size or (pos.size > 0) == (order.side is Side.BUY):
                        raise Rejection(Code.NO_POSITION, "no position for close-position")
                    order.quantity = quantity
                    order.reduce_only = True
                if order.order_type is OrderType.TRAILING_STOP_MARKET or (
                        order.order_type not in LIMIT_ON_TRIGGER):
                    order.price = None
                order.quantity = self._check_for_book(acct, pos, inst, order, self.marks[symbol])
            except Rejection as r:
                self._forget(order)
                order.status = OrderStatus.EXPIRED
                out.append(new(OrderExpired, self._next(), self.now, order.account, symbol,
                               order.order_id, order.client_order_id, order.remaining,
                               ExpireReason.TRIGGER_REJECTED, str(r.code)))
                continue
            self._enter_book(acct, pos, inst, order, out)
        return True

    # ================================================================ orders: cancel, amend

    def _find_order(self, acct: Account, symbol: str, order_id: object,
                    client_id: object) -> Order:
        if order_id is None and client_id is None:
            raise Rejection(Code.UNKNOWN_ORDER, "give an order id or a client order id")
        oid = order_id
        if oid is None and type(client_id) is str:
            oid = acct.client_ids.get(client_id)
        order = self.orders.get(oid) if type(oid) is int else None
        if (order is None or order.account != acct.account_id or order.symbol != symbol
                or (client_id is not None and order.client_order_id != client_id)):
            raise Rejection(Code.UNKNOWN_ORDER, f"no open order {order_id or client_id} "
                                                f"on {symbol} for this account")
        return order

    def _cancel_order(self, c: CancelOrder, out: list[Event]) -> None:
        raw = cast(RawCancelOrder, c)
        acct = self._account(raw.account)
        self._instrument(raw.symbol)
        order = self._find_order(acct, c.symbol, raw.order_id, raw.client_order_id)
        self.now = c.ts
        self._cancel(order, CancelReason.USER, out)

    def _cancel(self, order: Order, reason: CancelReason, out: list[Event]) -> None:
        if order.is_conditional:
            self.triggers[order.symbol].remove(order)
            self._untrack(order)
            order.status = OrderStatus.CANCELED
            out.append(new(OrderCanceled, self._next(), self.now, order.account, order.symbol,
                           order.order_id, order.client_order_id, order.remaining,
                           reason))
            return
        result = self.books[order.symbol].cancel(order.order_id, order.account)
        self._book_events(order.symbol, self.instruments[order.symbol], result, None, out,
                          reason)

    def _cancel_all(self, c: CancelAllOrders, out: list[Event]) -> None:
        raw = cast(RawCancelAllOrders, c)
        acct = self._account(raw.account)
        self._instrument(raw.symbol)
        self.now = c.ts
        self.cancel_orders(acct.positions[c.symbol], CancelReason.CANCEL_ALL, out)

    def _amend_order(self, c: AmendOrder, out: list[Event]) -> None:
        raw = cast(RawAmendOrder, c)
        acct = self._account(raw.account)
        inst = self._instrument(raw.symbol)
        pos = acct.positions[c.symbol]
        order = self._find_order(acct, c.symbol, raw.order_id, raw.client_order_id)
        if order.is_conditional or order.price is None:
            raise Rejection(Code.NOT_AMENDABLE, "only resting limit orders can be amended")
        price = order.price if raw.price is None else raw.price
        quantity = order.quantity if raw.quantity is None else raw.quantity
        if type(price) is not int or not 0 < price <= MAX_UNITS:
            raise Rejection(Code.INVALID_PRICE, "price must be a positive integer of ticks")
        if type(quantity) is not int or not 0 < quantity <= MAX_UNITS:
            raise Rejection(Code.INVALID_QUANTITY, "quantity must be a positive integer of lots")
        if price == order.price and quantity == order.quantity:
            raise Rejection(Code.NO_CHANGE, "the order has this price and quantity already")
        if quantity > inst.max_qty:
            raise Rejection(Code.QUANTITY_ABOVE_MAX,
                            f"quantity must be at most {inst.qty_str(inst.max_qty)}")
        mark = self._mark(c.symbol)
        self._check_price_band(inst, price, mark)
        new_remaining = quantity - order.filled
        if new_remaining > 0 and not order.reduce_only:
            if quantity < inst.min_qty or price * quantity * inst.atoms_per_tick_lot < (
                    inst.min_notional):
                raise Rejection(Code.NOTIONAL_BELOW_MIN,
                                "the amended order would fall below the minimum quantity or "
                                "notional")
            atpl = inst.atoms_per_tick_lot
            before = pos.order_im
            # The order's reserve as it would be: the old part out, the new part in.
            after = pos.order_margin_with(
                order.side, new_remaining - order.remaining,
                (price * new_remaining - order.price * order.remaining) * atpl)
            cost = after - before + risk.open_loss(order.side, price, new_remaining, mark, atpl)
            if cost > 0 and cost > self._available(acct):
                raise Rejection(Code.INSUFFICIENT_MARGIN,
                                "not enough available balance for the amended order")
        if order.reduce_only and new_remaining > 0:
            others = (pos.reduce_buy_lots if order.side is Side.BUY else pos.reduce_sell_lots)
            if new_remaining > abs(pos.size) - (others - order.remaining):
                raise Rejection(Code.REDUCE_ONLY_REJECTED,
                                "a reduce-only order may not exceed what the position can close")
        self.now = c.ts
        result = self.books[c.symbol].amend(order.order_id, acct.account_id, price, quantity)
        if type(result[0]) is book_events.Canceled:
            # New quantity at or below the filled one, or a post-only order moved to a taking
            # price: the book canceled it, as Binance does.
            self._book_events(c.symbol, inst, result, None, out)
            return
        # The order leaves its reserve while the book moves it (at a new price it may trade
        # as a taker); what is left of it afterwards rests and reserves again.
        pos.reserve(order.side, order.price, order.remaining, order.reduce_only, -1)
        pos.resting -= 1
        order.price = price
        order.quantity = quantity
        taker_gone = self._book_events(c.symbol, inst, result, order, out)
        if taker_gone or not order.remaining:
            self._forget(order)
        else:
            pos.resting += 1
            pos.reserve(order.side, price, order.remaining, order.reduce_only, 1)

    # ================================================================ state

    def digest(self) -> str:
        """A hash of a canonical dump of the whole state: equal digests, equal states."""
        h = hashlib.sha256()
        for line in self._canonical():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()

    def _canonical(self) -> Iterator[str]:
        yield repr((self.seq, self.now, self.next_order_id, self.next_trade_id,
                    self.fee_income, self.insurance_fund, self.deposits, self.withdrawals))
        for symbol in sorted(self.instruments):
            m = self.markets[symbol]
            yield repr((symbol, m.mark, m.index, m.last, m.basis_sum, m.basis_second,
                        list(m.basis)))
            f = self.funding[symbol]
            yield repr((f.rate_e8, f.next_time, f.next_sample, f.samples))
            book = self.books[symbol]
            snap = book.depth(1 << 62)
            yield repr((book.seq,))
            for side, levels in ((Side.BUY, snap.bids), (Side.SELL, snap.asks)):
                for price, total in levels:
                    yield repr((int(side), price, total,
                                [tuple(o) for o in book.level_orders(side, price)]))
        for account_id in sorted(self.accounts):
            acct = self.accounts[account_id]
            yield repr((account_id, acct.wallet, acct.warned, sorted(acct.client_ids.items())))
            for symbol in sorted(acct.positions):
                p = acct.positions[symbol]
                yield repr((symbol, p.leverage, str(p.mode), p.size, p.entry_notional,
                            p.isolated_wallet, p.realized_pnl, p.resting, p.buy_lots,
                            p.buy_notional, p.sell_lots, p.sell_notional, p.reduce_buy_lots,
                            p.reduce_sell_lots, p.order_im, p.warned, sorted(p.orders)))
        for order_id in sorted(self.orders):
            o = self.orders[order_id]
            yield repr((o.order_id, o.account, o.symbol, o.client_order_id, int(o.side),
                        str(o.order_type), int(o.tif), o.price, o.quantity, o.filled,
                        o.reduce_only, o.close_position, o.stop_price, str(o.working_type),
                        o.callback_ppm, o.activation_price, o.extreme, int(o.stp), o.created,
                        o.triggered, str(o.status)))

    def conservation_gap(self) -> int:
        """``deposits - withdrawals`` minus everything the venue holds; 0 when money is
        conserved. Unrealized PnL enters through the cost bases: open sizes net to zero per
        symbol, so the marks cancel out and the identity needs no price."""
        held = self.fee_income + self.insurance_fund
        for acct in [*self.accounts.values(), self.engine]:
            held += acct.wallet
            for p in acct.positions.values():
                held += p.isolated_wallet - p.signed_cost()
        return self.deposits - self.withdrawals - held


def _key(found: tuple[int, int] | None, long: bool) -> int | None:
    """A watch key in whole ticks, on the safe side of the exact price: up for longs (due
    when the mark falls to it), down for shorts."""
    if found is None:
        return None
    numerator, denominator = found
    return -(-numerator // denominator) if long else numerator // denominator


def _side(value: object) -> Side | None:
    """The side a command names, if it names one (a bool is not a side, though True == 1)."""
    if type(value) is not int and type(value) is not Side:
        return None
    return _SIDES.get(value)


def _activation_price(value: object) -> int | None:
    """A conditional order's activation price, if given: a positive price in ticks."""
    if value is None:
        return None
    if type(value) is not int or not 0 < value <= MAX_UNITS:
        raise Rejection(Code.INVALID_STOP_PRICE,
                        "activation price must be a positive price in ticks")
    return value


def _check_amount(amount: object) -> None:
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise Rejection(Code.INVALID_AMOUNT,
                        f"amount must be a positive integer of atoms, at most {MAX_AMOUNT}")


_ORDER_TYPES: Final = {t: t for t in OrderType}
_TIFS: Final = {t: t for t in TimeInForce}
_WORKING_TYPES: Final = {w: w for w in WorkingType}
_STPS: Final = {s: s for s in SelfTradePrevention}


def _lookup(table: dict[Any, Any], value: object, what: str) -> Any:
    """The enum member ``value`` names (a member or its value), or a rejection."""
    try:
        member = table.get(value) if type(value) is not bool else None
    except TypeError:  # unhashable
        member = None
    if member is None:
        raise Rejection(Code.INVALID_ORDER_TYPE if what == "order type" else Code.INVALID_FLAGS,
                        f"{what} must be one of {', '.join(str(m) for m in table)}")
    return member
