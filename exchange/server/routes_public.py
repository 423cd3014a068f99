"""Public REST endpoints: time, instruments, market data, prices and funding, the fund."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Query, Request

from exchange.core.funding import e8_to_str, funding_rate_e8
from exchange.core.instruments import Instrument
from exchange.core.units import format_ppm, format_usdt
from exchange.server.errors import ApiCode, ApiError, documented_errors
from exchange.server.projections import KLINE_INTERVALS
from exchange.server.runtime import Exchange
from exchange.server.wire import event_to_wire, side_str

# Every route is ``async def``: it then runs on the event loop's thread, the one sequencer,
# never in a worker thread beside it.
router = APIRouter(prefix="/api/v1", tags=["public"],
                   responses=documented_errors(400, 404, 429))

SymbolQuery = Query(..., description="e.g. BTCUSDT", max_length=20)


def exchange_of(request: Request) -> Exchange:
    ex: Exchange = request.app.state.exchange
    return ex


def price_or_none(inst: Instrument, ticks: int | None) -> str | None:
    return None if ticks is None else inst.price_str(ticks)


def instrument(ex: Exchange, symbol: str) -> Any:
    inst = ex.instruments.get(symbol)
    if inst is None:
        raise ApiError(400, "UNKNOWN_SYMBOL",
                       f"unknown symbol {symbol!r}; listed: {', '.join(ex.instruments)}")
    return inst


@router.get("/time")
async def server_time(request: Request) -> dict[str, int]:
    return {"server_time": exchange_of(request).now_ms()}


@router.get("/instruments")
async def instruments(request: Request) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    out = []
    for symbol, inst in ex.instruments.items():
        out.append({
            "symbol": symbol, "base_asset": inst.base_asset, "quote_asset": inst.quote_asset,
            "margin_asset": inst.quote_asset, "contract_type": "PERPETUAL",
            "tick_size": str(inst.tick_size), "step_size": str(inst.step_size),
            "min_qty": inst.qty_str(inst.min_qty), "max_qty": inst.qty_str(inst.max_qty),
            "market_max_qty": inst.qty_str(inst.market_max_qty),
            "min_notional": format_usdt(inst.min_notional),
            "price_band": format_ppm(inst.price_band_ppm),
            "max_open_orders": inst.max_open_orders,
            "maker_fee": format_ppm(inst.maker_fee_ppm),
            "taker_fee": format_ppm(inst.taker_fee_ppm),
            "funding_interval_ms": inst.funding_interval_ms,
            "tiers": [{"tier": t.tier, "floor": format_usdt(t.floor),
                       "cap": None if t.cap is None else format_usdt(t.cap),
                       "max_leverage": t.max_leverage, "mmr": format_ppm(t.mmr_ppm),
                       "maint_amount": format_usdt(t.maint_amount)} for t in inst.tiers],
        })
    return out


@router.get("/depth")
async def depth(request: Request, symbol: str = SymbolQuery,
          limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    ex = exchange_of(request)
    inst = instrument(ex, symbol)
    snap = ex.venue.books[symbol].depth(limit)
    return {"symbol": symbol, "seq": snap.seq,
            "bids": [[inst.price_str(p), inst.qty_str(q)] for p, q in snap.bids],
            "asks": [[inst.price_str(p), inst.qty_str(q)] for p, q in snap.asks]}


@router.get("/trades")
async def trades(request: Request, symbol: str = SymbolQuery,
           limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    inst = instrument(ex, symbol)
    recent = list(ex.projections.trades[symbol])[-limit:]
    return [{"id": t.trade_id, "price": inst.price_str(t.price), "qty": inst.qty_str(t.quantity),
             "time": t.ts, "aggressor": side_str(t.aggressor)} for t in recent]


@router.get("/klines")
async def klines(request: Request, symbol: str = SymbolQuery,
           interval: str = Query("1m", description=", ".join(KLINE_INTERVALS)),
           limit: int = Query(500, ge=1, le=1500)) -> list[list[Any]]:
    ex = exchange_of(request)
    inst = instrument(ex, symbol)
    if interval not in KLINE_INTERVALS:
        raise ApiError(400, ApiCode.INVALID_REQUEST,
                       f"interval must be one of {', '.join(KLINE_INTERVALS)}")
    bars = list(ex.projections.klines[symbol, interval])[-limit:]
    span = KLINE_INTERVALS[interval]
    return [[b.open_time, inst.price_str(b.open), inst.price_str(b.high), inst.price_str(b.low),
             inst.price_str(b.close), inst.qty_str(b.volume),
             format_usdt(b.quote_volume * inst.atoms_per_tick_lot), b.open_time + span - 1,
             b.trades] for b in bars]


@router.get("/ticker")
async def ticker(request: Request, symbol: str = SymbolQuery) -> dict[str, Any]:
    ex = exchange_of(request)
    inst = instrument(ex, symbol)
    t = ex.projections.ticker(symbol, ex.now_ms())
    book = ex.venue.books[symbol]
    bid, ask = book.best_bid(), book.best_ask()

    p = partial(price_or_none, inst)
    return {"symbol": symbol, "open": p(t["open"]), "high": p(t["high"]), "low": p(t["low"]),
            "last": p(t["last"]), "volume": inst.qty_str(t["volume"]),
            "quote_volume": format_usdt(t["quote_volume"] * inst.atoms_per_tick_lot),
            "trades": t["trades"], "bid": p(bid), "ask": p(ask),
            "mark": p(ex.venue.marks.get(symbol))}


@router.get("/prices")
async def prices(request: Request, symbol: str = SymbolQuery) -> dict[str, Any]:
    """Mark, index and last price; funding: the current rate, the predicted next rate, when."""
    ex = exchange_of(request)
    inst = instrument(ex, symbol)
    state = ex.venue.markets[symbol]
    fs = ex.venue.funding[symbol]
    predicted = funding_rate_e8(fs.samples, inst.interest_ppm * 100, inst.funding_cap_ppm * 100)

    p = partial(price_or_none, inst)
    return {"symbol": symbol, "mark": p(state.mark), "index": p(state.index),
            "last": p(state.last), "funding_rate": e8_to_str(fs.rate_e8),
            "predicted_funding_rate": e8_to_str(predicted),
            "next_funding_time": fs.next_time, "interest_rate": format_ppm(inst.interest_ppm)}


@router.get("/funding/history")
async def funding_history(request: Request, symbol: str = SymbolQuery,
                    limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    instrument(ex, symbol)
    rates = list(ex.projections.funding_rates[symbol])[-limit:]
    return [event_to_wire(e, ex.instruments) for e in rates]


@router.get("/insurance")
async def insurance(request: Request,
                    limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    ex = exchange_of(request)
    history = list(ex.projections.insurance)[-limit:]
    return {"balance": format_usdt(ex.venue.insurance_fund),
            "history": [event_to_wire(e, ex.instruments) for e in history]}


@router.get("/liquidations")
async def liquidations(request: Request,
                       limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
    ex = exchange_of(request)
    return [event_to_wire(e, ex.instruments) for e in list(ex.projections.liquidations)[-limit:]]
