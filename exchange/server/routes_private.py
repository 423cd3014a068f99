"""Private REST endpoints (signed), and the user and key management.

Each request is authenticated (``auth.KeyStore.authenticate``), rate limited per key, parsed
from decimal strings into venue units with the instrument's tick and step, and turned into one
venue command. A venue rejection answers 400 with the venue's code; users only ever see and
touch their own account.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from exchange.core.commands import (
    AdjustIsolatedMargin,
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
    ResetAccount,
    SetLeverage,
    SetMarginMode,
    Withdraw,
)
from exchange.core.events import Event, OrderAccepted, OrderCanceled, OrderFilled, Rejected
from exchange.core.instruments import Instrument
from exchange.core.orders import MarginMode, OrderType, WorkingType
from exchange.core.units import UnitError, format_usdt, parse_units, parse_usdt
from exchange.core.views import account_view
from exchange.server.auth import ApiKey, Permission, require
from exchange.server.errors import ApiCode, ApiError, documented_errors
from exchange.server.projections import OrderRecord
from exchange.server.routes_public import exchange_of, instrument
from exchange.server.runtime import Exchange
from exchange.server.signed import HEADER_LIMITS, signed_key
from exchange.server.wire import event_to_wire, price_frac, side_str
from matching import SelfTradePrevention, Side, TimeInForce

# ``async def`` routes only: they run on the event loop's thread, the one sequencer.
router = APIRouter(prefix="/api/v1", tags=["private"],
                   responses=documented_errors(400, 401, 403, 404, 409, 429))

Str = Annotated[str, Field(max_length=64)]


async def authenticated(
    request: Request,
    x_api_key: Annotated[str | None, Header(max_length=HEADER_LIMITS["x-api-key"])] = None,
    x_timestamp: Annotated[str | None, Header(max_length=HEADER_LIMITS["x-timestamp"])] = None,
    x_signature: Annotated[str | None, Header(max_length=HEADER_LIMITS["x-signature"])] = None,
    x_recv_window: Annotated[str | None,
                             Header(max_length=HEADER_LIMITS["x-recv-window"])] = None,
) -> ApiKey:
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return signed_key(exchange_of(request), x_api_key, x_timestamp, x_signature, x_recv_window,
                      request.method, path, body)


Auth = Annotated[ApiKey, Depends(authenticated)]


async def commit(ex: Exchange, make: Any) -> list[Event]:
    """Apply one command; answer only once it is in the journal (a rejection changes
    nothing, so it needs no wait)."""
    events = raise_if_rejected(ex.apply(make))
    await ex.durable()
    return events


def raise_if_rejected(events: list[Event]) -> list[Event]:
    """A venue rejection as the API's error (400, the venue's code); else the events."""
    if events and type(events[0]) is Rejected:
        r = events[0]
        assert isinstance(r, Rejected)
        raise ApiError(400, str(r.code), r.message)
    return events


def require_admin(ex: Exchange, admin_key: str | None) -> None:
    if admin_key is None or admin_key != ex.admin_key:
        raise ApiError(401, ApiCode.AUTH_INVALID_KEY, "send the admin key as X-ADMIN-KEY")


def parse(what: str, fn: Any, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value: int = fn(text)
    except UnitError as exc:
        raise ApiError(400, ApiCode.INVALID_REQUEST, str(exc)) from None
    return value


def choice(enum: Any, text: str, what: str) -> Any:
    try:
        return enum[text]
    except KeyError:
        raise ApiError(400, ApiCode.INVALID_REQUEST,
                       f"{what} must be one of {', '.join(enum.__members__)}") from None


# ------------------------------------------------------------------- account and positions


@router.get("/account")
async def get_account(request: Request, key: Auth) -> dict[str, Any]:
    return account_json(exchange_of(request), key.user)


def account_json(ex: Exchange, user: int) -> dict[str, Any]:
    view = account_view(ex.venue, user)
    return {
        "user": user,
        "wallet_balance": format_usdt(view.wallet),
        "isolated_wallets": format_usdt(view.isolated_wallets),
        "unrealized_pnl": format_usdt(view.unrealized_pnl),
        "margin_balance": format_usdt(view.margin_balance),
        "position_initial_margin": format_usdt(view.position_initial_margin),
        "order_initial_margin": format_usdt(view.order_initial_margin),
        "maintenance_margin": format_usdt(view.maintenance_margin),
        "available_balance": format_usdt(view.available),
        "margin_ratio": None if view.margin_ratio_ppm is None
        else f"{view.margin_ratio_ppm / 10_000:.2f}%",
    }


@router.get("/positions")
async def get_positions(request: Request, key: Auth) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    view = account_view(ex.venue, key.user)
    out = []
    for p in view.positions:
        inst = ex.instruments[p.symbol]
        out.append({
            "symbol": p.symbol, "margin_mode": str(p.mode), "leverage": p.leverage,
            "size": inst.qty_str(p.size),
            "entry_price": price_frac(inst, p.entry_price),
            "mark_price": None if p.mark is None else inst.price_str(p.mark),
            "notional": format_usdt(p.notional),
            "unrealized_pnl": format_usdt(p.unrealized_pnl),
            "realized_pnl": format_usdt(p.realized_pnl),
            "initial_margin": format_usdt(p.initial_margin),
            "maintenance_margin": format_usdt(p.maintenance_margin),
            "isolated_wallet": format_usdt(p.isolated_wallet),
            "liquidation_price": price_frac(inst, p.liquidation_price),
            "bankruptcy_price": price_frac(inst, p.bankruptcy_price),
            "adl_quantile": p.adl_quantile,
        })
    return out


class LeverageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: Str
    leverage: int = Field(ge=1, le=1000)


@router.post("/leverage")
async def set_leverage(request: Request, body: LeverageBody, key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    await commit(ex, lambda ts: SetLeverage(ts, key.user, body.symbol, body.leverage))
    return {"symbol": body.symbol, "leverage": body.leverage}


class MarginModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: Str
    margin_mode: Str = Field(description="CROSS or ISOLATED")


@router.post("/margin-mode")
async def set_margin_mode(request: Request, body: MarginModeBody,
                          key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    mode = choice(MarginMode, body.margin_mode, "margin_mode")
    await commit(ex, lambda ts: SetMarginMode(ts, key.user, body.symbol, mode))
    return {"symbol": body.symbol, "margin_mode": str(mode)}


class IsolatedMarginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: Str
    amount: Str = Field(description="USDT: positive adds to the position, negative removes")


@router.post("/isolated-margin")
async def isolated_margin(request: Request, body: IsolatedMarginBody,
                          key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    delta = parse("amount", lambda t: parse_usdt(t, "amount", signed=True), body.amount)
    assert delta is not None
    events = await commit(ex, lambda ts: AdjustIsolatedMargin(ts, key.user, body.symbol, delta))
    return event_to_wire(events[-1], ex.instruments)


class AmountBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Str = Field(description="USDT, e.g. \"10000\"")


@router.post("/faucet")
async def faucet(request: Request, body: AmountBody, key: Auth) -> dict[str, Any]:
    """Play money: deposit up to the configured amount (off in competitions)."""
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    if not ex.config.faucet:
        raise ApiError(403, ApiCode.FEATURE_DISABLED, "the faucet is switched off here")
    amount = parse("amount", lambda t: parse_usdt(t, "amount"), body.amount)
    assert amount is not None
    limit = ex.config.faucet_max_usdt * 10**8
    if not 0 < amount <= limit:
        raise ApiError(400, ApiCode.INVALID_REQUEST,
                       f"amount must be more than 0 and at most {ex.config.faucet_max_usdt}")
    events = await commit(ex, lambda ts: Deposit(ts, key.user, amount))
    return event_to_wire(events[-1], ex.instruments)


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    balance: Str | None = Field(None, description="USDT to start again with, e.g. \"10000\" "
                                                  "(default: the server's reset balance)")


@router.post("/account/reset")
async def reset_account(request: Request, key: Auth,
                        body: ResetBody | None = None) -> dict[str, Any]:
    """Start over (off in competitions): every open order is canceled and the wallet is set
    to ``balance``. Positions must be closed first (``POSITION_OPEN``): they have
    counterparties, so they are closed by trading, never wiped. History stays."""
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    if not ex.config.reset:
        raise ApiError(403, ApiCode.FEATURE_DISABLED, "account reset is switched off here")
    text = body.balance if body is not None else None
    balance = (ex.config.reset_usdt * 10**8 if text is None
               else parse("balance", lambda t: parse_usdt(t, "balance"), text))
    assert balance is not None
    limit = ex.config.faucet_max_usdt * 10**8
    if not 0 <= balance <= limit:
        raise ApiError(400, ApiCode.INVALID_REQUEST,
                       f"balance must be from 0 to {ex.config.faucet_max_usdt}")
    await commit(ex, lambda ts: ResetAccount(ts, key.user, balance))
    return account_json(ex, key.user)


@router.post("/withdraw")
async def withdraw(request: Request, body: AmountBody, key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    amount = parse("amount", lambda t: parse_usdt(t, "amount"), body.amount)
    assert amount is not None
    events = await commit(ex, lambda ts: Withdraw(ts, key.user, amount))
    return event_to_wire(events[-1], ex.instruments)


# ------------------------------------------------------------------- orders


class OrderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: Str
    side: Str = Field(description="BUY or SELL")
    type: Str = Field("LIMIT", description=", ".join(OrderType.__members__))
    quantity: Str | None = Field(None, description="base asset, e.g. \"0.010\"")
    price: Str | None = None
    time_in_force: Str = Field("GTC", description="GTC, IOC, FOK or GTX (post-only)")
    reduce_only: bool = False
    close_position: bool = False
    stop_price: Str | None = None
    working_type: Str = Field("CONTRACT_PRICE", description="MARK_PRICE or CONTRACT_PRICE")
    callback_rate: Str | None = Field(None, description="trailing stops: percent, 0.1 to 10")
    activation_price: Str | None = None
    client_order_id: Str | None = None
    self_trade_prevention: Str = Field("EXPIRE_TAKER",
                                       description=", ".join(SelfTradePrevention.__members__))


def callback_ppm(text: str | None) -> int | None:
    """A callback rate in percent ("1" is 1%) as ppm: one ppm is 0.0001%."""
    return parse("callback_rate", lambda t: parse_units(t, Decimal("0.0001"), "callback_rate"),
                 text)


def order_command(body: OrderBody, user: int, inst: Instrument) -> Any:
    side = choice(Side, body.side, "side")
    otype = choice(OrderType, body.type, "type")
    tif = choice(TimeInForce, body.time_in_force, "time_in_force")
    working = choice(WorkingType, body.working_type, "working_type")
    stp = choice(SelfTradePrevention, body.self_trade_prevention, "self_trade_prevention")
    quantity = parse("quantity", inst.parse_qty, body.quantity) or 0
    price = parse("price", inst.parse_price, body.price)
    stop = parse("stop_price", inst.parse_price, body.stop_price)
    activation = parse("activation_price", inst.parse_price, body.activation_price)
    cb = callback_ppm(body.callback_rate)

    def make(ts: int) -> Command:
        return PlaceOrder(ts, user, body.symbol, side, otype, quantity, price, tif,
                          body.reduce_only, body.close_position, stop, working, cb, activation,
                          body.client_order_id, stp)

    return make


def order_result(ex: Exchange, events: list[Event], user: int) -> dict[str, Any]:
    accepted = next(e for e in events if type(e) is OrderAccepted)
    assert isinstance(accepted, OrderAccepted)
    inst = ex.instruments[accepted.symbol]
    fills = [e for e in events if type(e) is OrderFilled and e.account == user
             and e.order_id == accepted.order_id]
    record = ex.projections.open_orders.get(accepted.order_id)
    if record is None:
        record = next((r for r in reversed(ex.projections.orders_of(user))
                       if r.order_id == accepted.order_id), None)
    out = order_json(inst, record) if record is not None else {}
    out["fills"] = [event_to_wire(f, ex.instruments) for f in fills]
    return out


def order_json(inst: Instrument, r: OrderRecord) -> dict[str, Any]:
    avg = price_frac(inst, Fraction(r.avg_price_num, r.filled)) if r.filled else None
    return {
        "order_id": r.order_id, "client_order_id": r.client_order_id, "symbol": r.symbol,
        "side": side_str(r.side), "type": str(r.order_type), "time_in_force": r.tif.name,
        "price": None if r.price is None else inst.price_str(r.price),
        "quantity": inst.qty_str(r.quantity), "filled": inst.qty_str(r.filled),
        "avg_price": avg, "status": r.status,
        "stop_price": None if r.stop_price is None else inst.price_str(r.stop_price),
        "working_type": str(r.working_type), "reduce_only": r.reduce_only,
        "close_position": r.close_position, "created": r.created, "updated": r.updated,
    }


@router.post("/orders")
async def place_order(request: Request, body: OrderBody, key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    inst = instrument(ex, body.symbol)
    events = await commit(ex, order_command(body, key.user, inst))
    return order_result(ex, events, key.user)


def find_order(ex: Exchange, user: int, order_id: int) -> OrderRecord:
    record = ex.projections.open_orders.get(order_id)
    if record is None or record.account != user:
        record = next((r for r in ex.projections.orders_of(user) if r.order_id == order_id),
                      None)
    if record is None:
        raise ApiError(404, "UNKNOWN_ORDER", f"no order {order_id} for this account")
    return record


@router.get("/orders/open")
async def open_orders(request: Request, key: Auth,
                symbol: str | None = Query(None, max_length=20)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    records = sorted((r for r in ex.projections.open_orders.values()
                      if r.account == key.user and (symbol is None or r.symbol == symbol)),
                     key=lambda r: r.order_id)
    return [order_json(ex.instruments[r.symbol], r) for r in records]


@router.get("/orders/history")
async def order_history(request: Request, key: Auth,
                  limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    records = ex.projections.orders_of(key.user)[-limit:]
    return [order_json(ex.instruments[r.symbol], r) for r in records]


@router.get("/orders/{order_id:int}")
async def get_order(request: Request, order_id: int, key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    record = find_order(ex, key.user, order_id)
    return order_json(ex.instruments[record.symbol], record)


@router.delete("/orders/{order_id:int}")
async def cancel_order(request: Request, order_id: int, key: Auth,
                 symbol: str = Query(..., max_length=20)) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    instrument(ex, symbol)
    await commit(ex, lambda ts: CancelOrder(ts, key.user, symbol, order_id=order_id))
    record = find_order(ex, key.user, order_id)
    return order_json(ex.instruments[symbol], record)


class AmendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: Str
    price: Str | None = None
    quantity: Str | None = None


@router.patch("/orders/{order_id:int}")
async def amend_order(request: Request, order_id: int, body: AmendBody,
                      key: Auth) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    inst = instrument(ex, body.symbol)
    price = parse("price", inst.parse_price, body.price)
    quantity = parse("quantity", inst.parse_qty, body.quantity)
    events = await commit(ex, lambda ts: AmendOrder(ts, key.user, body.symbol, order_id=order_id,
                                             price=price, quantity=quantity))
    record = find_order(ex, key.user, order_id)
    out = order_json(inst, record)
    out["events"] = [event_to_wire(e, ex.instruments) for e in events
                     if getattr(e, "account", None) == key.user]
    return out


@router.delete("/orders")
async def cancel_all(request: Request, key: Auth,
               symbol: str = Query(..., max_length=20)) -> dict[str, Any]:
    ex = exchange_of(request)
    require(key, Permission.TRADE)
    instrument(ex, symbol)
    events = await commit(ex, lambda ts: CancelAllOrders(ts, key.user, symbol))
    return {"canceled": [e.order_id for e in events if type(e) is OrderCanceled]}


# ------------------------------------------------------------------- history


@router.get("/fills")
async def fills(request: Request, key: Auth,
          limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    return [event_to_wire(e, ex.instruments) for e in list(ex.projections.fills[key.user])[-limit:]]


@router.get("/funding/payments")
async def funding_payments(request: Request, key: Auth,
                     limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    payments = list(ex.projections.funding_payments[key.user])[-limit:]
    return [event_to_wire(e, ex.instruments) for e in payments]


# ------------------------------------------------------------------- users and keys


class SignupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    deposit: Str | None = Field(None, description="USDT to start with")


def signup_result(ex: Exchange, body: SignupBody) -> dict[str, Any]:
    atoms = parse("deposit", lambda t: parse_usdt(t, "deposit"), body.deposit) or 0
    if atoms > ex.config.faucet_max_usdt * 10**8:
        raise ApiError(400, ApiCode.INVALID_REQUEST,
                       f"deposit must be at most {ex.config.faucet_max_usdt}")
    return ex.create_user(body.name, atoms)


@router.post("/admin/users", tags=["admin"])
async def admin_create_user(request: Request, body: SignupBody,
                      x_admin_key: Annotated[str | None, Header(max_length=128)] = None,
                      ) -> dict[str, Any]:
    """Create a user and an API key (read, trade). Needs the admin key (X-ADMIN-KEY)."""
    ex = exchange_of(request)
    require_admin(ex, x_admin_key)
    result = signup_result(ex, body)
    await ex.durable()
    return result


@router.post("/signup", tags=["admin"])
async def signup(request: Request, body: SignupBody) -> dict[str, Any]:
    """Self-service sign-up, when the exchange allows it."""
    ex = exchange_of(request)
    if not ex.config.signup:
        raise ApiError(403, ApiCode.FEATURE_DISABLED, "sign-up is switched off: ask the admin")
    result = signup_result(ex, body)
    await ex.durable()
    return result


@router.get("/admin/state", tags=["admin"])
async def admin_state(request: Request,
                      x_admin_key: Annotated[str | None, Header(max_length=128)] = None,
                      ) -> dict[str, Any]:
    """The state digest (a hash of a canonical dump of the core's state: equal digests, equal
    states), the journal's length and the venue's sequence number. Needs the admin key."""
    ex = exchange_of(request)
    require_admin(ex, x_admin_key)
    return {"digest": ex.venue.digest(), "seq": ex.venue.seq,
            "journal_records": ex.journal.appended if ex.journal else None,
            "recovered_digest": ex.recovered_digest,
            "conservation_gap": ex.venue.conservation_gap()}
