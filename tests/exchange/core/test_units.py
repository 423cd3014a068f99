from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

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

TICK = Decimal("0.10")


def test_constants() -> None:
    assert ATOMS_PER_USDT == 10**8
    assert PPM == 10**6


@pytest.mark.parametrize(("a", "b", "expected"), [
    (0, 3, 0), (1, 3, 1), (3, 3, 1), (4, 3, 2), (-1, 3, 0), (-3, 3, -1), (-4, 3, -1),
    (10**30 + 1, 10**30, 2),
])
def test_ceil_div(a: int, b: int, expected: int) -> None:
    assert ceil_div(a, b) == expected


@pytest.mark.parametrize("b", [0, -1])
def test_ceil_div_needs_a_positive_divisor(b: int) -> None:
    with pytest.raises(ValueError, match="positive divisor"):
        ceil_div(1, b)


@given(st.integers(), st.integers(min_value=1, max_value=10**12))
def test_ceil_div_is_the_exact_ceiling(a: int, b: int) -> None:
    q = ceil_div(a, b)
    assert q * b >= a > (q - 1) * b


@pytest.mark.parametrize(("text", "unit", "expected"), [
    ("0.30", "0.10", 3), ("0.3", "0.10", 3), ("0", "0.10", 0), ("0.00", "0.10", 0),
    ("12345.6", "0.10", 123456), ("1000", "0.001", 1_000_000), ("0.001", "0.001", 1),
    ("25", "5", 5), ("100", "1E+1", 10), ("0.05", "0.010", 5), ("-0", "0.10", 0),
    ("007.50", "0.5", 15),
])
def test_parse_units(text: str, unit: str, expected: int) -> None:
    assert parse_units(text, Decimal(unit), "price") == expected


@pytest.mark.parametrize("text", [
    "nan", "NaN", "inf", "-inf", "Infinity", "1e5", "1E5", "", " 1", "1 ", "+1", "0x10",
    "1_000", ".5", "1.", "1..0", "1,5", "--1", "٣", "1.2.3", "abc",
])
def test_parse_units_rejects_what_is_not_a_plain_decimal(text: str) -> None:
    with pytest.raises(UnitError) as exc:
        parse_units(text, TICK, "price")
    assert exc.value.what == "price"
    assert "price" in str(exc.value)
    assert "such as" in str(exc.value)  # the message shows what to write


def test_parse_units_rejects_a_non_multiple_and_names_the_tick() -> None:
    with pytest.raises(UnitError) as exc:
        parse_units("0.35", TICK, "price")
    message = str(exc.value)
    assert "0.10" in message
    assert "use 0.30 or 0.40" in message
    assert exc.value.message == message


def test_parse_units_rejects_negatives_unless_signed() -> None:
    with pytest.raises(UnitError, match="must not be negative"):
        parse_units("-0.30", TICK, "quantity")
    assert parse_units("-0.30", TICK, "pnl", signed=True) == -3
    with pytest.raises(UnitError) as exc:
        parse_units("-0.35", TICK, "pnl", signed=True)
    assert "use -0.30 or -0.40" in str(exc.value)


def test_parse_units_rejects_other_types_and_huge_text() -> None:
    with pytest.raises(UnitError, match="must be a decimal string"):
        parse_units(1, TICK, "price")  # type: ignore[arg-type]
    with pytest.raises(UnitError, match="characters long"):
        parse_units("1" * 65, TICK, "price")
    assert parse_units("1" * 64, Decimal(1), "price") == int("1" * 64)


@pytest.mark.parametrize("unit", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_a_unit_must_be_positive_and_finite(unit: Decimal) -> None:
    with pytest.raises(ValueError, match="unit"):
        parse_units("1", unit, "price")
    with pytest.raises(ValueError, match="unit"):
        format_units(1, unit)


@pytest.mark.parametrize(("n", "unit", "expected"), [
    (3, "0.10", "0.30"), (-3, "0.10", "-0.30"), (0, "0.10", "0.00"), (123456, "0.10", "12345.60"),
    (1, "0.001", "0.001"), (1_000_000, "0.001", "1000.000"), (5, "5", "25"), (10, "1E+1", "100"),
    (5, "0.010", "0.050"), (-1, "0.001", "-0.001"),
])
def test_format_units(n: int, unit: str, expected: str) -> None:
    assert format_units(n, Decimal(unit)) == expected


def test_equal_units_written_differently_keep_their_own_decimals() -> None:
    # The units' splits are remembered; Decimal("0.1") == Decimal("0.10") must not share one.
    for _ in range(2):
        assert format_units(3, Decimal("0.1")) == "0.3"
        assert format_units(3, Decimal("0.10")) == "0.30"
        assert format_units(3, Decimal("0.100")) == "0.300"
        assert parse_units("0.3", Decimal("0.10"), "price") == 3


def test_parse_decimal_keeps_the_written_decimals() -> None:
    assert str(parse_decimal("0.10", "tick_size")) == "0.10"
    assert parse_decimal("0", "tick_size") == 0
    with pytest.raises(UnitError, match="must not be negative"):
        parse_decimal("-0.1", "tick_size")
    with pytest.raises(UnitError, match="plain decimal"):
        parse_decimal("1e-1", "tick_size")


@pytest.mark.parametrize(("text", "atoms"), [
    ("12.5", 1_250_000_000), ("0.00000001", 1), ("0", 0), ("100", 100 * ATOMS_PER_USDT),
    ("1.10000000", 110_000_000),
])
def test_parse_usdt(text: str, atoms: int) -> None:
    assert parse_usdt(text, "amount") == atoms


def test_parse_usdt_errors() -> None:
    with pytest.raises(UnitError, match="more than 8 decimals") as exc:
        parse_usdt("0.000000015", "amount")
    assert "use 0.00000001 or 0.00000002" in str(exc.value)
    assert exc.value.what == "amount"
    with pytest.raises(UnitError, match="must not be negative"):
        parse_usdt("-1", "amount")
    assert parse_usdt("-1.5", "pnl", signed=True) == -150_000_000


@pytest.mark.parametrize(("atoms", "text"), [
    (1_250_000_000, "12.50000000"), (0, "0.00000000"), (1, "0.00000001"),
    (-1_250_000_000, "-12.50000000"),
])
def test_format_usdt(atoms: int, text: str) -> None:
    assert format_usdt(atoms) == text


@pytest.mark.parametrize(("text", "ppm"), [
    ("0.0005", 500), ("0.004", 4000), ("0.0001", 100), ("-0.0001", -100), ("1", PPM),
    ("0.000001", 1), ("0", 0), ("0.0125", 12_500), ("0.50", 500_000),
])
def test_parse_ppm(text: str, ppm: int) -> None:
    assert parse_ppm(text, "rate") == ppm


def test_parse_ppm_rejects_what_is_finer_than_one_ppm() -> None:
    with pytest.raises(UnitError, match="finer than 1 ppm") as exc:
        parse_ppm("0.0000005", "maker_fee")
    assert "use 0.000000 or 0.000001" in str(exc.value)
    with pytest.raises(UnitError, match="plain decimal"):
        parse_ppm("5%", "maker_fee")


@pytest.mark.parametrize(("ppm", "text"), [
    (500, "0.0005"), (4000, "0.004"), (0, "0"), (PPM, "1"), (-100, "-0.0001"),
    (1, "0.000001"), (1_500_000, "1.5"), (12_500, "0.0125"),
])
def test_format_ppm(ppm: int, text: str) -> None:
    assert format_ppm(ppm) == text


UNITS = st.sampled_from([
    Decimal(u) for u in ("0.10", "0.01", "0.001", "0.010", "1", "0.5", "25", "1E+1", "0.00000001")
])


@given(st.integers(min_value=0, max_value=10**20), UNITS)
def test_units_round_trip_from_int(n: int, unit: Decimal) -> None:
    assert parse_units(format_units(n, unit), unit, "x") == n


@given(st.integers(min_value=-(10**20), max_value=10**20), UNITS)
def test_signed_units_round_trip_from_int(n: int, unit: Decimal) -> None:
    assert parse_units(format_units(n, unit), unit, "x", signed=True) == n


@given(st.decimals(min_value=0, max_value=10**12, places=3, allow_nan=False,
                   allow_infinity=False))
def test_units_round_trip_from_text(value: Decimal) -> None:
    text = f"{value:f}"
    step = Decimal("0.001")
    lots = parse_units(text, step, "quantity")
    # Formatting writes the unit's decimals; the value is the same number.
    assert Decimal(format_units(lots, step)) == value


@given(st.integers(min_value=-(10**24), max_value=10**24))
def test_usdt_round_trip(atoms: int) -> None:
    text = format_usdt(atoms)
    assert parse_usdt(text, "amount", signed=True) == atoms
    if atoms >= 0:
        assert parse_usdt(text, "amount") == atoms


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_ppm_round_trip(ppm: int) -> None:
    text = format_ppm(ppm)
    assert "e" not in text.lower()
    assert parse_ppm(text, "rate") == ppm
