"""The JSON Binance's USDⓈ-M API answers with, built from the venue, its projections and the
facade's own state. Field names, order and types as Binance's: decimal strings for prices,
quantities and money, integers for ids and times.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from exchange.core.events import FundingPaid, OrderFilled, Traded
from exchange.core.instruments import Instrument
from exchange.core.orders import CONDITIONAL_TYPES, LIMIT_ON_TRIGGER, MarginMode, Order
from exchange.core.units import format_units, format_usdt
from exchange.core.views import AccountView, PositionView
from exchange.server.binance.state import FacadeState
from exchange.server.projections import OrderRecord
from exchange.server.runtime import Exchange
from exchange.server.wire import side_str

ASSET = "USDT"
# Extra decimals of averages (entry and fill prices) beyond the tick's, as Binance shows them.
AVERAGE_DECIMALS = 3
BIG_NOTIONAL = "9223372036854775807"  # Binance's figure for "no cap"


def decimals_of(unit: Decimal) -> int:
    exponent = unit.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def fraction_str(value: Fraction, decimals: int) -> str:
    """An exact value rounded (half to even) to ``decimals`` places."""
    scaled = round(value * 10**decimals)
    return format_units(int(scaled), Decimal(1).scaleb(-decimals))


def plain(value: Fraction) -> str:
    """A short exact-or-rounded decimal without trailing zeros (rates, percents)."""
    text = fraction_str(value, 8)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def average_price(inst: Instrument, ticks: Fraction | None) -> str:
    """A price in ticks (exact, possibly between ticks) with a few more decimals than the tick."""
    if ticks is None:
        return fraction_str(Fraction(0), decimals_of(inst.tick_size) + AVERAGE_DECIMALS)
    return fraction_str(ticks * Fraction(inst.tick_size),
                        decimals_of(inst.tick_size) + AVERAGE_DECIMALS)


def price(inst: Instrument, ticks: int | None) -> str:
    return inst.price_str(ticks or 0)


def notional(inst: Instrument, ticks_lots: int) -> str:
    """Price (ticks) x quantity (lots) as USDT."""
    return format_usdt(ticks_lots * inst.atoms_per_tick_lot)


def percent(ppm: int | None) -> str:
    """A callback rate in ppm (1% = 10,000) as Binance's percent string ("1" for 1%)."""
    return "0" if ppm is None else plain(Fraction(ppm, 10_000))


# ------------------------------------------------------------------- orders


def find_record(ex: Exchange, user: int, symbol: str, order_id: int | None = None,
                client_id: str | None = None) -> OrderRecord | None:
    """An order of the user on the symbol, open or among the recent closed ones."""
    record = None
    if order_id is not None:
        record = ex.projections.open_orders.get(order_id)
    elif client_id is not None:
        acct = ex.venue.accounts.get(user)
        oid = acct.client_ids.get(client_id) if acct is not None else None
        record = ex.projections.open_orders.get(oid) if oid is not None else None
    if record is not None and record.account == user and record.symbol == symbol and (
            client_id is None or record.client_order_id == client_id):
        return record
    for r in reversed(ex.projections.closed_orders.get(user, ())):
        if r.symbol == symbol and (r.order_id == order_id if order_id is not None
                                   else r.client_order_id == client_id):
            return r
    return None


def open_orders_of(ex: Exchange, user: int, symbol: str | None) -> list[OrderRecord]:
    """The user's open orders (resting and conditional), oldest first."""
    acct = ex.venue.accounts.get(user)
    if acct is None:
        return []
    ids: list[int] = []
    for sym, pos in acct.positions.items():
        if symbol is None or sym == symbol:
            ids.extend(pos.orders)
    records = (ex.projections.open_orders.get(i) for i in sorted(ids))
    return [r for r in records if r is not None]


def is_conditional(r: OrderRecord) -> bool:
    return r.order_type in CONDITIONAL_TYPES


def has_fired(ex: Exchange, state: FacadeState, r: OrderRecord) -> bool:
    """Whether a conditional order has fired (then Binance shows it as a regular order)."""
    if not is_conditional(r):
        return True
    order = ex.venue.orders.get(r.order_id)
    if order is not None:
        return order.triggered
    return r.filled > 0 or r.status == "TRIGGERED" or state.fired_at(r.order_id) is not None


def is_regular(ex: Exchange, state: FacadeState, r: OrderRecord) -> bool:
    """Shown by the regular order endpoints: every order but a conditional one not yet fired."""
    return has_fired(ex, state, r)


def order_status(r: OrderRecord) -> str:
    if r.status == "TRIGGERED":
        return "PARTIALLY_FILLED" if r.filled else "NEW"
    return r.status


def _order_extras(order: Order | None) -> tuple[str, int | None, int | None]:
    if order is None:
        return "EXPIRE_TAKER", None, None
    return order.stp.name, order.callback_ppm, order.activation_price


def order_json(ex: Exchange, r: OrderRecord) -> dict[str, Any]:
    """A regular order as GET /fapi/v1/order shows it."""
    inst = ex.instruments[r.symbol]
    stp, callback, activation = _order_extras(ex.venue.orders.get(r.order_id))
    avg = Fraction(r.avg_price_num, r.filled) if r.filled else None
    otype = str(r.order_type)
    out: dict[str, Any] = {
        "orderId": r.order_id,
        "symbol": r.symbol,
        "status": order_status(r),
        "clientOrderId": r.client_order_id,
        "price": price(inst, r.price),
        "avgPrice": average_price(inst, avg),
        "origQty": inst.qty_str(r.quantity),
        "executedQty": inst.qty_str(r.filled),
        "cumQty": inst.qty_str(r.filled),
        "cumQuote": notional(inst, r.avg_price_num),
        "timeInForce": r.tif.name,
        "type": otype,
        "reduceOnly": r.reduce_only,
        "closePosition": r.close_position,
        "side": side_str(r.side),
        "positionSide": "BOTH",
        "stopPrice": price(inst, r.stop_price),
        "workingType": str(r.working_type),
        "priceProtect": False,
        "origType": otype,
        "priceMatch": "NONE",
        "selfTradePreventionMode": stp,
        "goodTillDate": 0,
        "time": r.created,
        "updateTime": r.updated,
    }
    if r.order_type.name == "TRAILING_STOP_MARKET":
        out["activatePrice"] = price(inst, activation)
        out["priceRate"] = percent(callback)
    return out


def algo_status(ex: Exchange, state: FacadeState, r: OrderRecord) -> str:
    is_open = r.order_id in ex.projections.open_orders
    if not has_fired(ex, state, r):
        if is_open:
            return "NEW"
        return "CANCELED" if r.status == "CANCELED" else "EXPIRED"
    if is_open:
        return "TRIGGERED"
    if r.status == "EXPIRED" and r.filled == 0:
        return "REJECTED"  # fired, then refused by a check (margin, position)
    return "FINISHED"


def algo_json(ex: Exchange, state: FacadeState, r: OrderRecord) -> dict[str, Any]:
    """A conditional order as Binance's algo order API shows it (algoId: the venue's id)."""
    inst = ex.instruments[r.symbol]
    stp, callback, activation = _order_extras(ex.venue.orders.get(r.order_id))
    fired = has_fired(ex, state, r)
    avg = Fraction(r.avg_price_num, r.filled) if r.filled else None
    out: dict[str, Any] = {
        "algoId": r.order_id,
        "clientAlgoId": r.client_order_id,
        "algoType": "CONDITIONAL",
        "orderType": str(r.order_type),
        "symbol": r.symbol,
        "side": side_str(r.side),
        "positionSide": "BOTH",
        "timeInForce": r.tif.name,
        "quantity": inst.qty_str(r.quantity),
        "algoStatus": algo_status(ex, state, r),
        "actualOrderId": str(r.order_id) if fired else "",
        "actualPrice": average_price(inst, avg),
        "triggerPrice": price(inst, r.stop_price),
        "price": price(inst, r.price if r.order_type in LIMIT_ON_TRIGGER else None),
        "icebergQuantity": None,
        "tpTriggerPrice": "0.0000",
        "tpPrice": "0.0000",
        "slTriggerPrice": "0.0000",
        "slPrice": "0.0000",
        "tpOrderType": "",
        "selfTradePreventionMode": stp,
        "workingType": str(r.working_type),
        "priceMatch": "NONE",
        "closePosition": r.close_position,
        "priceProtect": False,
        "reduceOnly": r.reduce_only,
        "createTime": r.created,
        "updateTime": r.updated,
        "triggerTime": (state.fired_at(r.order_id) or (r.updated if fired else 0)),
        "goodTillDate": 0,
    }
    if r.order_type.name == "TRAILING_STOP_MARKET":
        out["activatePrice"] = price(inst, activation)
        out["callbackRate"] = percent(callback)
    return out


# ------------------------------------------------------------------- trades


def trade_json(inst: Instrument, t: Traded) -> dict[str, Any]:
    return {"id": t.trade_id, "price": inst.price_str(t.price), "qty": inst.qty_str(t.quantity),
            "quoteQty": notional(inst, t.price * t.quantity), "time": t.ts,
            "isBuyerMaker": side_str(t.aggressor) == "SELL"}


def aggregate(trades: list[Traded]) -> list[list[Traded]]:
    """Consecutive trades of one taker order at one price: one aggregate trade each."""
    groups: list[list[Traded]] = []
    for t in trades:
        if groups and groups[-1][-1].taker_order_id == t.taker_order_id \
                and groups[-1][-1].price == t.price and groups[-1][-1].ts == t.ts:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def agg_trade_json(inst: Instrument, group: list[Traded]) -> dict[str, Any]:
    first, last = group[0], group[-1]
    return {"a": first.trade_id, "p": inst.price_str(first.price),
            "q": inst.qty_str(sum(t.quantity for t in group)), "f": first.trade_id,
            "l": last.trade_id, "T": first.ts, "m": side_str(first.aggressor) == "SELL"}


def user_trade_json(inst: Instrument, f: OrderFilled) -> dict[str, Any]:
    side = side_str(f.side)
    return {"buyer": side == "BUY", "commission": format_usdt(f.fee), "commissionAsset": ASSET,
            "id": f.trade_id, "maker": f.maker, "orderId": f.order_id,
            "price": inst.price_str(f.price), "qty": inst.qty_str(f.quantity),
            "quoteQty": notional(inst, f.price * f.quantity),
            "realizedPnl": format_usdt(f.realized_pnl), "side": side, "positionSide": "BOTH",
            "symbol": f.symbol, "time": f.ts}


# ------------------------------------------------------------------- income


def incomes(ex: Exchange, user: int) -> list[dict[str, Any]]:
    """Realized PnL, commissions and funding fees, oldest first. ``tranId`` is unique: the
    venue event's sequence number times ten plus the kind."""
    rows: list[tuple[int, int, dict[str, Any]]] = []
    for f in ex.projections.fills.get(user, ()):
        if f.realized_pnl:
            rows.append((f.seq, 1, {"symbol": f.symbol, "incomeType": "REALIZED_PNL",
                                    "income": format_usdt(f.realized_pnl), "asset": ASSET,
                                    "info": "", "time": f.ts, "tranId": f.seq * 10 + 1,
                                    "tradeId": str(f.trade_id)}))
        if f.fee:
            rows.append((f.seq, 2, {"symbol": f.symbol, "incomeType": "COMMISSION",
                                    "income": format_usdt(-f.fee), "asset": ASSET, "info": "",
                                    "time": f.ts, "tranId": f.seq * 10 + 2,
                                    "tradeId": str(f.trade_id)}))
    for p in ex.projections.funding_payments.get(user, ()):
        rows.append((p.seq, 3, funding_income(p)))
    rows.sort(key=lambda row: (row[0], row[1]))
    return [row[2] for row in rows]


def funding_income(p: FundingPaid) -> dict[str, Any]:
    return {"symbol": p.symbol, "incomeType": "FUNDING_FEE", "income": format_usdt(p.amount),
            "asset": ASSET, "info": "", "time": p.ts, "tranId": p.seq * 10 + 3, "tradeId": ""}


# ------------------------------------------------------------------- account and positions


def last_update(ex: Exchange, user: int, symbol: str | None = None) -> int:
    """When the account (or its position in ``symbol``) last changed by a fill or funding;
    0 if never (as Binance shows a position never traded)."""
    latest = 0
    for f in reversed(ex.projections.fills.get(user, ())):
        if symbol is None or f.symbol == symbol:
            latest = f.ts
            break
    for p in reversed(ex.projections.funding_payments.get(user, ())):
        if symbol is None or p.symbol == symbol:
            latest = max(latest, p.ts)
            break
    return latest


def margin_type(mode: MarginMode) -> str:
    return "isolated" if mode is MarginMode.ISOLATED else "cross"


def entry_price(inst: Instrument, v: PositionView) -> str:
    return average_price(inst, v.entry_price)


def break_even(inst: Instrument, v: PositionView) -> str:
    """Entry price moved by the taker fee of closing: where a close breaks even."""
    if v.entry_price is None or not v.size:
        return average_price(inst, None)
    fee = Fraction(inst.taker_fee_ppm, 1_000_000)
    factor = 1 + fee if v.size > 0 else 1 - fee
    return average_price(inst, v.entry_price * factor)


def signed_notional(v: PositionView) -> str:
    return format_usdt(v.notional if v.size >= 0 else -v.notional)


def position_risk(ex: Exchange, user: int, v: PositionView, version: int) -> dict[str, Any]:
    inst = ex.instruments[v.symbol]
    pos = ex.venue.accounts[user].positions[v.symbol]
    isolated = v.mode is MarginMode.ISOLATED
    isolated_margin = v.isolated_wallet + v.unrealized_pnl if isolated else 0
    common: dict[str, Any] = {
        "symbol": v.symbol,
        "positionSide": "BOTH",
        "positionAmt": inst.qty_str(v.size),
        "entryPrice": entry_price(inst, v),
        "breakEvenPrice": break_even(inst, v),
        "markPrice": average_price(inst, None if v.mark is None else Fraction(v.mark)),
        "unRealizedProfit": format_usdt(v.unrealized_pnl),
        "liquidationPrice": average_price(inst, v.liquidation_price),
        "isolatedMargin": format_usdt(isolated_margin),
        "notional": signed_notional(v),
    }
    if version == 3:
        common.update({
            "marginAsset": ASSET,
            "isolatedWallet": format_usdt(v.isolated_wallet),
            "initialMargin": format_usdt(v.initial_margin + v.order_margin),
            "maintMargin": format_usdt(v.maintenance_margin),
            "positionInitialMargin": format_usdt(v.initial_margin),
            "openOrderInitialMargin": format_usdt(v.order_margin),
            "adl": v.adl_quantile or 0,
            "bidNotional": format_usdt(pos.buy_notional),
            "askNotional": format_usdt(pos.sell_notional),
            "updateTime": last_update(ex, user, v.symbol),
        })
        return common
    cap = inst.max_notional_for_leverage(v.leverage)
    common.update({
        "marginType": margin_type(v.mode),
        "isAutoAddMargin": "false",
        "leverage": str(v.leverage),
        "maxNotionalValue": BIG_NOTIONAL if cap is None else format_usdt(cap),
        "isolatedWallet": format_usdt(v.isolated_wallet),
        "updateTime": last_update(ex, user, v.symbol),
    })
    return common


def has_activity(ex: Exchange, user: int, v: PositionView) -> bool:
    return bool(v.size) or bool(ex.venue.accounts[user].positions[v.symbol].orders)


def account_position(ex: Exchange, user: int, v: PositionView, version: int) -> dict[str, Any]:
    inst = ex.instruments[v.symbol]
    pos = ex.venue.accounts[user].positions[v.symbol]
    isolated = v.mode is MarginMode.ISOLATED
    out: dict[str, Any] = {
        "symbol": v.symbol,
        "positionSide": "BOTH",
        "positionAmt": inst.qty_str(v.size),
        "unrealizedProfit": format_usdt(v.unrealized_pnl),
        "isolatedMargin": format_usdt(v.isolated_wallet + v.unrealized_pnl if isolated else 0),
        "notional": signed_notional(v),
        "isolatedWallet": format_usdt(v.isolated_wallet),
        "initialMargin": format_usdt(v.initial_margin + v.order_margin),
        "maintMargin": format_usdt(v.maintenance_margin),
        "updateTime": last_update(ex, user, v.symbol),
    }
    if version == 2:
        cap = inst.max_notional_for_leverage(v.leverage)
        out.update({
            "positionInitialMargin": format_usdt(v.initial_margin),
            "openOrderInitialMargin": format_usdt(v.order_margin),
            "leverage": str(v.leverage),
            "isolated": isolated,
            "entryPrice": entry_price(inst, v),
            "breakEvenPrice": break_even(inst, v),
            "maxNotional": BIG_NOTIONAL if cap is None else format_usdt(cap),
            "bidNotional": format_usdt(pos.buy_notional),
            "askNotional": format_usdt(pos.sell_notional),
        })
    return out


def totals(view: AccountView) -> dict[str, int]:
    """The account's figures in atoms, Binance's way: the USDT wallet holds the cross wallet
    and the isolated wallets; unrealized PnL, margins are of every position."""
    upnl = sum(v.unrealized_pnl for v in view.positions)
    position_im = sum(v.initial_margin for v in view.positions)
    wallet = view.wallet + view.isolated_wallets
    return {
        "wallet": wallet,
        "upnl": upnl,
        "margin_balance": wallet + upnl,
        "maint": sum(v.maintenance_margin for v in view.positions),
        "position_im": position_im,
        "order_im": view.order_initial_margin,
        "cross_wallet": view.wallet,
        "cross_upnl": view.unrealized_pnl,
        "available": view.available,
    }


def asset_json(t: dict[str, int], update_time: int, version: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "asset": ASSET,
        "walletBalance": format_usdt(t["wallet"]),
        "unrealizedProfit": format_usdt(t["upnl"]),
        "marginBalance": format_usdt(t["margin_balance"]),
        "maintMargin": format_usdt(t["maint"]),
        "initialMargin": format_usdt(t["position_im"] + t["order_im"]),
        "positionInitialMargin": format_usdt(t["position_im"]),
        "openOrderInitialMargin": format_usdt(t["order_im"]),
        "crossWalletBalance": format_usdt(t["cross_wallet"]),
        "crossUnPnl": format_usdt(t["cross_upnl"]),
        "availableBalance": format_usdt(t["available"]),
        "maxWithdrawAmount": format_usdt(t["available"]),
        "updateTime": update_time,
    }
    if version == 2:
        out["marginAvailable"] = True
    return out


def account_json(ex: Exchange, user: int, view: AccountView, version: int) -> dict[str, Any]:
    t = totals(view)
    # ccxt skips an asset whose updateTime is 0: an account that never traded shows now.
    update_time = last_update(ex, user) or ex.now_ms()
    out: dict[str, Any] = {}
    if version == 2:
        out.update({"feeTier": 0, "feeBurn": False, "canTrade": True, "canDeposit": True,
                    "canWithdraw": True, "updateTime": 0, "multiAssetsMargin": False,
                    "tradeGroupId": -1})
    out.update({
        "totalInitialMargin": format_usdt(t["position_im"] + t["order_im"]),
        "totalMaintMargin": format_usdt(t["maint"]),
        "totalWalletBalance": format_usdt(t["wallet"]),
        "totalUnrealizedProfit": format_usdt(t["upnl"]),
        "totalMarginBalance": format_usdt(t["margin_balance"]),
        "totalPositionInitialMargin": format_usdt(t["position_im"]),
        "totalOpenOrderInitialMargin": format_usdt(t["order_im"]),
        "totalCrossWalletBalance": format_usdt(t["cross_wallet"]),
        "totalCrossUnPnl": format_usdt(t["cross_upnl"]),
        "availableBalance": format_usdt(t["available"]),
        "maxWithdrawAmount": format_usdt(t["available"]),
        "assets": [asset_json(t, update_time, version)],
        "positions": [account_position(ex, user, v, version) for v in view.positions
                      if version == 2 or has_activity(ex, user, v)],
    })
    return out


def balance_json(ex: Exchange, user: int, view: AccountView) -> list[dict[str, Any]]:
    t = totals(view)
    return [{"accountAlias": f"paper{user}", "asset": ASSET,
             "balance": format_usdt(t["wallet"]),
             "crossWalletBalance": format_usdt(t["cross_wallet"]),
             "crossUnPnl": format_usdt(t["cross_upnl"]),
             "availableBalance": format_usdt(t["available"]),
             "maxWithdrawAmount": format_usdt(t["available"]), "marginAvailable": True,
             "updateTime": last_update(ex, user) or ex.now_ms()}]


def brackets_json(inst: Instrument) -> dict[str, Any]:
    """Leverage brackets: Binance sends numbers here, not strings."""
    rows = []
    for tier in inst.tiers:
        cap = tier.cap
        rows.append({
            "bracket": tier.tier,
            "initialLeverage": tier.max_leverage,
            "notionalCap": _number(BIG_CAP if cap is None else Fraction(cap, 10**8)),
            "notionalFloor": _number(Fraction(tier.floor, 10**8)),
            "maintMarginRatio": _number(Fraction(tier.mmr_ppm, 1_000_000)),
            "cum": _number(Fraction(tier.maint_amount, 10**8)),
        })
    return {"symbol": inst.symbol, "notionalCoef": 1.0, "brackets": rows}


BIG_CAP = Fraction(9_223_372_036_854_775_807)


def _number(value: Fraction) -> int | float:
    if value.denominator == 1:
        return int(value)
    return float(plain(value))
