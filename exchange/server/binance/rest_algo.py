"""Binance's algo order API (conditional orders), as current ccxt uses it:
POST/GET/DELETE /fapi/v1/algoOrder, GET /fapi/v1/openAlgoOrders, DELETE /fapi/v1/algoOpenOrders,
GET /fapi/v1/allAlgoOrders. An algo order is a venue conditional order; ``algoId`` is its id."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from exchange.core.commands import CancelOrder, Command
from exchange.server.auth import Permission
from exchange.server.binance import errors, formats
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.orders import OrderRequest, accepted_id, commit, order_ref
from exchange.server.binance.params import Params, instrument, optional_instrument
from exchange.server.binance.rest_private import cancel_each, history, signed, trade_window
from exchange.server.binance.routing import BinanceRoute, Facade, ok
from exchange.server.projections import OrderRecord

router = APIRouter(route_class=BinanceRoute, include_in_schema=False)


def unknown_algo() -> BinanceError:
    return errors.unknown_order()


def find_algo(facade: Facade, user: int, params: Params) -> OrderRecord:
    """The conditional order named by ``algoId`` or ``clientAlgoId`` (any symbol)."""
    ex = facade.exchange
    algo_id, client_id = order_ref(params, "algoId", "clientAlgoId")
    for symbol in ex.instruments:
        record = formats.find_record(ex, user, symbol, algo_id, client_id)
        if record is not None and formats.is_conditional(record):
            return record
    raise unknown_algo()


@router.post("/fapi/v1/algoOrder")
async def new_algo_order(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    order = OrderRequest(inst, params, algo=True)
    events = await commit(ex, order.command(key.user), order.above_mark(ex))
    record = formats.find_record(ex, key.user, inst.symbol, accepted_id(events))
    if record is None:
        raise BinanceError(errors.UNKNOWN, errors.MSG_UNKNOWN, 500)
    return ok(formats.algo_json(ex, facade.state, record))


@router.get("/fapi/v1/algoOrder")
async def query_algo_order(request: Request) -> Response:
    facade, key, params = await signed(request)
    return ok(formats.algo_json(facade.exchange, facade.state,
                                find_algo(facade, key.user, params)))


@router.delete("/fapi/v1/algoOrder")
async def cancel_algo_order(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    ex = facade.exchange
    record = find_algo(facade, key.user, params)
    if record.order_id not in ex.projections.open_orders or formats.has_fired(
            ex, facade.state, record):
        raise unknown_algo()  # done, or fired: it is a regular order now
    user, symbol, order_id = key.user, record.symbol, record.order_id

    def make(ts: int) -> Command:
        return CancelOrder(ts, user, symbol, order_id=order_id)

    await commit(ex, make)
    return ok({"algoId": order_id, "clientAlgoId": record.client_order_id, "code": "200",
               "msg": "success"})


@router.get("/fapi/v1/openAlgoOrders")
async def open_algo_orders(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = optional_instrument(ex.instruments, params)
    records = formats.open_orders_of(ex, key.user, inst.symbol if inst else None)
    return ok([formats.algo_json(ex, facade.state, r) for r in records
               if not formats.has_fired(ex, facade.state, r)])


@router.delete("/fapi/v1/algoOpenOrders")
async def cancel_algo_open_orders(request: Request) -> Response:
    facade, key, params = await signed(request, Permission.TRADE)
    inst = instrument(facade.exchange.instruments, params)
    await cancel_each(facade, key.user, inst.symbol, conditional=True)
    return ok({"code": 200, "msg": "The operation of cancel all open order is done."})


@router.get("/fapi/v1/allAlgoOrders")
async def all_algo_orders(request: Request) -> Response:
    facade, key, params = await signed(request)
    ex = facade.exchange
    inst = instrument(ex.instruments, params)
    records = [r for r in history(facade, key.user, inst.symbol) if formats.is_conditional(r)]
    from_id = params.integer("algoId", None, low=0)
    if from_id is not None:
        records = [r for r in records if r.order_id >= from_id]
    rows = trade_window(records, params, lambda r: r.created, 500, 1000)
    return ok([formats.algo_json(ex, facade.state, r) for r in rows])
