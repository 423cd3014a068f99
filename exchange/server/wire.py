"""The wire form of the venue's numbers and events: decimal strings, as real exchanges send.

Prices go out in the instrument's tick decimals, quantities in its step decimals, money with
eight decimals of USDT, funding rates with eight decimals. Field names decide the unit, so one
function turns any venue event into JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from fractions import Fraction
from typing import Any

from exchange.core.events import Event
from exchange.core.funding import e8_to_str
from exchange.core.instruments import Instrument
from exchange.core.units import format_usdt
from matching import Side

PRICE_FIELDS = frozenset({"price", "mark", "index_price", "stop_price", "bankruptcy_price",
                          "trigger_price", "activation_price"})
QTY_FIELDS = frozenset({"quantity", "size", "remaining", "total", "position_size"})
MONEY_FIELDS = frozenset({"amount", "wallet", "fee", "realized_pnl", "leftover", "delta",
                          "balance", "isolated_wallet", "position_entry_notional",
                          "max_notional"})
RATE_FIELDS = frozenset({"rate_e8"})


def side_str(side: int) -> str:
    return "BUY" if side == Side.BUY else "SELL"


def price_frac(inst: Instrument, price: Fraction | None) -> str | None:
    """An exact price (e.g. a liquidation price) shown to the tick's decimals, rounded."""
    if price is None:
        return None
    ticks = round(price)  # Fraction rounds half to even: exact, no float
    return inst.price_str(int(ticks))


def event_to_wire(event: Event, instruments: Mapping[str, Instrument]) -> dict[str, Any]:
    symbol = getattr(event, "symbol", None)
    inst = instruments.get(symbol) if isinstance(symbol, str) else None
    out: dict[str, Any] = {"type": type(event).__name__}
    values: tuple[Any, ...] = tuple(event)
    for name, value in zip(event._fields, values, strict=True):
        if value is None:
            out[name] = None
        elif name == "side" or name == "aggressor":
            out[name] = side_str(value)
        elif isinstance(value, Enum):
            out[name] = value.name if isinstance(value, int) else str(value)
        elif type(value) is bool:
            out[name] = value
        elif name in PRICE_FIELDS and inst is not None:
            out[name] = inst.price_str(value)
        elif name in QTY_FIELDS and inst is not None:
            out[name] = inst.qty_str(value)
        elif name in MONEY_FIELDS:
            out[name] = format_usdt(value)
        elif name in RATE_FIELDS:
            out[name] = e8_to_str(value)
        else:
            out[name] = value
    return out
