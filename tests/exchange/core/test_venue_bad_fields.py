"""Commands whose fields hold the wrong types: one ``Rejected`` event and nothing changed, or a
valid reading of the value; never an exception.

Commands are NamedTuples annotated with what their fields should hold, but nothing stops a
sender from putting a float or a string there. The venue reads fields through the commands'
raw views (``commands.py``) until it has checked them, so this holds in the compiled build
(mypyc) too, where reading a field as its annotated type would raise TypeError: ``.ci/compiled``
runs this file against that build.
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import pytest

from exchange.config import load_instruments
from exchange.core import commands
from exchange.core.commands import (
    RAW_VIEWS,
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SetIndexPrice,
    SetLeverage,
    SetMarginMode,
    SetMarkPrice,
    Tick,
    Withdraw,
)
from exchange.core.errors import Code
from exchange.core.events import Event, OrderAccepted, Rejected
from exchange.core.orders import MarginMode, OrderType, WorkingType
from exchange.core.venue import Venue
from matching import SelfTradePrevention, Side, TimeInForce

USDT = 10**8
BTC = "BTCUSDT"
MARK = 100_000  # 10,000.0 USDT in ticks of 0.1
WRONG: list[Any] = [None, 1.0, 2.5, "1", "BTCUSDT", b"1", True, [1], {"a": 1}, (1,), object()]


def venue_with_an_order() -> tuple[Venue, int]:
    venue = Venue(load_instruments())
    ts = 1_700_000_000_000
    for command in (CreateAccount(ts, 1), Deposit(ts, 1, 100_000 * USDT),
                    CreateAccount(ts, 2), Deposit(ts, 2, 1_000_000 * USDT),
                    SetMarkPrice(ts, BTC, MARK, MARK)):
        venue.apply(command)
    events = venue.apply(PlaceOrder(ts, 2, BTC, Side.SELL, OrderType.LIMIT, 100, MARK + 100))
    accepted = [e for e in events if isinstance(e, OrderAccepted)]
    return venue, accepted[0].order_id


def valid_commands(ts: int, order_id: int) -> list[NamedTuple]:
    return [
        CreateAccount(ts, 5),
        Deposit(ts, 1, 100 * USDT),
        Withdraw(ts, 1, USDT),
        SetLeverage(ts, 1, BTC, 10),
        SetMarginMode(ts, 1, BTC, MarginMode.ISOLATED),
        AdjustIsolatedMargin(ts, 1, BTC, 5 * USDT),
        PlaceOrder(ts, 1, BTC, Side.BUY, OrderType.LIMIT, 100, MARK - 100, TimeInForce.GTC,
                   False, False, None, WorkingType.CONTRACT_PRICE, None, None, "mine-1",
                   SelfTradePrevention.EXPIRE_TAKER),
        PlaceOrder(ts, 1, BTC, Side.BUY, OrderType.TRAILING_STOP_MARKET, 100,
                   callback_ppm=10_000, activation_price=MARK + 500),
        PlaceOrder(ts, 1, BTC, Side.SELL, OrderType.STOP_MARKET, 0, close_position=True,
                   stop_price=MARK - 500),
        CancelOrder(ts, 2, BTC, order_id, None),
        CancelOrder(ts, 2, BTC, None, f"paper-{order_id}"),
        AmendOrder(ts, 2, BTC, order_id, None, MARK + 200, 50),
        CancelAllOrders(ts, 2, BTC),
        SetIndexPrice(ts, BTC, MARK),
        SetMarkPrice(ts, BTC, MARK, MARK),
        Tick(ts),
    ]


def cases() -> list[tuple[int, str, Any]]:
    found = []
    for index, command in enumerate(valid_commands(1, 1)):
        for field in command._fields:
            found.extend((index, field, value) for value in WRONG)
    return found


CASES = cases()


@pytest.mark.parametrize(
    ("index", "field", "value"), CASES,
    ids=[f"{type(valid_commands(1, 1)[i]).__name__}{i}-{f}-{type(v).__name__}"
         for i, f, v in CASES])
def test_a_wrongly_typed_field_is_rejected_cleanly_or_read_as_valid(
        index: int, field: str, value: Any) -> None:
    venue, order_id = venue_with_an_order()
    command = valid_commands(venue.now + 1, order_id)[index]._replace(**{field: value})
    digest = venue.digest()
    events = venue.apply(command)
    assert events
    if type(events[0]) is Rejected:
        assert len(events) == 1 and events[0].message
        assert venue.digest() == digest


def test_the_valid_commands_above_mostly_pass() -> None:
    venue, order_id = venue_with_an_order()
    results = [venue.apply(c) for c in valid_commands(venue.now + 1, order_id)]
    rejected = [type(c).__name__ for c, events in zip(valid_commands(1, 1), results, strict=True)
                if events and type(events[0]) is Rejected]
    # No isolated position to add margin to; the order the first cancel took is gone after it.
    assert rejected == ["AdjustIsolatedMargin", "CancelOrder", "AmendOrder"]


def rejected_code(command: object) -> Code:
    venue, _ = venue_with_an_order()
    digest = venue.digest()
    events: list[Event] = venue.apply(command)
    assert len(events) == 1 and type(events[0]) is Rejected, events
    assert venue.digest() == digest
    return events[0].code


def test_what_must_be_rejected_and_its_code() -> None:
    ts = 1_800_000_000_000
    limit: Any = PlaceOrder(ts, 1, BTC, Side.BUY, OrderType.LIMIT, 100, MARK - 100)
    assert rejected_code(limit._replace(quantity=1.0)) == Code.INVALID_QUANTITY
    assert rejected_code(limit._replace(quantity=None)) == Code.INVALID_QUANTITY
    assert rejected_code(limit._replace(price="99900")) == Code.INVALID_PRICE
    assert rejected_code(limit._replace(side=True)) == Code.INVALID_SIDE
    assert rejected_code(limit._replace(account="1")) == Code.UNKNOWN_ACCOUNT
    assert rejected_code(limit._replace(symbol=None)) == Code.UNKNOWN_SYMBOL
    assert rejected_code(limit._replace(reduce_only=1)) == Code.INVALID_FLAGS
    assert rejected_code(limit._replace(client_order_id=7)) == Code.INVALID_CLIENT_ORDER_ID
    assert rejected_code(limit._replace(ts=float(ts))) == Code.INVALID_TIMESTAMP
    stop: Any = PlaceOrder(ts, 1, BTC, Side.SELL, OrderType.STOP_MARKET, 100,
                           stop_price=MARK - 500)
    assert rejected_code(stop._replace(stop_price=1.5)) == Code.INVALID_STOP_PRICE
    assert rejected_code(stop._replace(activation_price="1")) == Code.INVALID_STOP_PRICE
    trailing: Any = PlaceOrder(ts, 1, BTC, Side.BUY, OrderType.TRAILING_STOP_MARKET, 100,
                               callback_ppm=10_000)
    assert rejected_code(trailing._replace(callback_ppm=1e4)) == Code.INVALID_CALLBACK_RATE
    amount: Any = Deposit(ts, 1, USDT)
    assert rejected_code(amount._replace(amount=1.0)) == Code.INVALID_AMOUNT
    assert rejected_code(Withdraw(ts, 1, "1")) == Code.INVALID_AMOUNT  # type: ignore[arg-type]
    assert rejected_code(CreateAccount(ts, "5")) == Code.UNKNOWN_ACCOUNT  # type: ignore[arg-type]
    assert rejected_code(SetLeverage(ts, 1, BTC, 2.0)) == Code.INVALID_LEVERAGE  # type: ignore[arg-type]
    assert rejected_code(SetMarginMode(ts, 1, BTC, 1)) == Code.INVALID_FLAGS  # type: ignore[arg-type]
    assert rejected_code(SetMarkPrice(ts, BTC, MARK, None)) == Code.INVALID_PRICE  # type: ignore[arg-type]
    assert rejected_code(SetIndexPrice(ts, BTC, str(MARK))) == Code.INVALID_PRICE  # type: ignore[arg-type]
    assert rejected_code(CancelOrder(ts, 2, BTC, order_id=1.0)) == Code.UNKNOWN_ORDER  # type: ignore[arg-type]
    assert rejected_code(AmendOrder(ts, 2, BTC, 1, None, None, 2.0)) == Code.INVALID_QUANTITY  # type: ignore[arg-type]


@pytest.mark.parametrize("thing", [None, 0, "PlaceOrder", (1, 2), [1], object()])
def test_what_is_no_command_is_rejected(thing: object) -> None:
    assert rejected_code(thing) == Code.INVALID_FLAGS


def test_a_string_margin_mode_still_names_the_mode() -> None:
    venue, _ = venue_with_an_order()
    events = venue.apply(SetMarginMode(venue.now + 1, 1, BTC, "ISOLATED"))  # type: ignore[arg-type]
    assert type(events[0]) is not Rejected
    assert venue.accounts[1].positions[BTC].mode is MarginMode.ISOLATED


def test_each_raw_view_mirrors_its_command_field_for_field() -> None:
    named = {cls for _, cls in inspect.getmembers(commands, inspect.isclass)
             if issubclass(cls, tuple) and hasattr(cls, "_fields")
             and cls.__module__ == commands.__name__ and not cls.__name__.startswith("Raw")}
    assert set(RAW_VIEWS) == named - {Tick}
    for command, view in RAW_VIEWS.items():
        assert view._fields == command._fields, command  # type: ignore[attr-defined]
        assert view.__name__ == f"Raw{command.__name__}"
