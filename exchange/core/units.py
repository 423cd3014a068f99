"""Exact units of the venue and their decimal-string wire form.

Inside the core every amount is an integer: prices are ticks of the instrument's tick size,
quantities lots of its step size, money atoms of USDT (1e-8), rates parts per million. Decimal
strings are how people and the wire write them; this module is the only door between the two,
and it never rounds: text that is not an exact multiple of its unit is an error that says which
values would be.

``Decimal`` appears here only to name a unit (``Decimal("0.10")``); conversions take the unit
apart into an integer mantissa and a power of ten and do integer arithmetic, so no context
precision or rounding mode can ever change a value.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

ATOMS_PER_USDT: Final = 100_000_000
PPM: Final = 1_000_000

_ATOM = Decimal("0.00000001")
_ONE_PPM = Decimal("0.000001")

# ASCII digits only: ``\d`` and ``str.isdigit`` also accept other scripts' digits, which nobody
# typing a price means. No sign '+', exponent, spaces, underscores or bare '.': each of those is
# accepted by ``Decimal()`` or ``int()`` and each has hidden a typo somewhere.
_PLAIN = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)

# Longer text is no real amount, and ``int()`` of a few thousand digits is slow (Python refuses
# past 4300); the cap keeps hostile input cheap and its error a ``UnitError``.
_MAX_CHARS = 64

_PLAIN_HINT = (
    'write digits with an optional "." and fraction, such as "12.5" or "0.001" '
    '(no "+", exponent, spaces, underscores, or leading/trailing ".")'
)


class UnitError(ValueError):
    """Text that is not an exact amount of its unit; ``str()`` says what to write instead."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what
        self.message = message


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` exactly, for any integer ``a`` and ``b > 0``."""
    if b <= 0:
        raise ValueError(f"ceil_div needs a positive divisor, got {b}")
    return -(-a // b)


# Units seen so far, by their text: the few tick, step and money sizes of the venue. Keyed by
# text, not by value, since Decimal("0.1") == Decimal("0.10") but the two format differently.
_SPLIT_UNITS: dict[str, tuple[int, int]] = {}
_MAX_SPLIT_UNITS = 1_024


def _split_unit(unit: Decimal) -> tuple[int, int]:
    """``unit == mantissa * 10**exponent`` with ``mantissa > 0``, as two ints."""
    exact = type(unit) is Decimal  # a subclass could print itself otherwise: never cached
    if exact:
        split = _SPLIT_UNITS.get(str(unit))
        if split is not None:
            return split
    if not isinstance(unit, Decimal) or not unit.is_finite() or unit <= 0:
        raise ValueError(f"a unit must be a positive finite Decimal, got {unit!r}")
    _, digits, exponent = unit.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    split = int("".join(map(str, digits))), exponent
    if exact and len(_SPLIT_UNITS) < _MAX_SPLIT_UNITS:
        _SPLIT_UNITS[str(unit)] = split
    return split


def _split_text(text: object, what: str) -> tuple[bool, int, int]:
    """Plain decimal text as ``(negative, mantissa, exponent)``; anything else is a UnitError."""
    if not isinstance(text, str):
        raise UnitError(what, f'{what} must be a decimal string such as "12.5", '
                              f"not {type(text).__name__} {text!r}")
    if not text:
        raise UnitError(what, f'{what} is empty: write a decimal number such as "12.5"')
    if len(text) > _MAX_CHARS:
        raise UnitError(what, f"{what} is {len(text)} characters long: no amount needs more "
                              f"than {_MAX_CHARS}")
    match = _PLAIN.fullmatch(text)
    if match is None:
        raise UnitError(what, f"{what} {text!r} is not a plain decimal number: {_PLAIN_HINT}")
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    return sign == "-", int(whole + fraction), -len(fraction)


def _to_units(text: object, unit: Decimal, what: str, *, signed: bool, too_fine: str) -> int:
    """``text / unit`` exactly. ``too_fine`` starts the message for a non-multiple."""
    negative, mantissa, exponent = _split_text(text, what)
    if negative and mantissa and not signed:
        raise UnitError(what, f"{what} must not be negative, got {text}: write a value >= 0")
    unit_mantissa, unit_exponent = _split_unit(unit)
    shift = exponent - unit_exponent
    scale: int = 10 ** abs(shift)
    if shift >= 0:
        numerator, denominator = mantissa * scale, unit_mantissa
    else:
        numerator, denominator = mantissa, unit_mantissa * scale
    units, remainder = divmod(numerator, denominator)
    sign = -1 if negative else 1
    if remainder:
        below = format_units(sign * units, unit)
        above = format_units(sign * (units + 1), unit)
        raise UnitError(what, f"{what} {text} {too_fine}: use {below} or {above}")
    return sign * units


def parse_units(text: object, unit: Decimal, what: str, *, signed: bool = False) -> int:
    """How many ``unit`` make ``text``: ``parse_units("0.30", Decimal("0.10"), "price") == 3``.

    ``what`` names the field in the error. Negative text is an error unless ``signed``.
    """
    return _to_units(text, unit, what, signed=signed,
                     too_fine=f"is not a multiple of {unit}")


def format_units(n: int, unit: Decimal) -> str:
    """``n`` units as decimal text with as many decimals as ``unit``: 3 * 0.10 -> ``"0.30"``."""
    unit_mantissa, unit_exponent = _split_unit(unit)
    if unit_exponent >= 0:
        return str(n * unit_mantissa * 10**unit_exponent)
    decimals = -unit_exponent
    scaled = n * unit_mantissa
    whole, fraction = divmod(abs(scaled), 10**decimals)
    sign = "-" if scaled < 0 else ""
    return f"{sign}{whole}.{fraction:0{decimals}d}"


def parse_decimal(text: object, what: str) -> Decimal:
    """Plain non-negative decimal text as a ``Decimal`` that keeps its written decimals.

    For sizes that *are* units (tick size, step size): ``"0.10"`` stays two decimals, which is
    how prices of that instrument are then written.
    """
    negative, mantissa, _ = _split_text(text, what)
    if negative and mantissa:
        raise UnitError(what, f"{what} must not be negative, got {text}: write a value >= 0")
    assert isinstance(text, str)  # _split_text took nothing else
    return Decimal(text.lstrip("-"))


def parse_usdt(text: object, what: str, *, signed: bool = False) -> int:
    """USDT text as atoms: ``"12.5"`` -> ``1_250_000_000``. More than 8 decimals is an error."""
    return _to_units(text, _ATOM, what, signed=signed,
                     too_fine="has more than 8 decimals (1 atom = 0.00000001 USDT)")


def format_usdt(atoms: int) -> str:
    """Atoms as USDT text, always 8 decimals: ``1_250_000_000`` -> ``"12.50000000"``."""
    return format_units(atoms, _ATOM)


def parse_ppm(text: object, what: str) -> int:
    """A rate written as a fraction, in ppm: ``"0.0005"`` -> 500. May be negative."""
    return _to_units(text, _ONE_PPM, what, signed=True,
                     too_fine="is finer than 1 ppm (rates have at most 6 decimals)")


def format_ppm(ppm: int) -> str:
    """A ppm rate as the shortest fraction text: 500 -> ``"0.0005"``, 1_000_000 -> ``"1"``."""
    whole, fraction = divmod(abs(ppm), PPM)
    sign = "-" if ppm < 0 else ""
    if not fraction:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{f'{fraction:06d}'.rstrip('0')}"
