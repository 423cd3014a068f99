"""Request parameters the Binance way: from the query string and a form-encoded body, every
value a string, each read with the check (and the Binance error) its kind needs."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import TypeVar
from urllib.parse import parse_qsl

from exchange.core.instruments import Instrument
from exchange.core.units import UnitError, parse_units
from exchange.server.binance import errors
from exchange.server.binance.errors import BinanceError

MAX_PARAMS = 64
MAX_VALUE_CHARS = 1_024
MAX_BODY_BYTES = 64 * 1_024

E = TypeVar("E", bound=Enum)


def split(raw: bytes) -> list[tuple[str, str]]:
    """``a=1&b=2`` as pairs, percent-decoded; bytes that are not UTF-8 are an error."""
    if not raw:
        return []
    try:
        text = raw.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, errors="strict",
                         max_num_fields=MAX_PARAMS)
    except (UnicodeDecodeError, ValueError):
        raise BinanceError(errors.ILLEGAL_CHARS,
                           "Illegal characters found in a parameter, or too many parameters."
                           ) from None


class Params:
    """The parameters of one request (query string and form body together)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        values: dict[str, str] = {}
        for name, value in pairs:
            if name in values:
                raise BinanceError(errors.TOO_MANY_PARAMETERS,
                                   "Duplicate values for a parameter detected.")
            if len(value) > MAX_VALUE_CHARS:
                raise errors.invalid(name[:40])
            values[name] = value
        self.values = values

    @classmethod
    def of(cls, query: bytes, body: bytes) -> Params:
        if len(body) > MAX_BODY_BYTES:
            raise BinanceError(errors.TOO_MANY_PARAMETERS, "Request body too large.")
        return cls(split(query) + split(body))

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def text(self, name: str) -> str | None:
        """The value, or None if absent or empty (Binance treats empty as not sent)."""
        value = self.values.get(name)
        return value if value else None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise errors.mandatory(name)
        return value

    def integer(self, name: str, default: int | None = None, *, low: int | None = None,
                high: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        if not value.isascii() or not value.lstrip("-").isdigit() or len(value) > 20:
            raise errors.illegal(name)
        number = int(value)
        if (low is not None and number < low) or (high is not None and number > high):
            raise errors.invalid(name)
        return number

    def required_int(self, name: str, *, low: int | None = None,
                     high: int | None = None) -> int:
        number = self.integer(name, low=low, high=high)
        if number is None:
            raise errors.mandatory(name)
        return number

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise errors.invalid(name, "Use true or false.")
        return lowered == "true"

    def choice(self, name: str, options: Mapping[str, E], default: E | None,
               error: BinanceError | None = None) -> E:
        value = self.text(name)
        if value is None:
            if default is None:
                raise errors.mandatory(name)
            return default
        found = options.get(value)
        if found is None:
            raise error if error is not None else errors.invalid(name)
        return found


def instrument(instruments: Mapping[str, Instrument], params: Params,
               name: str = "symbol") -> Instrument:
    symbol = params.required(name)
    inst = instruments.get(symbol)
    if inst is None:
        raise errors.bad_symbol()
    return inst


def optional_instrument(instruments: Mapping[str, Instrument],
                        params: Params) -> Instrument | None:
    if params.text("symbol") is None:
        return None
    return instrument(instruments, params)


def _units(text: str, unit: Decimal, name: str, not_multiple: int, negative: int) -> int:
    if text.startswith("-"):
        raise BinanceError(negative, f"{name} less than zero.")
    try:
        return parse_units(text, unit, name)
    except UnitError as exc:
        if "not a plain decimal" in exc.message or "characters long" in exc.message:
            raise errors.illegal(name) from None
        written = len(text.partition(".")[2].rstrip("0"))
        exponent = unit.as_tuple().exponent
        allowed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if written > allowed:
            raise BinanceError(errors.BAD_PRECISION,
                               "Precision is over the maximum defined for this asset.") from None
        raise BinanceError(not_multiple, exc.message) from None


def price(inst: Instrument, params: Params, name: str = "price") -> int | None:
    """A price in ticks; a value off the tick is Binance's -4014."""
    text = params.text(name)
    if text is None:
        return None
    ticks = _units(text, inst.tick_size, name, errors.PRICE_NOT_BY_TICK,
                   errors.PRICE_LESS_THAN_ZERO)
    if ticks <= 0:
        raise BinanceError(errors.PRICE_LESS_THAN_ZERO, f"{name} less than or equal to zero.")
    return ticks


def quantity(inst: Instrument, params: Params, name: str = "quantity") -> int | None:
    """A quantity in lots; a value off the step is Binance's -4023."""
    text = params.text(name)
    if text is None:
        return None
    lots = _units(text, inst.step_size, name, errors.QTY_NOT_BY_STEP, errors.QTY_LESS_THAN_ZERO)
    if lots <= 0:
        raise BinanceError(errors.QTY_LESS_THAN_ZERO, "Quantity less than or equal to zero.")
    return lots
