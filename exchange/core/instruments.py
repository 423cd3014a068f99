"""Instruments: what a symbol trades in (tick, step), its filters, fees, margin tiers, funding.

An ``Instrument`` is immutable and holds integers only (ticks, lots, atoms, ppm) apart from its
tick and step sizes, which are kept as the ``Decimal`` they were written as so that prices and
quantities print with the instrument's own number of decimals.

``instruments_from_config`` turns the parsed instruments TOML into instruments and is the one
place that validates it: every problem is an ``InstrumentConfigError`` naming the key's path and
what to write instead. Reading the file is the shell's job (``exchange.config``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, NamedTuple

from exchange.core.units import (
    ATOMS_PER_USDT,
    PPM,
    UnitError,
    ceil_div,
    format_ppm,
    format_units,
    format_usdt,
    parse_decimal,
    parse_ppm,
    parse_units,
    parse_usdt,
)

QUOTE_ASSET = "USDT"

# Defaults of the optional fields: Binance USDⓈ-M, VIP 0 (see default_instruments.toml).
DEFAULT_PRICE_BAND_PPM = 50_000
DEFAULT_MARKET_BAND_PPM = 50_000
DEFAULT_MAX_OPEN_ORDERS = 200
DEFAULT_MAX_CONDITIONAL_ORDERS = 10
DEFAULT_MAKER_FEE_PPM = 200
DEFAULT_TAKER_FEE_PPM = 500
DEFAULT_FUNDING_INTERVAL_MS = 8 * 3_600_000
DEFAULT_INTEREST_PPM = 100
DEFAULT_LIQUIDATION_FEE_PPM = 12_500

# Fees outside this open interval are a typo (0.05 for 0.0005), not a fee schedule.
MIN_FEE_PPM = -10_000
MAX_FEE_PPM = 100_000


class MarginTier(NamedTuple):
    """One bracket of the maintenance-margin table.

    A notional belongs to the first tier whose ``cap`` it does not exceed: ``floor`` is exclusive
    (tier 1 starts at 0 inclusive), ``cap`` inclusive, as on Binance.
    """

    tier: int
    floor: int
    cap: int | None
    max_leverage: int
    mmr_ppm: int
    maint_amount: int


class _Invalid(ValueError):
    """A problem at a path relative to the table being read; config errors wrap it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _usdt(atoms: int) -> str:
    # Caps are round numbers of USDT; eight zero decimals would only hide them in a message.
    return format_usdt(atoms).rstrip("0").rstrip(".")


def margin_tiers(rows: Sequence[tuple[int | None, int, int]]) -> tuple[MarginTier, ...]:
    """Build a tier table from ``(cap_atoms, max_leverage, mmr_ppm)`` rows, validating it.

    Each tier's floor is the previous cap; its maintenance amount is what keeps maintenance
    margin continuous across the boundary, so it must come out a whole number of atoms.
    Raises ``ValueError`` whose message starts with the offending ``tiers[i].key``.
    """
    if not rows:
        raise _Invalid("tiers", "the tier table is empty: give at least one tier, the last "
                                'without a cap, such as { max_leverage = 20, mmr = "0.025" }')
    tiers: list[MarginTier] = []
    last = len(rows) - 1
    for i, (cap, max_leverage, mmr_ppm) in enumerate(rows):
        number = i + 1
        where = f"tiers[{i}]"
        if i == last and cap is not None:
            raise _Invalid(f"{where}.cap", f"the last tier (tier {number}) must have no cap, so "
                                           "that every notional has a tier: remove its cap")
        if i < last and cap is None:
            raise _Invalid(f"{where}.cap", f"tier {number} has no cap, but only the last tier "
                                           "may be unbounded: give it a cap, or make it last")
        if cap is not None and cap <= 0:
            raise _Invalid(f"{where}.cap", f"tier {number}'s cap must be above 0 USDT, such as "
                                           'cap = "50000"')
        if max_leverage < 1:
            raise _Invalid(f"{where}.max_leverage",
                           f"tier {number}'s max_leverage is {max_leverage}: write 1 or more")
        if not 0 < mmr_ppm < PPM:
            raise _Invalid(f"{where}.mmr", f"tier {number}'s mmr is {format_ppm(mmr_ppm)}: "
                                           "write a fraction above 0 and below 1, e.g. \"0.004\"")
        # At max leverage the initial margin is notional / max_leverage; if that were not above
        # the maintenance margin, a position opened at max leverage would be liquidated at once.
        if mmr_ppm * max_leverage >= PPM:
            raise _Invalid(f"{where}.mmr",
                           f"tier {number}'s mmr {format_ppm(mmr_ppm)} is not below 1/max_leverage "
                           f"(1/{max_leverage}): a position at max leverage would be liquidated "
                           "on opening; lower the mmr or the max_leverage")
        if not tiers:
            floor, maint_amount = 0, 0
        else:
            previous = tiers[-1]
            assert previous.cap is not None  # only the last tier is unbounded, checked above
            floor = previous.cap
            if cap is not None and cap <= floor:
                raise _Invalid(f"{where}.cap",
                               f"tier {number}'s cap {_usdt(cap)} is not above tier "
                               f"{number - 1}'s cap {_usdt(floor)}: caps must increase")
            if max_leverage > previous.max_leverage:
                raise _Invalid(f"{where}.max_leverage",
                               f"tier {number}'s max_leverage {max_leverage} is above tier "
                               f"{number - 1}'s {previous.max_leverage}: max leverage must not "
                               f"rise with notional; write at most {previous.max_leverage}")
            if mmr_ppm < previous.mmr_ppm:
                raise _Invalid(f"{where}.mmr",
                               f"tier {number}'s mmr {format_ppm(mmr_ppm)} is below tier "
                               f"{number - 1}'s {format_ppm(previous.mmr_ppm)}: mmr must not "
                               f"fall with notional; write at least {format_ppm(previous.mmr_ppm)}")
            step, remainder = divmod(floor * (mmr_ppm - previous.mmr_ppm), PPM)
            if remainder:
                raise _Invalid(f"{where}.mmr",
                               f"tier {number}'s maintenance amount would not be a whole number of "
                               f"atoms (floor {_usdt(floor)} USDT * mmr step "
                               f"{format_ppm(mmr_ppm - previous.mmr_ppm)}); choose a cap for tier "
                               f"{number - 1} or an mmr that makes the product a multiple of "
                               "0.00000001 USDT")
            maint_amount = previous.maint_amount + step
        tiers.append(MarginTier(number, floor, cap, max_leverage, mmr_ppm, maint_amount))
    return tuple(tiers)


def atoms_per_tick_lot(tick_size: Decimal, step_size: Decimal) -> int:
    """Atoms of notional per tick of price per lot of quantity; must be a positive integer.

    Notional is then ``ticks * lots * atoms_per_tick_lot`` in integers, with no rounding.
    """
    # The product of two exact decimals and 10**8, in integers: mantissas multiply, exponents add.
    mantissa, exponent = ATOMS_PER_USDT, 0
    for size in (tick_size, step_size):
        if not isinstance(size, Decimal) or not size.is_finite() or size <= 0:
            raise ValueError(f"tick_size and step_size must be positive decimals, got {size!r}")
        _, digits, size_exponent = size.as_tuple()
        assert isinstance(size_exponent, int)  # finite, checked above
        mantissa *= int("".join(map(str, digits)))
        exponent += size_exponent
    scale: int = 10 ** abs(exponent)
    if exponent >= 0:
        return mantissa * scale
    value, remainder = divmod(mantissa, scale)
    if remainder:
        raise ValueError(f"tick_size {tick_size:f} * step_size {step_size:f} is not a whole "
                         "number of atoms (0.00000001 USDT): use a coarser tick_size or step_size")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """A USDT-margined linear perpetual: everything the venue needs to know about a symbol."""

    symbol: str
    base_asset: str
    quote_asset: str = QUOTE_ASSET  # also the margin and settlement asset
    tick_size: Decimal
    step_size: Decimal
    min_qty: int  # lots
    max_qty: int
    market_max_qty: int
    min_notional: int  # atoms
    price_band_ppm: int = DEFAULT_PRICE_BAND_PPM
    market_band_ppm: int = DEFAULT_MARKET_BAND_PPM
    max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS
    max_conditional_orders: int = DEFAULT_MAX_CONDITIONAL_ORDERS
    maker_fee_ppm: int = DEFAULT_MAKER_FEE_PPM
    taker_fee_ppm: int = DEFAULT_TAKER_FEE_PPM
    tiers: tuple[MarginTier, ...]
    funding_interval_ms: int = DEFAULT_FUNDING_INTERVAL_MS
    interest_ppm: int = DEFAULT_INTEREST_PPM
    funding_cap_ppm: int  # no fixed default: instruments_from_config derives it from tier 1
    liquidation_fee_ppm: int = DEFAULT_LIQUIDATION_FEE_PPM
    atoms_per_tick_lot: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "atoms_per_tick_lot",
                           atoms_per_tick_lot(self.tick_size, self.step_size))
        # Hand-built tiers (tests, tools) get the same checks as configured ones: rebuilding
        # the table from its inputs must give back exactly the table given.
        rebuilt = margin_tiers([(t.cap, t.max_leverage, t.mmr_ppm) for t in self.tiers])
        if rebuilt != self.tiers:
            raise ValueError(f"{self.symbol}: tiers are inconsistent (floors, numbers or maint "
                             "amounts); build them with margin_tiers()")

    def notional(self, price: int, quantity: int) -> int:
        """``|price * quantity|`` in atoms, for a price in ticks and a quantity in lots."""
        return abs(price * quantity) * self.atoms_per_tick_lot

    def tier_for(self, notional: int) -> MarginTier:
        """The tier a notional (atoms) falls in: the first whose cap it does not exceed."""
        for tier in self.tiers:
            if tier.cap is None or notional <= tier.cap:
                return tier
        return self.tiers[-1]  # unreachable: the last tier has no cap

    def maintenance_margin(self, notional: int) -> int:
        """``notional * MMR - maint_amount`` of its tier, in atoms.

        Rounded up: the venue asks for the fraction of an atom rather than forgive it.
        """
        tier = self.tier_for(notional)
        return max(0, ceil_div(notional * tier.mmr_ppm, PPM) - tier.maint_amount)

    def max_leverage_for(self, notional: int) -> int:
        return self.tier_for(notional).max_leverage

    def max_notional_for_leverage(self, leverage: int) -> int | None:
        """The largest notional (atoms) a position may reach at ``leverage``; None = no limit.

        It is the cap of the last tier that still allows that leverage.
        """
        top = self.tiers[0].max_leverage
        if not 1 <= leverage <= top:
            raise ValueError(f"leverage {leverage} is out of range for {self.symbol}: "
                             f"choose 1 to {top}")
        allowed = self.tiers[0]
        for tier in self.tiers:
            if tier.max_leverage < leverage:
                break  # max leverage never rises with the tier, so no later tier allows it
            allowed = tier
        return allowed.cap

    def price_str(self, ticks: int) -> str:
        return format_units(ticks, self.tick_size)

    def qty_str(self, lots: int) -> str:
        return format_units(lots, self.step_size)

    def parse_price(self, text: object) -> int:
        return parse_units(text, self.tick_size, "price")

    def parse_qty(self, text: object) -> int:
        return parse_units(text, self.step_size, "quantity")

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickled (snapshots) as the arguments that build it, ``__post_init__`` deriving the
        rest: a frozen instance of the compiled build (mypyc) could not take a state back."""
        return _rebuild, ({f.name: getattr(self, f.name) for f in fields(self) if f.init},)


def _rebuild(values: dict[str, Any]) -> Instrument:
    return Instrument(**values)


class InstrumentConfigError(ValueError):
    """A problem in an instruments configuration: where (source file, key path) and the fix."""

    def __init__(self, source: str, path: str, message: str) -> None:
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.path = path
        self.message = message


_SYMBOL = re.compile(r"[A-Z0-9]+", re.ASCII)
_DURATION = re.compile(r"([0-9]+)(s|m|h|d)", re.ASCII)
_DURATION_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

_REQUIRED_KEYS = ("base_asset", "tick_size", "step_size", "min_qty", "max_qty", "market_max_qty",
                  "min_notional", "tiers")
_OPTIONAL_KEYS = ("quote_asset", "price_band", "market_band", "max_open_orders",
                  "max_conditional_orders", "maker_fee", "taker_fee", "funding_interval",
                  "interest_rate", "funding_cap", "liquidation_fee")
_TIER_KEYS = ("cap", "max_leverage", "mmr")

# What to suggest when a key is missing or mistyped: the BTCUSDT values.
_EXAMPLES = {
    "base_asset": '"BTC"', "quote_asset": '"USDT"', "tick_size": '"0.10"',
    "step_size": '"0.001"', "min_qty": '"0.001"', "max_qty": '"1000"',
    "market_max_qty": '"120"', "min_notional": '"100"', "price_band": '"0.05"',
    "market_band": '"0.05"', "max_open_orders": "200", "max_conditional_orders": "10",
    "maker_fee": '"0.0002"', "taker_fee": '"0.0005"', "funding_interval": '"8h"',
    "interest_rate": '"0.0001"', "funding_cap": '"0.003"', "liquidation_fee": '"0.0125"',
    "tiers": '[{ cap = "50000", max_leverage = 125, mmr = "0.004" }, '
             '{ max_leverage = 100, mmr = "0.005" }]',
    "cap": '"50000"', "max_leverage": "125", "mmr": '"0.004"',
}


def _check_keys(table: Mapping[str, object], path: str, required: Sequence[str],
                optional: Sequence[str]) -> None:
    allowed = (*required, *optional)
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _Invalid(f"{path}.{key}", f"unknown key {key!r}: {hint}"
                                            f"the allowed keys are {', '.join(allowed)}")
    for key in required:
        if key not in table:
            raise _Invalid(f"{path}.{key}", f"missing: add {key} = {_EXAMPLES[key]}")


def _quoted(value: object) -> str:
    # A number written without quotes: show the same digits quoted, which is the fix.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return f'"{value}"'
    return ""


class _Table:
    """Typed reads of one TOML table; each problem is an ``_Invalid`` at ``path.key``."""

    def __init__(self, table: Mapping[str, object], path: str) -> None:
        self.table = table
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}"

    def text(self, key: str) -> str:
        value = self.table[key]
        if not isinstance(value, str):
            fix = _quoted(value) or _EXAMPLES[key]
            raise _Invalid(self.where(key), f"must be a string in quotes: write {key} = {fix}")
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        if key not in self.table and default is not None:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            plain = isinstance(value, str) and value.isascii() and value.isdigit()
            fix = value if plain else _EXAMPLES[key]
            raise _Invalid(self.where(key),
                           f"must be a whole number without quotes: write {key} = {fix}")
        return value

    def units(self, key: str, unit: Decimal) -> int:
        try:
            return parse_units(self.text(key), unit, key)
        except UnitError as e:
            raise _Invalid(self.where(key), e.message) from None

    def usdt(self, key: str) -> int:
        try:
            return parse_usdt(self.text(key), key)
        except UnitError as e:
            raise _Invalid(self.where(key), e.message) from None

    def decimal(self, key: str) -> Decimal:
        try:
            return parse_decimal(self.text(key), key)
        except UnitError as e:
            raise _Invalid(self.where(key), e.message) from None

    def ppm(self, key: str, default: int | None, low: int, high: int, range_text: str) -> int:
        """A rate in ppm that must lie in ``[low, high]``; ``range_text`` says so for people."""
        if key not in self.table and default is not None:
            return default
        try:
            value = parse_ppm(self.text(key), key)
        except UnitError as e:
            raise _Invalid(self.where(key), e.message) from None
        if not low <= value <= high:
            raise _Invalid(self.where(key), f"{key} {format_ppm(value)} is out of range: write "
                                            f"{range_text}, such as {key} = {_EXAMPLES[key]}")
        return value

    def duration_ms(self, key: str, default: int) -> int:
        if key not in self.table:
            return default
        text = self.text(key)
        match = _DURATION.fullmatch(text)
        if match is None:
            raise _Invalid(self.where(key), f"{key} {text!r} is not a duration: write a whole "
                                            'number and a unit s, m, h or d, such as "8h" or "30m"')
        ms = int(match[1]) * _DURATION_MS[match[2]]
        if ms < 1_000:
            raise _Invalid(self.where(key), f"{key} must be at least 1s, such as \"8h\"")
        return ms


def _tiers(raw: object, path: str) -> tuple[MarginTier, ...]:
    if not isinstance(raw, list):
        raise _Invalid(f"{path}.tiers", f"must be an array of tables: write tiers = "
                                        f"{_EXAMPLES['tiers']}")
    rows: list[tuple[int | None, int, int]] = []
    for i, item in enumerate(raw):
        where = f"{path}.tiers[{i}]"
        if not isinstance(item, Mapping):
            raise _Invalid(where, "each tier must be a table such as "
                                  '{ cap = "50000", max_leverage = 125, mmr = "0.004" }')
        # A missing cap is what makes the last tier unbounded; margin_tiers objects to a missing
        # cap anywhere else, so only max_leverage and mmr are required here.
        _check_keys(item, where, ("max_leverage", "mmr"), ("cap",))
        table = _Table(item, where)
        cap = table.usdt("cap") if "cap" in item else None
        max_leverage = table.integer("max_leverage")
        mmr = table.ppm("mmr", None, 1, PPM - 1, "a fraction above 0 and below 1")
        rows.append((cap, max_leverage, mmr))
    try:
        return margin_tiers(rows)
    except _Invalid as e:
        raise _Invalid(f"{path}.{e.path}", e.message) from None


def _instrument(symbol: object, raw: object) -> Instrument:
    path = f"instruments.{symbol}"
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise _Invalid(path, f"symbol {symbol!r} must be uppercase letters and digits, such as "
                             "[instruments.BTCUSDT]")
    if not isinstance(raw, Mapping):
        raise _Invalid(path, f"must be a table: write [instruments.{symbol}] and its keys")
    _check_keys(raw, path, _REQUIRED_KEYS, _OPTIONAL_KEYS)
    table = _Table(raw, path)

    base_asset = table.text("base_asset")
    if not _SYMBOL.fullmatch(base_asset):
        raise _Invalid(table.where("base_asset"), f"{base_asset!r} must be uppercase letters and "
                                                  'digits, such as base_asset = "BTC"')
    quote_asset = table.text("quote_asset") if "quote_asset" in raw else QUOTE_ASSET
    if quote_asset != QUOTE_ASSET:
        raise _Invalid(table.where("quote_asset"), "only USDT-margined instruments exist here: "
                                                   'write quote_asset = "USDT" or leave it out')
    if symbol != base_asset + quote_asset:
        raise _Invalid(table.where("base_asset"),
                       f"the symbol must be base_asset + quote_asset, but {base_asset} + "
                       f"{quote_asset} is {base_asset + quote_asset}: fix base_asset or rename "
                       f"the table [instruments.{base_asset + quote_asset}]")

    tick_size = table.decimal("tick_size")
    if tick_size <= 0:
        raise _Invalid(table.where("tick_size"), 'must be above 0, such as tick_size = "0.10"')
    step_size = table.decimal("step_size")
    if step_size <= 0:
        raise _Invalid(table.where("step_size"), 'must be above 0, such as step_size = "0.001"')
    try:
        atoms_per_tick_lot(tick_size, step_size)
    except ValueError as e:
        raise _Invalid(table.where("step_size"), str(e)) from None

    min_qty = table.units("min_qty", step_size)
    if min_qty < 1:
        raise _Invalid(table.where("min_qty"), f"must be at least one step: write min_qty = "
                                               f'"{format_units(1, step_size)}" or more')
    max_qty = table.units("max_qty", step_size)
    if max_qty < min_qty:
        raise _Invalid(table.where("max_qty"), f"max_qty is below min_qty "
                                               f"{format_units(min_qty, step_size)}: write "
                                               "max_qty >= min_qty")
    market_max_qty = table.units("market_max_qty", step_size)
    if not min_qty <= market_max_qty <= max_qty:
        raise _Invalid(table.where("market_max_qty"),
                       f"must lie between min_qty {format_units(min_qty, step_size)} and max_qty "
                       f"{format_units(max_qty, step_size)}")
    min_notional = table.usdt("min_notional")

    band_range = 'a fraction above 0 and below 1 ("0.05" = 5%)'
    price_band = table.ppm("price_band", DEFAULT_PRICE_BAND_PPM, 1, PPM - 1, band_range)
    market_band = table.ppm("market_band", DEFAULT_MARKET_BAND_PPM, 1, PPM - 1, band_range)

    max_open_orders = table.integer("max_open_orders", DEFAULT_MAX_OPEN_ORDERS)
    if max_open_orders < 1:
        raise _Invalid(table.where("max_open_orders"), "write 1 or more, such as "
                                                       "max_open_orders = 200")
    max_conditional = table.integer("max_conditional_orders", DEFAULT_MAX_CONDITIONAL_ORDERS)
    if max_conditional < 0:
        raise _Invalid(table.where("max_conditional_orders"),
                       "write 0 (no stop orders) or more, such as max_conditional_orders = 10")

    fee_range = 'a fraction above -0.01 and below 0.1 (-1% .. 10%; "0.0005" = 0.05%)'
    maker_fee = table.ppm("maker_fee", DEFAULT_MAKER_FEE_PPM, MIN_FEE_PPM + 1, MAX_FEE_PPM - 1,
                          fee_range)
    taker_fee = table.ppm("taker_fee", DEFAULT_TAKER_FEE_PPM, MIN_FEE_PPM + 1, MAX_FEE_PPM - 1,
                          fee_range)
    if maker_fee + taker_fee < 0:
        # Otherwise two accounts trading with each other would mint fee income from nothing.
        raise _Invalid(table.where("maker_fee"),
                       f"the maker rebate {format_ppm(-maker_fee)} exceeds the taker fee "
                       f"{format_ppm(taker_fee)}: write maker_fee >= -taker_fee, such as "
                       f'maker_fee = "-{format_ppm(taker_fee)}"')

    funding_interval_ms = table.duration_ms("funding_interval", DEFAULT_FUNDING_INTERVAL_MS)
    interest = table.ppm("interest_rate", DEFAULT_INTEREST_PPM, -(PPM - 1), PPM - 1,
                         "a fraction between -1 and 1 per funding interval")
    liquidation_fee = table.ppm("liquidation_fee", DEFAULT_LIQUIDATION_FEE_PPM, 0, PPM - 1,
                                "a fraction from 0 up to below 1")

    tiers = _tiers(raw["tiers"], path)
    # Binance's published cap: 75% of the tier-1 maintenance rate; down to a whole ppm.
    funding_cap = table.ppm("funding_cap", tiers[0].mmr_ppm * 3 // 4, 0, PPM - 1,
                            "a fraction from 0 (no funding) up to below 1")

    return Instrument(
        symbol=symbol, base_asset=base_asset, quote_asset=quote_asset,
        tick_size=tick_size, step_size=step_size,
        min_qty=min_qty, max_qty=max_qty, market_max_qty=market_max_qty,
        min_notional=min_notional, price_band_ppm=price_band, market_band_ppm=market_band,
        max_open_orders=max_open_orders, max_conditional_orders=max_conditional,
        maker_fee_ppm=maker_fee, taker_fee_ppm=taker_fee, tiers=tiers,
        funding_interval_ms=funding_interval_ms, interest_ppm=interest,
        funding_cap_ppm=funding_cap, liquidation_fee_ppm=liquidation_fee,
    )


def instruments_from_config(config: Mapping[str, object],
                            source: str = "<config>") -> dict[str, Instrument]:
    """Instruments from a parsed TOML mapping ``{"instruments": {"BTCUSDT": {...}, ...}}``.

    ``source`` names the file in errors. Raises ``InstrumentConfigError`` on the first problem.
    """
    try:
        if not isinstance(config, Mapping):
            raise _Invalid("", "the configuration must be a table with an [instruments] section")
        for key in config:
            if key != "instruments":
                raise _Invalid(str(key), f"unknown top-level key {key!r}: instruments are "
                                         "defined in [instruments.SYMBOL] tables")
        tables = config.get("instruments")
        if not isinstance(tables, Mapping) or not tables:
            raise _Invalid("instruments", "define at least one instrument in a table such as "
                                          '[instruments.BTCUSDT] with base_asset = "BTC", ...')
        return {symbol: _instrument(symbol, raw) for symbol, raw in tables.items()}
    except _Invalid as e:
        raise InstrumentConfigError(source, e.path, e.message) from None
