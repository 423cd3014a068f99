"""Binance USDⓈ-M public market data under /fapi: exchange info, book, trades, klines, prices,
funding and tickers; and the two wallet lookups ccxt makes while loading markets (/sapi)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request, Response

from exchange.core.funding import e8_to_str, funding_rate_e8
from exchange.core.instruments import Instrument
from exchange.core.units import format_ppm, format_usdt
from exchange.core.venue import MAX_UNITS
from exchange.server.binance import errors, formats, klines, signing
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.formats import plain
from exchange.server.binance.params import Params, instrument, optional_instrument
from exchange.server.binance.routing import BinanceRoute, facade_of, ok
from exchange.server.projections import DAY_MS
from exchange.server.runtime import Exchange

router = APIRouter(route_class=BinanceRoute, include_in_schema=False)

ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
               "TRAILING_STOP_MARKET"]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX"]
PERPETUAL_DELIVERY = 4133404800000  # Binance's delivery date of perpetuals (2100-12-25)
ONBOARD = 1569398400000


async def public(request: Request) -> tuple[Exchange, Params]:
    params, _, _ = await signing.read(request)
    return facade_of(request).exchange, params


def usdt(atoms: int) -> str:
    return plain(Fraction(atoms, 10**8))


# ------------------------------------------------------------------- general


@router.get("/fapi/v1/ping")
async def ping(request: Request) -> Response:
    return ok({})


@router.get("/fapi/v1/time")
async def server_time(request: Request) -> Response:
    return ok({"serverTime": facade_of(request).exchange.now_ms()})


def symbol_info(inst: Instrument) -> dict[str, Any]:
    tier = inst.tiers[0]
    band = Fraction(inst.price_band_ppm, 1_000_000)
    return {
        "symbol": inst.symbol,
        "pair": inst.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY,
        "onboardDate": ONBOARD,
        "status": "TRADING",
        "maintMarginPercent": formats.fraction_str(Fraction(tier.mmr_ppm, 10_000), 4),
        "requiredMarginPercent": formats.fraction_str(Fraction(100, tier.max_leverage), 4),
        "baseAsset": inst.base_asset,
        "quoteAsset": inst.quote_asset,
        "marginAsset": inst.quote_asset,
        "pricePrecision": formats.decimals_of(inst.tick_size),
        "quantityPrecision": formats.decimals_of(inst.step_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": formats.fraction_str(Fraction(inst.market_band_ppm, 1_000_000), 4),
        "liquidationFee": format_ppm(inst.liquidation_fee_ppm),
        "marketTakeBound": format_ppm(inst.market_band_ppm),
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": str(inst.tick_size),
             "maxPrice": inst.price_str(MAX_UNITS), "tickSize": str(inst.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": inst.qty_str(inst.min_qty),
             "maxQty": inst.qty_str(inst.max_qty), "stepSize": str(inst.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": inst.qty_str(inst.min_qty),
             "maxQty": inst.qty_str(inst.market_max_qty), "stepSize": str(inst.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": inst.max_open_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": inst.max_conditional_orders},
            {"filterType": "MIN_NOTIONAL", "notional": usdt(inst.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": formats.fraction_str(1 + band, 4),
             "multiplierDown": formats.fraction_str(1 - band, 4), "multiplierDecimal": "4"},
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": TIME_IN_FORCE,
    }


@router.get("/fapi/v1/exchangeInfo")
async def exchange_info(request: Request) -> Response:
    ex = facade_of(request).exchange
    per_minute = ex.config.rate_per_key * 60
    return ok({
        "timezone": "UTC",
        "serverTime": ex.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": per_minute},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
             "limit": per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
             "limit": ex.config.rate_per_key * 10},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}],
        "symbols": [symbol_info(inst) for inst in ex.instruments.values()],
    })


# ------------------------------------------------------------------- book and trades


@router.get("/fapi/v1/depth")
async def depth(request: Request) -> Response:
    ex, params = await public(request)
    inst = instrument(ex.instruments, params)
    limit = params.integer("limit", 500, low=1, high=1000)
    assert limit is not None
    snap = ex.venue.books[inst.symbol].depth(limit)
    return ok({"lastUpdateId": snap.seq, "E": ex.now_ms(), "T": ex.last_ts,
               "bids": [[inst.price_str(p), inst.qty_str(q)] for p, q in snap.bids],
               "asks": [[inst.price_str(p), inst.qty_str(q)] for p, q in snap.asks]})


def recent(ex: Exchange, symbol: str) -> list[Any]:
    return list(ex.projections.trades[symbol])


@router.get("/fapi/v1/trades")
async def trades(request: Request) -> Response:
    ex, params = await public(request)
    inst = instrument(ex.instruments, params)
    limit = params.integer("limit", 500, low=1, high=1000)
    assert limit is not None
    return ok([formats.trade_json(inst, t) for t in recent(ex, inst.symbol)[-limit:]])


@router.get("/fapi/v1/historicalTrades")
async def historical_trades(request: Request) -> Response:
    ex, params = await public(request)
    signing.api_key(ex, request)  # Binance asks for a key (no signature) here
    inst = instrument(ex.instruments, params)
    limit = params.integer("limit", 100, low=1, high=500)
    from_id = params.integer("fromId", None, low=0)
    assert limit is not None
    rows = recent(ex, inst.symbol)
    if from_id is not None:
        rows = [t for t in rows if t.trade_id >= from_id][:limit]
    else:
        rows = rows[-limit:]
    return ok([formats.trade_json(inst, t) for t in rows])


@router.get("/fapi/v1/aggTrades")
async def agg_trades(request: Request) -> Response:
    ex, params = await public(request)
    inst = instrument(ex.instruments, params)
    limit = params.integer("limit", 500, low=1, high=1000)
    from_id = params.integer("fromId", None, low=0)
    start = params.integer("startTime", None, low=0)
    end = params.integer("endTime", None, low=0)
    assert limit is not None
    groups = formats.aggregate(recent(ex, inst.symbol))
    if from_id is not None:
        groups = [g for g in groups if g[0].trade_id >= from_id][:limit]
    elif start is not None or end is not None:
        groups = [g for g in groups if (start is None or g[0].ts >= start)
                  and (end is None or g[0].ts <= end)][:limit]
    else:
        groups = groups[-limit:]
    return ok([formats.agg_trade_json(inst, g) for g in groups])


# ------------------------------------------------------------------- klines


def kline_window(params: Params) -> tuple[str, int | None, int | None, int]:
    interval = params.required("interval")
    if interval not in klines.SPANS:
        raise BinanceError(errors.BAD_INTERVAL, "Invalid interval.")
    start = params.integer("startTime", None, low=0)
    end = params.integer("endTime", None, low=0)
    limit = params.integer("limit", 500, low=1, high=1500)
    assert limit is not None
    return interval, start, end, limit


@router.get("/fapi/v1/klines")
async def trade_klines(request: Request) -> Response:
    ex, params = await public(request)
    inst = instrument(ex.instruments, params)
    interval, start, end, limit = kline_window(params)
    bars = ex.projections.klines[inst.symbol, klines.BASE[interval]]
    rows = klines.select(klines.candles(interval, bars), start, end, limit)
    return ok([klines.row(c, inst.price_str, inst.qty_str,
                          lambda q: format_usdt(q * inst.atoms_per_tick_lot)) for c in rows])


async def price_klines(request: Request, index: bool, name: str) -> Response:
    facade = facade_of(request)
    ex = facade.exchange
    params, _, _ = await signing.read(request)
    inst = instrument(ex.instruments, params, name)
    interval, start, end, limit = kline_window(params)
    series = (facade.state.indexes if index else facade.state.marks)[inst.symbol]
    rows = klines.select(klines.candles(interval, series.bars[klines.BASE[interval]]), start,
                         end, limit)
    return ok([klines.row(c, inst.price_str, lambda q: "0", lambda q: "0") for c in rows])


@router.get("/fapi/v1/markPriceKlines")
async def mark_klines(request: Request) -> Response:
    return await price_klines(request, False, "symbol")


@router.get("/fapi/v1/indexPriceKlines")
async def index_klines(request: Request) -> Response:
    return await price_klines(request, True, "pair")


# ------------------------------------------------------------------- prices and funding


def predicted_rate(ex: Exchange, inst: Instrument) -> int:
    fs = ex.venue.funding[inst.symbol]
    return funding_rate_e8(fs.samples, inst.interest_ppm * 100, inst.funding_cap_ppm * 100)


def premium_index(ex: Exchange, inst: Instrument) -> dict[str, Any]:
    state = ex.venue.markets[inst.symbol]
    fs = ex.venue.funding[inst.symbol]
    return {"symbol": inst.symbol, "markPrice": formats.price(inst, state.mark),
            "indexPrice": formats.price(inst, state.index),
            "estimatedSettlePrice": formats.price(inst, state.index),
            "lastFundingRate": e8_to_str(predicted_rate(ex, inst)),
            "interestRate": e8_to_str(inst.interest_ppm * 100),
            "nextFundingTime": fs.next_time or 0, "time": ex.now_ms()}


@router.get("/fapi/v1/premiumIndex")
async def premium(request: Request) -> Response:
    ex, params = await public(request)
    inst = optional_instrument(ex.instruments, params)
    if inst is not None:
        return ok(premium_index(ex, inst))
    return ok([premium_index(ex, i) for i in ex.instruments.values()])


@router.get("/fapi/v1/fundingRate")
async def funding_rates(request: Request) -> Response:
    ex, params = await public(request)
    inst = optional_instrument(ex.instruments, params)
    start = params.integer("startTime", None, low=0)
    end = params.integer("endTime", None, low=0)
    limit = params.integer("limit", 100, low=1, high=1000)
    assert limit is not None
    chosen = [inst] if inst is not None else list(ex.instruments.values())
    rows = sorted((e for i in chosen for e in ex.projections.funding_rates[i.symbol]
                   if (start is None or e.funding_time >= start)
                   and (end is None or e.funding_time <= end)),
                  key=lambda e: (e.funding_time, e.symbol))
    rows = rows[:limit] if start is not None else rows[-limit:]
    return ok([{"symbol": e.symbol, "fundingRate": e8_to_str(e.rate_e8),
                "fundingTime": e.funding_time,
                "markPrice": formats.price(ex.instruments[e.symbol], e.mark)} for e in rows])


@router.get("/fapi/v1/fundingInfo")
async def funding_info(request: Request) -> Response:
    ex = facade_of(request).exchange
    return ok([{"symbol": i.symbol,
                "adjustedFundingRateCap": e8_to_str(i.funding_cap_ppm * 100),
                "adjustedFundingRateFloor": e8_to_str(-i.funding_cap_ppm * 100),
                "fundingIntervalHours": max(1, i.funding_interval_ms // 3_600_000),
                "disclaimer": False} for i in ex.instruments.values()])


@router.get("/fapi/v1/openInterest")
async def open_interest(request: Request) -> Response:
    ex, params = await public(request)
    inst = instrument(ex.instruments, params)
    longs = sum(max(0, ex.venue.accounts[a].positions[inst.symbol].size)
                for a in ex.venue.holders[inst.symbol] if a in ex.venue.accounts)
    return ok({"openInterest": inst.qty_str(longs), "symbol": inst.symbol,
               "time": ex.now_ms()})


# ------------------------------------------------------------------- tickers


def ticker_24hr(ex: Exchange, inst: Instrument) -> dict[str, Any]:
    now = ex.now_ms()
    t = ex.projections.ticker(inst.symbol, now)
    tape = ex.projections.trades[inst.symbol]
    last_trade = tape[-1] if tape else None
    last = t["last"] if t["last"] is not None else ex.venue.markets[inst.symbol].last
    open_ = t["open"] if t["open"] is not None else last
    high = t["high"] if t["high"] is not None else last
    low = t["low"] if t["low"] is not None else last
    change = (last or 0) - (open_ or 0)
    change_pct = Fraction(change * 100, open_) if open_ else Fraction(0)
    volume, quote = t["volume"], t["quote_volume"]
    weighted = Fraction(quote, volume) if volume else Fraction(last or 0)
    in_day = [x for x in tape if x.ts > now - DAY_MS]
    return {
        "symbol": inst.symbol,
        "priceChange": inst.price_str(change),
        "priceChangePercent": formats.fraction_str(change_pct, 3),
        "weightedAvgPrice": formats.average_price(inst, weighted),
        "lastPrice": formats.price(inst, last),
        "lastQty": inst.qty_str(last_trade.quantity if last_trade else 0),
        "openPrice": formats.price(inst, open_),
        "highPrice": formats.price(inst, high),
        "lowPrice": formats.price(inst, low),
        "volume": inst.qty_str(volume),
        "quoteVolume": formats.notional(inst, quote),
        "openTime": now - DAY_MS,
        "closeTime": now,
        "firstId": in_day[0].trade_id if in_day else -1,
        "lastId": in_day[-1].trade_id if in_day else -1,
        "count": t["trades"],
    }


@router.get("/fapi/v1/ticker/24hr")
async def ticker(request: Request) -> Response:
    ex, params = await public(request)
    inst = optional_instrument(ex.instruments, params)
    if inst is not None:
        return ok(ticker_24hr(ex, inst))
    return ok([ticker_24hr(ex, i) for i in ex.instruments.values()])


def last_price(ex: Exchange, inst: Instrument) -> dict[str, Any]:
    state = ex.venue.markets[inst.symbol]
    value = state.last if state.last is not None else state.mark
    return {"symbol": inst.symbol, "price": formats.price(inst, value), "time": ex.now_ms()}


@router.get("/fapi/v1/ticker/price")
@router.get("/fapi/v2/ticker/price")
async def ticker_price(request: Request) -> Response:
    ex, params = await public(request)
    inst = optional_instrument(ex.instruments, params)
    if inst is not None:
        return ok(last_price(ex, inst))
    return ok([last_price(ex, i) for i in ex.instruments.values()])


def book_ticker(ex: Exchange, inst: Instrument) -> dict[str, Any]:
    snap = ex.venue.books[inst.symbol].depth(1)
    bid = snap.bids[0] if snap.bids else (0, 0)
    ask = snap.asks[0] if snap.asks else (0, 0)
    return {"symbol": inst.symbol, "bidPrice": inst.price_str(bid[0]),
            "bidQty": inst.qty_str(bid[1]), "askPrice": inst.price_str(ask[0]),
            "askQty": inst.qty_str(ask[1]), "time": ex.now_ms(), "lastUpdateId": snap.seq}


@router.get("/fapi/v1/ticker/bookTicker")
async def book_tickers(request: Request) -> Response:
    ex, params = await public(request)
    inst = optional_instrument(ex.instruments, params)
    if inst is not None:
        return ok(book_ticker(ex, inst))
    return ok([book_ticker(ex, i) for i in ex.instruments.values()])


# ------------------------------------------------------------------- wallet (for ccxt)


@router.get("/sapi/v1/capital/config/getall")
async def coins(request: Request) -> Response:
    """The coins, for ccxt's load_markets (it asks when it has keys): the margin asset and the
    listed bases, none of them movable in or out of this venue by the Binance API."""
    ex = facade_of(request).exchange
    await signing.signed(ex, request)
    assets = {"USDT"} | {i.base_asset for i in ex.instruments.values()}
    return ok([{"coin": a, "name": a, "depositAllEnable": False, "withdrawAllEnable": False,
                "free": "0", "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0",
                "ipoable": "0", "storage": "0", "isLegalMoney": False, "trading": True,
                "networkList": []} for a in sorted(assets)])


@router.get("/sapi/v1/margin/allPairs")
@router.get("/sapi/v1/margin/isolated/allPairs")
async def margin_pairs(request: Request) -> Response:
    """No spot margin here: no pairs."""
    ex = facade_of(request).exchange
    await signing.signed(ex, request)
    return ok([])
