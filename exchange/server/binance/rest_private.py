"""Binance USDⓈ-M signed endpoints: orders, trades, income, account, positions, leverage,
margin type and margin transfers, position mode, listen keys."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request, Response

from exchange.core.commands import (
    AdjustIsolatedMargin,
    AmendOrder,
    CancelOrder,
    Command,
    SetLeverage,
    SetMarginMode,
)
from exchange.core.events import LeverageChanged
from exchange.core.orders import MarginMode
from exchange.core.units import UnitError, format_ppm, parse_usdt
from exchange.core.views import account_view
from exchange.server.auth import ApiKey, Permission
from exchange.server.binance import errors, formats, signing
from exchange.server.binance import params as p
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.orders import (
    OrderRequest,
    accepted_id,
    commit,
    order_ref,
    position_side,
)
from exchange.server.binance.params import Params, instrument, optional_instrument
from exchange.server.binance.routing import BinanceRoute, Facade, facade_of, ok
from exchange.server.projections import OrderRecord
from exchange.server.wire import side_str

router = APIRouter(route_class=BinanceRoute, include_in_schema=False)

WEEK_MS = 7 * 86_400_000
MARGIN_TYPES = {"ISOLATED": MarginMode.ISOLATED, "CROSSED": MarginMode.CROSS,
                "CROSS": MarginMode.CROSS}


async def signed(request: Request,
                 permission: Permission = Permission.READ) -> tuple[Facade, ApiKey, Params]:
    facade = facade_of(request)
    key, params = await signing.signed(facade.exchange, request, permission)
    return facade, key, params


def trade_window(rows: list[Any], params: Params, time_of: Any, default_limit: int,
                 max_limit: int) -> list[Any]:
    """Binance's window over a history, oldest first: from ``startTime`` forward, or the
    latest ``limit`` up to ``endTime``."""
    start = params.integer("startTime", None, low=0)
    end = params.integer("endTime", None, low=0)
    limit = params.integer("limit", default_limit, low=1, high=max_limit)
    assert limit is not None
    rows = [r for r in rows if (start is None or time_of(r) >= start)
            and (end is None or time_of(r) <= end)]
    return rows[:limit] if start is not None else rows[-limit:]


# ------------------------------------------------------------------- orders


@router.post("/fapi/v1/order")
async def new_order(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    order = OrderRequest(inst, params, algo=False)
    events = await commit(ex, order.command(key.user), order.above_mark(ex))
    record = formats.find_record(ex, key.user, inst.symbol, accepted_id(events))
    if record is None:
        raise BinanceError(errors.UNKNOWN, errors.MSG_UNKNOWN, 500)
    return ok(formats.order_json(ex, record))


def regular(facade: Facade, user: int, params: Params, symbol: str,
            missing: BinanceError) -> OrderRecord:
    """The regular order the request names (a conditional order not yet fired is not one)."""
    order_id, client_id = order_ref(params, "orderId", "origClientOrderId")
    record = formats.find_record(facade.exchange, user, symbol, order_id, client_id)
    if record is None or not formats.is_regular(facade.exchange, facade.state, record):
        raise missing
    return record


@router.get("/fapi/v1/order")
async def query_order(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    record = regular(facade, key.user, params, inst.symbol, errors.no_such_order())
    return ok(formats.order_json(ex, record))


@router.get("/fapi/v1/openOrder")
async def query_open_order(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    record = regular(facade, key.user, params, inst.symbol, errors.no_such_order())
    if record.order_id not in ex.projections.open_orders:
        raise errors.no_such_order()
    return ok(formats.order_json(ex, record))


@router.delete("/fapi/v1/order")
async def cancel_order(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    record = regular(facade, key.user, params, inst.symbol, errors.unknown_order())
    if record.order_id not in ex.projections.open_orders:
        raise errors.unknown_order()
    user, symbol, order_id = key.user, inst.symbol, record.order_id

    def make(ts: int) -> Command:
        return CancelOrder(ts, user, symbol, order_id=order_id)

    await commit(ex, make)
    done = formats.find_record(ex, user, symbol, order_id)
    return ok(formats.order_json(ex, done or record))


@router.put("/fapi/v1/order")
async def modify_order(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    record = regular(facade, key.user, params, inst.symbol, errors.unknown_order())
    side = params.required("side")
    if side != side_str(record.side):
        raise errors.invalid("side", "The side must be the order's.")
    price = p.price(inst, params)
    quantity = p.quantity(inst, params)
    if price is None:
        raise errors.mandatory("price")
    if quantity is None:
        raise errors.mandatory("quantity")
    user, symbol, order_id = key.user, inst.symbol, record.order_id
    mark = ex.venue.marks.get(symbol)

    def make(ts: int) -> Command:
        return AmendOrder(ts, user, symbol, order_id=order_id, price=price, quantity=quantity)

    await commit(ex, make, None if mark is None else price > mark)
    done = formats.find_record(ex, user, symbol, order_id)
    return ok(formats.order_json(ex, done or record))


@router.get("/fapi/v1/openOrders")
async def open_orders(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = optional_instrument(ex.instruments, params)
    records = formats.open_orders_of(ex, key.user, inst.symbol if inst else None)
    return ok([formats.order_json(ex, r) for r in records
               if formats.is_regular(ex, facade.state, r)])


def history(facade: Facade, user: int, symbol: str) -> list[OrderRecord]:
    """The user's orders on the symbol, open and recently closed, by id."""
    ex = facade.exchange
    closed = [r for r in ex.projections.closed_orders.get(user, ()) if r.symbol == symbol]
    records = closed + formats.open_orders_of(ex, user, symbol)
    return sorted(records, key=lambda r: r.order_id)


@router.get("/fapi/v1/allOrders")
async def all_orders(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    records = [r for r in history(facade, key.user, inst.symbol)
               if formats.is_regular(ex, facade.state, r)]
    from_id = params.integer("orderId", None, low=0)
    if from_id is not None:
        records = [r for r in records if r.order_id >= from_id]
        limit = params.integer("limit", 500, low=1, high=1000)
        assert limit is not None
        return ok([formats.order_json(ex, r) for r in records[:limit]])
    rows = trade_window(records, params, lambda r: r.created, 500, 1000)
    return ok([formats.order_json(ex, r) for r in rows])


@router.delete("/fapi/v1/allOpenOrders")
async def cancel_all(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    await cancel_each(facade, key.user, inst.symbol, conditional=False)
    return ok({"code": 200, "msg": "The operation of cancel all open order is done."})


async def cancel_each(facade: Facade, user: int, symbol: str, *, conditional: bool) -> None:
    """Cancel the open regular (or not yet fired conditional) orders of one symbol, one command
    each (Binance cancels the two kinds through separate endpoints)."""
    ex = facade.exchange
    for r in formats.open_orders_of(ex, user, symbol):
        if formats.is_regular(ex, facade.state, r) == conditional:
            continue
        order_id = r.order_id

        def make(ts: int, order_id: int = order_id) -> Command:
            return CancelOrder(ts, user, symbol, order_id=order_id)

        ex.apply(make)  # an order gone meanwhile is a rejection that changes nothing
    await ex.durable()


# ------------------------------------------------------------------- trades and income


@router.get("/fapi/v1/userTrades")
async def user_trades(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    fills = [f for f in ex.projections.fills.get(key.user, ()) if f.symbol == inst.symbol]
    order_id = params.integer("orderId", None, low=0)
    if order_id is not None:
        fills = [f for f in fills if f.order_id == order_id]
    from_id = params.integer("fromId", None, low=0)
    if from_id is not None:
        limit = params.integer("limit", 500, low=1, high=1000)
        assert limit is not None
        fills = [f for f in fills if f.trade_id >= from_id][:limit]
    else:
        fills = trade_window(fills, params, lambda f: f.ts, 500, 1000)
    return ok([formats.user_trade_json(inst, f) for f in fills])


# Binance's income types; this venue has REALIZED_PNL, COMMISSION and FUNDING_FEE rows.
INCOME_TYPES = frozenset({
    "TRANSFER", "WELCOME_BONUS", "REALIZED_PNL", "FUNDING_FEE", "COMMISSION", "INSURANCE_CLEAR",
    "REFERRAL_KICKBACK", "COMMISSION_REBATE", "API_REBATE", "CONTEST_REWARD",
    "CROSS_COLLATERAL_TRANSFER", "OPTIONS_PREMIUM_FEE", "OPTIONS_SETTLE_PROFIT",
    "INTERNAL_TRANSFER", "AUTO_EXCHANGE", "DELIVERED_SETTELMENT", "COIN_SWAP_DEPOSIT",
    "COIN_SWAP_WITHDRAW", "POSITION_LIMIT_INCREASE_FEE"})


@router.get("/fapi/v1/income")
async def income(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = optional_instrument(ex.instruments, params)
    kind = params.text("incomeType")
    if kind is not None and kind not in INCOME_TYPES:
        raise errors.invalid("incomeType")
    rows = [r for r in formats.incomes(ex, key.user)
            if (inst is None or r["symbol"] == inst.symbol)
            and (kind is None or r["incomeType"] == kind)]
    if params.text("startTime") is None and params.text("endTime") is None:
        since = ex.now_ms() - WEEK_MS  # Binance: the last 7 days when no window is given
        rows = [r for r in rows if r["time"] >= since]
    return ok(trade_window(rows, params, lambda r: r["time"], 100, 1000))


# ------------------------------------------------------------------- account and positions


@router.get("/fapi/v2/account")
@router.get("/fapi/v3/account")
async def account(request: Request) -> Response:
    facade, key, _params = await signed(request)
    ex = facade.exchange
    version = 3 if request.url.path.startswith("/fapi/v3") else 2
    return ok(formats.account_json(ex, key.user, account_view(ex.venue, key.user), version))


@router.get("/fapi/v2/balance")
@router.get("/fapi/v3/balance")
async def balance(request: Request) -> Response:
    facade, key, _params = await signed(request)
    ex = facade.exchange
    return ok(formats.balance_json(ex, key.user, account_view(ex.venue, key.user)))


@router.get("/fapi/v2/positionRisk")
@router.get("/fapi/v3/positionRisk")
async def position_risk(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    version = 3 if request.url.path.startswith("/fapi/v3") else 2
    inst = optional_instrument(ex.instruments, params)
    view = account_view(ex.venue, key.user)
    return ok([formats.position_risk(ex, key.user, v, version) for v in view.positions
               if (inst is None or v.symbol == inst.symbol)
               and (version == 2 or formats.has_activity(ex, key.user, v))])


@router.get("/fapi/v1/adlQuantile")
async def adl_quantile(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = optional_instrument(ex.instruments, params)
    view = account_view(ex.venue, key.user)
    return ok([{"symbol": v.symbol, "adlQuantile": {"LONG": 0, "SHORT": 0, "HEDGE": 0,
                                                     "BOTH": v.adl_quantile or 0}}
               for v in view.positions if v.size and (inst is None or v.symbol == inst.symbol)])


@router.get("/fapi/v1/leverageBracket")
async def leverage_bracket(request: Request) -> Response:
    facade, _key, params = await signed(request)
    ex = facade.exchange
    inst = optional_instrument(ex.instruments, params)
    if inst is not None:
        return ok(formats.brackets_json(inst))
    return ok([formats.brackets_json(i) for i in ex.instruments.values()])


@router.get("/fapi/v1/symbolConfig")
async def symbol_config(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = optional_instrument(ex.instruments, params)
    out = []
    for symbol, pos in ex.venue.accounts[key.user].positions.items():
        if inst is not None and symbol != inst.symbol:
            continue
        cap = ex.instruments[symbol].max_notional_for_leverage(pos.leverage)
        out.append({"symbol": symbol,
                    "marginType": "ISOLATED" if pos.mode is MarginMode.ISOLATED else "CROSSED",
                    "isAutoAddMargin": False, "leverage": pos.leverage,
                    "maxNotionalValue": formats.BIG_NOTIONAL if cap is None
                    else p_usdt(cap)})
    return ok(out)


def p_usdt(atoms: int) -> str:
    return formats.plain(Fraction(atoms, 10**8))


@router.get("/fapi/v1/accountConfig")
async def account_config(request: Request) -> Response:
    await signed(request)
    return ok({"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
               "dualSidePosition": False, "updateTime": 0, "multiAssetsMargin": False,
               "tradeGroupId": -1})


@router.get("/fapi/v1/commissionRate")
async def commission_rate(request: Request) -> Response:
    facade, _key, params = await signed(request)
    inst = instrument(facade.exchange.instruments, params)
    return ok({"symbol": inst.symbol, "makerCommissionRate": format_ppm(inst.maker_fee_ppm),
               "takerCommissionRate": format_ppm(inst.taker_fee_ppm)})


@router.post("/fapi/v1/leverage")
async def set_leverage(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    leverage = params.integer("leverage")
    if leverage is None:
        raise errors.mandatory("leverage")
    if not 1 <= leverage <= inst.tiers[0].max_leverage:
        raise BinanceError(errors.INVALID_LEVERAGE, f"Leverage {leverage} is not valid")
    user, symbol = key.user, inst.symbol

    def make(ts: int) -> Command:
        return SetLeverage(ts, user, symbol, leverage)

    events = await commit(ex, make)
    changed = next(e for e in events if type(e) is LeverageChanged)
    assert isinstance(changed, LeverageChanged)
    cap = changed.max_notional
    return ok({"leverage": leverage, "maxNotionalValue": formats.BIG_NOTIONAL if cap is None
               else p_usdt(cap), "symbol": symbol})


@router.post("/fapi/v1/marginType")
async def set_margin_type(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    mode = params.choice("marginType", MARGIN_TYPES, None)
    user, symbol = key.user, inst.symbol

    def make(ts: int) -> Command:
        return SetMarginMode(ts, user, symbol, mode)

    await commit(ex, make)
    return ok({"code": 200, "msg": "success"})


@router.post("/fapi/v1/positionMargin")
async def position_margin(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    position_side(params)
    kind = params.required_int("type", low=1, high=2)
    text = params.required("amount")
    try:
        amount = parse_usdt(text, "amount")
    except UnitError:
        raise errors.illegal("amount") from None
    if amount <= 0:
        raise BinanceError(errors.AMOUNT_MUST_BE_POSITIVE, "Amount must be positive.")
    delta = amount if kind == 1 else -amount
    user, symbol = key.user, inst.symbol

    def make(ts: int) -> Command:
        return AdjustIsolatedMargin(ts, user, symbol, delta)

    await commit(ex, make)
    return ok({"amount": float(text), "code": 200,
               "msg": "Successfully modify position margin.", "type": kind})


@router.get("/fapi/v1/positionSide/dual")
async def position_mode(request: Request) -> Response:
    await signed(request)
    return ok({"dualSidePosition": False})


@router.post("/fapi/v1/positionSide/dual")
async def set_position_mode(request: Request) -> Response:
    _facade, _key, params = await signed(request, Permission.TRADE)
    params.required("dualSidePosition")
    if params.boolean("dualSidePosition"):
        raise BinanceError(errors.INVALID_POSITION_SIDE,
                           "Invalid position side. This venue trades in one-way mode only: "
                           "hedge mode (dualSidePosition=true) is not available.")
    raise BinanceError(errors.NO_NEED_TO_CHANGE_POSITION_SIDE, "No need to change position side.")


@router.get("/fapi/v1/multiAssetsMargin")
async def multi_assets(request: Request) -> Response:
    await signed(request)
    return ok({"multiAssetsMargin": False})


# ------------------------------------------------------------------- user data stream keys


@router.post("/fapi/v1/listenKey")
async def new_listen_key(request: Request) -> Response:
    facade = facade_of(request)
    ex = facade.exchange
    key = signing.api_key(ex, request)
    signing.limit(ex, key)
    return ok({"listenKey": facade.state.listen_keys.create(key.user, ex.now_ms())})


@router.put("/fapi/v1/listenKey")
async def keepalive_listen_key(request: Request) -> Response:
    facade = facade_of(request)
    ex = facade.exchange
    key = signing.api_key(ex, request)
    signing.limit(ex, key)
    params, _, _ = await signing.read(request)
    keys = facade.state.listen_keys
    name = params.text("listenKey") or keys.by_user.get(key.user)
    if not keys.keepalive(key.user, name, ex.now_ms()):
        raise BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")
    return ok({"listenKey": name})


@router.delete("/fapi/v1/listenKey")
async def close_listen_key(request: Request) -> Response:
    facade = facade_of(request)
    ex = facade.exchange
    key = signing.api_key(ex, request)
    signing.limit(ex, key)
    params, _, _ = await signing.read(request)
    if not facade.state.listen_keys.close(key.user, params.text("listenKey")):
        raise BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")
    return ok({})
