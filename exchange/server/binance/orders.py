"""Orders from Binance's parameters: one venue command each, and the commit that answers.

Binance splits orders in two: regular ones (LIMIT, MARKET) through /fapi/v1/order, conditional
ones (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET) through the
algo order API (/fapi/v1/algoOrder), as Binance has since its December 2025 migration. Both
become one venue ``PlaceOrder``; a conditional order keeps its venue id after it fires, so its
``algoId`` and the ``orderId`` of the order it becomes are the same number.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from exchange.core.commands import Command, PlaceOrder
from exchange.core.events import Event, OrderAccepted, Rejected
from exchange.core.instruments import Instrument
from exchange.core.orders import CONDITIONAL_TYPES, LIMIT_ON_TRIGGER, OrderType, WorkingType
from exchange.core.units import UnitError, parse_units
from exchange.server.binance import errors
from exchange.server.binance import params as p
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.params import Params
from exchange.server.runtime import Exchange
from matching import SelfTradePrevention, Side, TimeInForce

SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
TYPES = {t.value: t for t in OrderType}
TIFS = {"GTC": TimeInForce.GTC, "IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK,
        "GTX": TimeInForce.GTX}
WORKING = {"MARK_PRICE": WorkingType.MARK_PRICE, "CONTRACT_PRICE": WorkingType.CONTRACT_PRICE}
STP = {m.name: m for m in SelfTradePrevention}


async def commit(ex: Exchange, make: Callable[[int], Command],
                 above_mark: bool | None = None) -> list[Event]:
    """Apply one command; answer once it is in the journal. A rejection changes nothing."""
    events = ex.apply(make)
    if events and type(events[0]) is Rejected:
        rejected = events[0]
        assert isinstance(rejected, Rejected)
        raise errors.from_rejection(rejected, above_mark=above_mark)
    await ex.durable()
    return events


def position_side(params: Params) -> None:
    """One-way mode only: ``positionSide`` may be absent or BOTH."""
    value = params.text("positionSide")
    if value is not None and value != "BOTH":
        if value in ("LONG", "SHORT"):
            raise BinanceError(errors.POSITION_SIDE_NOT_MATCH,
                               "Order's position side does not match user's setting.")
        raise BinanceError(errors.INVALID_POSITION_SIDE, "Invalid position side.")


def callback_rate(params: Params) -> int | None:
    """``callbackRate`` in percent (0.1 to 10, Binance's range) as ppm."""
    text = params.text("callbackRate")
    if text is None:
        return None
    try:
        return parse_units(text, Decimal("0.0001"), "callbackRate")
    except UnitError:
        raise errors.invalid("callbackRate") from None


class OrderRequest:
    """A new order's parameters, checked the Binance way."""

    def __init__(self, inst: Instrument, params: Params, *, algo: bool) -> None:
        self.inst = inst
        self.side = params.choice("side", SIDES, None,
                                  BinanceError(errors.INVALID_SIDE, "Invalid side."))
        position_side(params)
        self.type = params.choice("type", TYPES, None,
                                  BinanceError(errors.INVALID_ORDER_TYPE, "Invalid orderType."))
        conditional = self.type in CONDITIONAL_TYPES
        if algo:
            algo_type = params.required("algoType")
            if algo_type != "CONDITIONAL":
                raise errors.invalid("algoType")
            if not conditional:
                raise BinanceError(errors.INVALID_ORDER_TYPE, "Invalid orderType.")
        elif conditional:
            raise BinanceError(errors.USE_ALGO_ENDPOINT,
                               "Order type not supported for this endpoint. Please use the Algo "
                               "Order API endpoints instead.")
        takes_price = self.type is OrderType.LIMIT or self.type in LIMIT_ON_TRIGGER
        self.tif = TimeInForce.GTC
        if takes_price:
            self.tif = params.choice("timeInForce", TIFS, TimeInForce.GTC,
                                     BinanceError(errors.INVALID_TIF, "Invalid timeInForce."))
        self.close_position = params.boolean("closePosition")
        self.reduce_only = params.boolean("reduceOnly")
        if self.close_position:
            if self.type not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
                raise errors.not_required("closePosition")
            if params.text("quantity") is not None:
                raise BinanceError(-4137, "Quantity must be zero with closePosition equals true.")
            if self.reduce_only:
                raise errors.not_required("reduceOnly")
            self.quantity = 0
        else:
            lots = p.quantity(inst, params)
            if lots is None:
                raise errors.mandatory("quantity")
            self.quantity = lots
        self.price = p.price(inst, params)
        if takes_price and self.price is None:
            raise errors.mandatory("price")
        if not takes_price and self.price is not None:
            raise errors.not_required("price")
        self.stop: int | None = None
        self.callback: int | None = None
        self.activation: int | None = None
        if self.type is OrderType.TRAILING_STOP_MARKET:
            self.callback = callback_rate(params)
            if self.callback is None:
                raise errors.mandatory("callbackRate")
            self.activation = p.price(inst, params, "activatePrice" if algo
                                      else "activationPrice")
        elif conditional:
            self.stop = p.price(inst, params, "triggerPrice" if algo else "stopPrice")
            if self.stop is None:
                raise errors.mandatory("triggerPrice" if algo else "stopPrice")
        self.working = params.choice("workingType", WORKING, WorkingType.CONTRACT_PRICE)
        self.stp = params.choice("selfTradePreventionMode", STP,
                                 SelfTradePrevention.EXPIRE_TAKER,
                                 BinanceError(errors.INVALID_STP_MODE,
                                              "Invalid self trade prevention mode."))
        match = params.text("priceMatch")
        if match is not None and match != "NONE":
            raise errors.invalid("priceMatch", "Price match is not supported here.")
        self.client_id = params.text("clientAlgoId" if algo else "newClientOrderId")
        response_type = params.text("newOrderRespType")
        if response_type is not None and response_type not in ("ACK", "RESULT"):
            raise errors.invalid("newOrderRespType")

    def above_mark(self, ex: Exchange) -> bool | None:
        mark = ex.venue.marks.get(self.inst.symbol)
        if self.price is None or mark is None:
            return None
        return self.price > mark

    def command(self, user: int) -> Callable[[int], Command]:
        def make(ts: int) -> Command:
            return PlaceOrder(ts, user, self.inst.symbol, self.side, self.type, self.quantity,
                              self.price, self.tif, self.reduce_only, self.close_position,
                              self.stop, self.working, self.callback, self.activation,
                              self.client_id, self.stp)

        return make


def order_ref(params: Params, id_name: str, client_name: str) -> tuple[int | None, str | None]:
    """An order named by id or client id (one of them is required)."""
    order_id = params.integer(id_name, None, low=0)
    client_id = params.text(client_name)
    if order_id is None and client_id is None:
        raise BinanceError(errors.MANDATORY_PARAM,
                           f"Param '{id_name}' or '{client_name}' must be sent, but both were "
                           "empty/null!")
    return order_id, client_id


def accepted_id(events: list[Event]) -> int:
    for e in events:
        if type(e) is OrderAccepted:
            assert isinstance(e, OrderAccepted)
            return e.order_id
    raise BinanceError(errors.UNKNOWN, errors.MSG_UNKNOWN, 500)

