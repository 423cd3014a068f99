"""The REST API's endpoints as ``Call`` values: path, body, how to parse, whether to retry.

``Client`` and ``AsyncClient`` each wrap these one to one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from clients._core import Call, Plan, Retry, Session, new_client_order_id
from clients.errors import ErrorCode
from clients.models import (
    Account,
    AmendedOrder,
    Credentials,
    DecimalLike,
    Deposited,
    DepthSnapshot,
    Event,
    FundingPaid,
    FundingSettled,
    Instrument,
    InsuranceFund,
    IsolatedMarginChanged,
    Kline,
    LeverageSetting,
    MarginMode,
    MarginModeSetting,
    Order,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
    Position,
    Prices,
    PublicTrade,
    Ticker,
    WireError,
    Withdrawn,
    decimal_str,
    from_wire,
    list_from_wire,
    parse_event,
    parse_events,
    to_decimal,
)

V1 = "/api/v1"


def _list(cls: type[Any]) -> Any:
    return lambda data: list_from_wire(cls, data)


def _one(cls: type[Any]) -> Any:
    return lambda data: from_wire(cls, data)


def _event(cls: type[Any]) -> Any:
    def parse(data: Any) -> Any:
        event = parse_event(data)
        if not isinstance(event, cls):
            raise WireError(f"expected {cls.__name__}, got {type(event).__name__}")
        return event
    return parse


def _events(cls: type[Any]) -> Any:
    def parse(data: Any) -> Any:
        events = parse_events(data)
        if not all(isinstance(e, cls) for e in events):
            raise WireError(f"expected a list of {cls.__name__}")
        return events
    return parse


def _credentials(data: Any) -> Credentials:
    return Credentials(str(data["api_key"]), str(data["secret"]), int(data["user"]),
                       str(data["name"]) if "name" in data else None)


# ------------------------------------------------------------------------------- public


def server_time() -> Call[int]:
    return Call("GET", f"{V1}/time", "/api/v1/time", lambda d: int(d["server_time"]))


def instruments() -> Call[list[Instrument]]:
    return Call("GET", f"{V1}/instruments", "/api/v1/instruments", _list(Instrument))


def depth(symbol: str, limit: int) -> Call[DepthSnapshot]:
    return Call("GET", f"{V1}/depth", "/api/v1/depth", _one(DepthSnapshot),
                {"symbol": symbol, "limit": limit})


def trades(symbol: str, limit: int) -> Call[list[PublicTrade]]:
    return Call("GET", f"{V1}/trades", "/api/v1/trades", _list(PublicTrade),
                {"symbol": symbol, "limit": limit})


def klines(symbol: str, interval: str, limit: int) -> Call[list[Kline]]:
    return Call("GET", f"{V1}/klines", "/api/v1/klines", _list(Kline),
                {"symbol": symbol, "interval": interval, "limit": limit})


def ticker(symbol: str) -> Call[Ticker]:
    return Call("GET", f"{V1}/ticker", "/api/v1/ticker", _one(Ticker), {"symbol": symbol})


def prices(symbol: str) -> Call[Prices]:
    return Call("GET", f"{V1}/prices", "/api/v1/prices", _one(Prices), {"symbol": symbol})


def funding_history(symbol: str, limit: int) -> Call[list[FundingSettled]]:
    return Call("GET", f"{V1}/funding/history", "/api/v1/funding/history",
                _events(FundingSettled), {"symbol": symbol, "limit": limit})


def insurance(limit: int) -> Call[InsuranceFund]:
    return Call("GET", f"{V1}/insurance", "/api/v1/insurance", _one(InsuranceFund),
                {"limit": limit})


def liquidations(limit: int) -> Call[list[Event]]:
    return Call("GET", f"{V1}/liquidations", "/api/v1/liquidations", parse_events,
                {"limit": limit})


def signup(name: str, deposit: DecimalLike | None) -> Call[Credentials]:
    body: dict[str, Any] = {"name": name}
    if deposit is not None:
        body["deposit"] = decimal_str(to_decimal(deposit, "deposit"))
    return Call("POST", f"{V1}/signup", "/api/v1/signup", _credentials, body=body,
                retry=Retry.NEVER)


def create_user(name: str, admin_key: str, deposit: DecimalLike | None) -> Call[Credentials]:
    body: dict[str, Any] = {"name": name}
    if deposit is not None:
        body["deposit"] = decimal_str(to_decimal(deposit, "deposit"))
    return Call("POST", f"{V1}/admin/users", "/api/v1/admin/users", _credentials, body=body,
                retry=Retry.NEVER, headers={"X-ADMIN-KEY": admin_key})


# ------------------------------------------------------------------------------- account


def account() -> Call[Account]:
    return Call("GET", f"{V1}/account", "/api/v1/account", _one(Account), signed=True)


def positions() -> Call[list[Position]]:
    return Call("GET", f"{V1}/positions", "/api/v1/positions", _list(Position), signed=True)


def set_leverage(symbol: str, leverage: int) -> Call[LeverageSetting]:
    # Setting the same leverage twice changes nothing more: safe to repeat.
    return Call("POST", f"{V1}/leverage", "/api/v1/leverage", _one(LeverageSetting),
                body={"symbol": symbol, "leverage": leverage}, signed=True, retry=Retry.SAFE)


def set_margin_mode(symbol: str, mode: MarginMode) -> Call[MarginModeSetting]:
    def already(session: Session, first_ms: int) -> Plan[MarginModeSetting | None]:
        # A repeat answers MARGIN_MODE_UNCHANGED: then the first attempt did it.
        return MarginModeSetting(symbol, MarginMode(mode))
        yield  # a generator

    return Call("POST", f"{V1}/margin-mode", "/api/v1/margin-mode", _one(MarginModeSetting),
                body={"symbol": symbol, "margin_mode": str(MarginMode(mode))}, signed=True,
                retry=Retry.RECONCILE, reconcile=_unless_first(already),
                reconcile_codes=frozenset({ErrorCode.MARGIN_MODE_UNCHANGED}))


def _unless_first(plan: Any) -> Any:
    """A reconcile step that only answers once a repeat was refused (before the repeat it
    cannot know, so it says "not applied": send it again)."""
    state = {"tried": False}

    def step(session: Session, first_ms: int) -> Plan[Any]:
        if not state["tried"]:
            state["tried"] = True
            return None
        result = yield from plan(session, first_ms)
        return result

    return step


def adjust_isolated_margin(symbol: str, amount: DecimalLike) -> Call[IsolatedMarginChanged]:
    return Call("POST", f"{V1}/isolated-margin", "/api/v1/isolated-margin",
                _event(IsolatedMarginChanged),
                body={"symbol": symbol, "amount": decimal_str(to_decimal(amount, "amount"))},
                signed=True, retry=Retry.NEVER)


def faucet(amount: DecimalLike) -> Call[Deposited]:
    return Call("POST", f"{V1}/faucet", "/api/v1/faucet", _event(Deposited),
                body={"amount": decimal_str(to_decimal(amount, "amount"))}, signed=True,
                retry=Retry.NEVER)


def reset_account(balance: DecimalLike | None = None) -> Call[Account]:
    body = {} if balance is None else {"balance": decimal_str(to_decimal(balance, "balance"))}
    return Call("POST", f"{V1}/account/reset", "/api/v1/account/reset", _one(Account),
                body=body, signed=True, retry=Retry.NEVER)


def withdraw(amount: DecimalLike) -> Call[Withdrawn]:
    return Call("POST", f"{V1}/withdraw", "/api/v1/withdraw", _event(Withdrawn),
                body={"amount": decimal_str(to_decimal(amount, "amount"))}, signed=True,
                retry=Retry.NEVER)


# ------------------------------------------------------------------------------- orders


def _placed(data: Any) -> PlacedOrder:
    return from_wire(PlacedOrder, data)


def place_order(request: OrderRequest) -> Call[PlacedOrder]:
    """With a client order id, always (one is made if missing), so that a lost answer can be
    looked up: the order is found among the open orders or the recent history (created
    within the signing window of the first attempt), or it was never placed and is sent
    again; a repeat refused as a duplicate client order id is looked up likewise."""
    if request.client_order_id is None:
        request = request.with_client_order_id(new_client_order_id())
    cid = request.client_order_id
    symbol = request.symbol

    def find(session: Session, first_ms: int) -> Plan[PlacedOrder | None]:
        since = first_ms - session.window_ms - 1_000
        open_now = yield from session.plan(open_orders(symbol))
        candidates = [o for o in open_now if o.client_order_id == cid and o.created >= since]
        if not candidates:
            done = yield from session.plan(order_history(200))
            candidates = [o for o in done if o.client_order_id == cid and o.created >= since]
        if not candidates:
            return None
        order = max(candidates, key=lambda o: o.order_id)
        recent = yield from session.plan(fills(1000))
        own = tuple(f for f in recent if f.order_id == order.order_id)
        return PlacedOrder(**{f.name: getattr(order, f.name)
                              for f in dataclasses.fields(Order)}, fills=own)

    return Call("POST", f"{V1}/orders", "/api/v1/orders", _placed, body=request.to_wire(),
                signed=True, retry=Retry.RECONCILE, reconcile=find,
                reconcile_codes=frozenset({ErrorCode.DUPLICATE_CLIENT_ORDER_ID}))


def amend_order(symbol: str, order_id: int, price: DecimalLike | None,
                quantity: DecimalLike | None) -> Call[AmendedOrder]:
    body: dict[str, Any] = {"symbol": symbol}
    if price is not None:
        body["price"] = decimal_str(to_decimal(price, "price"))
    if quantity is not None:
        body["quantity"] = decimal_str(to_decimal(quantity, "quantity"))
    return Call("PATCH", f"{V1}/orders/{int(order_id)}", "/api/v1/orders/{id}",
                _one(AmendedOrder), body=body, signed=True, retry=Retry.NEVER)


def cancel_order(symbol: str, order_id: int) -> Call[Order]:
    """Cancelling twice cannot cancel anything else: after a lost answer it is looked up
    (already canceled: done) and sent again; a repeat that finds no open order looks once
    more."""
    oid = int(order_id)

    def find(session: Session, first_ms: int) -> Plan[Order | None]:
        found = yield from session.plan(get_order(oid))
        return found if found.status is OrderStatus.CANCELED else None

    return Call("DELETE", f"{V1}/orders/{oid}", "/api/v1/orders/{id}", _one(Order),
                {"symbol": symbol}, signed=True, retry=Retry.RECONCILE, reconcile=find,
                reconcile_codes=frozenset({ErrorCode.UNKNOWN_ORDER}))


def cancel_all(symbol: str) -> Call[list[int]]:
    # Repeating cancels nothing more than what is open then: safe (after a lost answer the
    # list holds only what the repeat canceled).
    return Call("DELETE", f"{V1}/orders", "/api/v1/orders",
                lambda d: [int(x) for x in d["canceled"]], {"symbol": symbol}, signed=True,
                retry=Retry.SAFE)


def get_order(order_id: int) -> Call[Order]:
    oid = int(order_id)
    return Call("GET", f"{V1}/orders/{oid}", "/api/v1/orders/{id}", _one(Order), signed=True)


def open_orders(symbol: str | None) -> Call[list[Order]]:
    return Call("GET", f"{V1}/orders/open", "/api/v1/orders/open", _list(Order),
                {"symbol": symbol}, signed=True)


def order_history(limit: int) -> Call[list[Order]]:
    return Call("GET", f"{V1}/orders/history", "/api/v1/orders/history", _list(Order),
                {"limit": limit}, signed=True)


def fills(limit: int) -> Call[list[OrderFilled]]:
    return Call("GET", f"{V1}/fills", "/api/v1/fills", _events(OrderFilled), {"limit": limit},
                signed=True)


def funding_payments(limit: int) -> Call[list[FundingPaid]]:
    return Call("GET", f"{V1}/funding/payments", "/api/v1/funding/payments",
                _events(FundingPaid), {"limit": limit}, signed=True)

