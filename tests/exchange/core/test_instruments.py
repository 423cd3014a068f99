from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from exchange.core.instruments import (
    Instrument,
    InstrumentConfigError,
    MarginTier,
    atoms_per_tick_lot,
    instruments_from_config,
    margin_tiers,
)
from exchange.core.units import ATOMS_PER_USDT, PPM, UnitError

USDT = ATOMS_PER_USDT

BTC_TIERS: list[dict[str, Any]] = [
    {"cap": "50000", "max_leverage": 125, "mmr": "0.004"},
    {"cap": "250000", "max_leverage": 100, "mmr": "0.005"},
    {"cap": "1000000", "max_leverage": 50, "mmr": "0.01"},
    {"cap": "10000000", "max_leverage": 20, "mmr": "0.025"},
    {"cap": "20000000", "max_leverage": 10, "mmr": "0.05"},
    {"cap": "50000000", "max_leverage": 5, "mmr": "0.10"},
    {"cap": "100000000", "max_leverage": 4, "mmr": "0.125"},
    {"cap": "200000000", "max_leverage": 3, "mmr": "0.15"},
    {"cap": "300000000", "max_leverage": 2, "mmr": "0.25"},
    {"max_leverage": 1, "mmr": "0.50"},
]

BTC: dict[str, Any] = {
    "base_asset": "BTC", "tick_size": "0.10", "step_size": "0.001", "min_qty": "0.001",
    "max_qty": "1000", "market_max_qty": "120", "min_notional": "100", "price_band": "0.05",
    "market_band": "0.05", "max_open_orders": 200, "max_conditional_orders": 10,
    "maker_fee": "0.0002", "taker_fee": "0.0005", "funding_interval": "8h",
    "interest_rate": "0.0001", "funding_cap": "0.003", "liquidation_fee": "0.0125",
    "tiers": BTC_TIERS,
}

MINIMAL: dict[str, Any] = {
    "base_asset": "BTC", "tick_size": "0.10", "step_size": "0.001", "min_qty": "0.001",
    "max_qty": "1000", "market_max_qty": "120", "min_notional": "100",
    "tiers": [{"cap": "50000", "max_leverage": 125, "mmr": "0.004"},
              {"max_leverage": 100, "mmr": "0.005"}],
}


def config(table: dict[str, Any], symbol: str = "BTCUSDT") -> dict[str, Any]:
    return {"instruments": {symbol: copy.deepcopy(table)}}


def btc() -> Instrument:
    return instruments_from_config(config(BTC))["BTCUSDT"]


# --- the BTCUSDT table of MECHANICS.md ---------------------------------------------------------

def test_btc_fields() -> None:
    i = btc()
    assert (i.symbol, i.base_asset, i.quote_asset) == ("BTCUSDT", "BTC", "USDT")
    assert (i.tick_size, i.step_size) == (Decimal("0.10"), Decimal("0.001"))
    assert (i.min_qty, i.max_qty, i.market_max_qty) == (1, 1_000_000, 120_000)
    assert i.min_notional == 100 * USDT
    assert (i.price_band_ppm, i.market_band_ppm) == (50_000, 50_000)
    assert (i.max_open_orders, i.max_conditional_orders) == (200, 10)
    assert (i.maker_fee_ppm, i.taker_fee_ppm) == (200, 500)
    assert i.funding_interval_ms == 8 * 3600 * 1000
    assert (i.interest_ppm, i.funding_cap_ppm, i.liquidation_fee_ppm) == (100, 3000, 12_500)
    # 0.10 USDT x 0.001 BTC = 0.0001 USDT = 10,000 atoms
    assert i.atoms_per_tick_lot == 10_000


def test_btc_maint_amounts_match_mechanics() -> None:
    tiers = btc().tiers
    assert [t.maint_amount for t in tiers] == [
        a * USDT for a in (0, 50, 1300, 16300, 266300, 1266300, 2516300, 5016300, 25016300,
                           100016300)]
    assert [t.tier for t in tiers] == list(range(1, 11))
    assert [t.max_leverage for t in tiers] == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]
    assert tiers[0].floor == 0 and tiers[1].floor == 50_000 * USDT
    assert tiers[-1].cap is None and tiers[-1].floor == 300_000_000 * USDT


def test_tier_boundaries() -> None:
    i = btc()
    assert i.tier_for(0).tier == 1
    assert i.tier_for(50_000 * USDT).tier == 1  # a cap is inclusive
    assert i.tier_for(50_000 * USDT + 1).tier == 2
    assert i.tier_for(250_000 * USDT).tier == 2
    assert i.tier_for(250_000 * USDT + 1).tier == 3
    assert i.tier_for(300_000_000 * USDT).tier == 9
    assert i.tier_for(300_000_000 * USDT + 1).tier == 10
    assert i.tier_for(10**30).tier == 10
    assert i.max_leverage_for(50_000 * USDT) == 125
    assert i.max_leverage_for(50_000 * USDT + 1) == 100
    assert i.max_leverage_for(10**30) == 1


def test_maintenance_margin_example_of_mechanics() -> None:
    i = btc()
    price, qty = i.parse_price("10000"), i.parse_qty("1")
    notional = i.notional(price, qty)
    assert notional == 10_000 * USDT
    assert i.maintenance_margin(notional) == 40 * USDT == 4_000_000_000


def test_maintenance_margin_is_continuous_at_every_cap() -> None:
    i = btc()
    for lower, upper in zip(i.tiers, i.tiers[1:], strict=False):
        assert lower.cap is not None
        at_cap = i.maintenance_margin(lower.cap)
        by_next_tier = lower.cap * upper.mmr_ppm // PPM - upper.maint_amount
        assert at_cap == by_next_tier
        assert i.maintenance_margin(lower.cap + 1) >= at_cap


def test_maintenance_margin_rounds_up_and_is_never_negative() -> None:
    i = btc()
    assert i.maintenance_margin(0) == 0
    assert i.maintenance_margin(1) == 1  # 0.004 of an atom is asked as a whole atom
    assert i.maintenance_margin(250) == 1
    assert i.maintenance_margin(251) == 2
    assert i.maintenance_margin(60_000 * USDT) == (300 - 50) * USDT


def test_notional_is_absolute() -> None:
    i = btc()
    assert i.notional(100_000, -1000) == i.notional(100_000, 1000) == 10_000 * USDT
    assert i.notional(0, 5) == 0


@pytest.mark.parametrize(("leverage", "cap_usdt"), [
    (125, 50_000), (101, 50_000), (100, 250_000), (51, 250_000), (50, 1_000_000),
    (21, 1_000_000), (20, 10_000_000), (11, 10_000_000), (10, 20_000_000), (5, 50_000_000),
    (4, 100_000_000), (3, 200_000_000), (2, 300_000_000),
])
def test_max_notional_for_leverage(leverage: int, cap_usdt: int) -> None:
    assert btc().max_notional_for_leverage(leverage) == cap_usdt * USDT


def test_max_notional_at_leverage_one_is_unbounded() -> None:
    assert btc().max_notional_for_leverage(1) is None


@pytest.mark.parametrize("leverage", [0, -1, 126])
def test_max_notional_for_an_impossible_leverage(leverage: int) -> None:
    with pytest.raises(ValueError, match="choose 1 to 125"):
        btc().max_notional_for_leverage(leverage)


def test_prices_and_quantities_as_text() -> None:
    i = btc()
    assert i.price_str(100_003) == "10000.30"
    assert i.qty_str(1500) == "1.500"
    assert i.parse_price("10000.3") == 100_003
    assert i.parse_qty("0.002") == 2
    with pytest.raises(UnitError) as exc:
        i.parse_price("10000.35")
    assert exc.value.what == "price" and "0.10" in str(exc.value)
    with pytest.raises(UnitError) as exc:
        i.parse_qty("0.0005")
    assert exc.value.what == "quantity" and "0.001" in str(exc.value)


# --- building instruments and tiers directly ---------------------------------------------------

@pytest.mark.parametrize(("tick", "step", "atoms"), [
    ("0.10", "0.001", 10_000), ("0.01", "0.001", 1000), ("0.010", "0.01", 10_000),
    ("1", "1", USDT), ("10", "0.5", 5 * USDT), ("0.00001", "0.001", 1),
])
def test_atoms_per_tick_lot(tick: str, step: str, atoms: int) -> None:
    assert atoms_per_tick_lot(Decimal(tick), Decimal(step)) == atoms


def test_atoms_per_tick_lot_must_be_whole() -> None:
    with pytest.raises(ValueError, match="coarser"):
        atoms_per_tick_lot(Decimal("0.000001"), Decimal("0.001"))
    with pytest.raises(ValueError, match="positive"):
        atoms_per_tick_lot(Decimal(0), Decimal("0.001"))


def test_margin_tiers() -> None:
    tiers = margin_tiers([(50_000 * USDT, 125, 4000), (None, 100, 5000)])
    assert tiers == (MarginTier(1, 0, 50_000 * USDT, 125, 4000, 0),
                     MarginTier(2, 50_000 * USDT, None, 100, 5000, 50 * USDT))


@pytest.mark.parametrize(("rows", "path", "fix"), [
    ([], "tiers", "at least one tier"),
    ([(1, 125, 4000)], "tiers[0].cap", "remove its cap"),
    ([(None, 125, 4000), (None, 100, 5000)], "tiers[0].cap", "give it a cap"),
    ([(0, 125, 4000), (None, 100, 5000)], "tiers[0].cap", "above 0"),
    ([(None, 0, 4000)], "tiers[0].max_leverage", "1 or more"),
    ([(None, 10, 0)], "tiers[0].mmr", "above 0 and below 1"),
    ([(None, 10, PPM)], "tiers[0].mmr", "above 0 and below 1"),
    ([(None, 125, 8000)], "tiers[0].mmr", "lower the mmr or the max_leverage"),
    ([(10, 125, 4000), (10, 100, 5000), (None, 50, 6000)], "tiers[1].cap", "caps must increase"),
    ([(10, 100, 4000), (None, 125, 5000)], "tiers[1].max_leverage", "at most 100"),
    ([(10, 100, 5000), (None, 50, 4000)], "tiers[1].mmr", "at least 0.005"),
    ([(3, 100, 4000), (None, 50, 5000)], "tiers[1].mmr", "multiple of 0.00000001"),
])
def test_margin_tiers_rejects(rows: list[tuple[int | None, int, int]], path: str,
                              fix: str) -> None:
    with pytest.raises(ValueError) as exc:
        margin_tiers(rows)
    assert str(exc.value).startswith(path + ":")
    assert fix in str(exc.value)


def direct(**changes: Any) -> Instrument:
    fields: dict[str, Any] = {
        "symbol": "BTCUSDT", "base_asset": "BTC", "tick_size": Decimal("0.10"),
        "step_size": Decimal("0.001"), "min_qty": 1, "max_qty": 1_000_000,
        "market_max_qty": 120_000, "min_notional": 100 * USDT,
        "tiers": margin_tiers([(50_000 * USDT, 125, 4000), (None, 100, 5000)]),
        "funding_cap_ppm": 3000,
    }
    fields.update(changes)
    return Instrument(**fields)


def test_direct_construction_has_the_stated_defaults() -> None:
    i = direct()
    assert i.quote_asset == "USDT"
    assert (i.price_band_ppm, i.market_band_ppm) == (50_000, 50_000)
    assert (i.max_open_orders, i.max_conditional_orders) == (200, 10)
    assert (i.maker_fee_ppm, i.taker_fee_ppm) == (200, 500)
    assert (i.funding_interval_ms, i.interest_ppm) == (28_800_000, 100)
    assert i.liquidation_fee_ppm == 12_500
    assert i.atoms_per_tick_lot == 10_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        i.min_qty = 2  # type: ignore[misc]


def test_direct_construction_checks_derived_fields() -> None:
    with pytest.raises(ValueError, match="coarser"):
        direct(tick_size=Decimal("0.000000001"))
    bad = (MarginTier(1, 0, None, 125, 4000, 7),)
    with pytest.raises(ValueError, match="inconsistent"):
        direct(tiers=bad)
    with pytest.raises(ValueError, match="at least one tier"):
        direct(tiers=())


# --- instruments_from_config -------------------------------------------------------------------

def test_optional_keys_take_their_defaults() -> None:
    i = instruments_from_config(config(MINIMAL))["BTCUSDT"]
    assert i == dataclasses.replace(direct(), funding_cap_ppm=3000)
    assert i.funding_cap_ppm == 3000  # 0.75 x tier-1 mmr 0.4%


@pytest.mark.parametrize(("mmr", "cap_ppm"), [("0.005", 3750), ("0.004", 3000),
                                              ("0.000005", 3)])
def test_funding_cap_defaults_to_three_quarters_of_tier_one_mmr(mmr: str, cap_ppm: int) -> None:
    table = copy.deepcopy(MINIMAL)
    table["tiers"] = [{"max_leverage": 10, "mmr": mmr}]
    assert instruments_from_config(config(table))["BTCUSDT"].funding_cap_ppm == cap_ppm


@pytest.mark.parametrize(("text", "ms"), [("8h", 28_800_000), ("1h", 3_600_000),
                                          ("30m", 1_800_000), ("10s", 10_000), ("1s", 1000),
                                          ("1d", 86_400_000)])
def test_funding_interval(text: str, ms: int) -> None:
    table = {**MINIMAL, "funding_interval": text}
    assert instruments_from_config(config(table))["BTCUSDT"].funding_interval_ms == ms


def test_a_maker_rebate_up_to_the_taker_fee_is_allowed() -> None:
    table = {**MINIMAL, "maker_fee": "-0.0005", "taker_fee": "0.0005", "quote_asset": "USDT"}
    i = instruments_from_config(config(table))["BTCUSDT"]
    assert (i.maker_fee_ppm, i.taker_fee_ppm) == (-500, 500)


def test_several_instruments() -> None:
    eth = {**MINIMAL, "base_asset": "ETH", "tick_size": "0.01"}
    got = instruments_from_config({"instruments": {"BTCUSDT": MINIMAL, "ETHUSDT": eth}})
    assert list(got) == ["BTCUSDT", "ETHUSDT"]
    assert got["ETHUSDT"].atoms_per_tick_lot == 1000


def test_error_carries_source_path_and_message() -> None:
    with pytest.raises(InstrumentConfigError) as exc:
        instruments_from_config(config({**MINIMAL, "tick_size": "0"}), "my.toml")
    e = exc.value
    assert (e.source, e.path) == ("my.toml", "instruments.BTCUSDT.tick_size")
    assert str(e) == f"my.toml: instruments.BTCUSDT.tick_size: {e.message}"
    assert isinstance(e, ValueError)


Mutate = Callable[[dict[str, Any]], None]


def setter(key: str, value: object) -> Mutate:
    def mutate(table: dict[str, Any]) -> None:
        table[key] = value
    return mutate


def deleter(key: str) -> Mutate:
    def mutate(table: dict[str, Any]) -> None:
        del table[key]
    return mutate


def tier_setter(index: int, key: str, value: object) -> Mutate:
    def mutate(table: dict[str, Any]) -> None:
        table["tiers"][index][key] = value
    return mutate


def tier_deleter(index: int, key: str) -> Mutate:
    def mutate(table: dict[str, Any]) -> None:
        del table["tiers"][index][key]
    return mutate


P = "instruments.BTCUSDT."

INSTRUMENT_ERRORS: list[tuple[str, Mutate, str, str]] = [
    ("unknown key", setter("tick", "0.1"), P + "tick", "did you mean 'tick_size'"),
    ("unknown key lists allowed", setter("colour", "red"), P + "colour", "allowed keys are"),
    ("missing key", deleter("tick_size"), P + "tick_size", 'add tick_size = "0.10"'),
    ("missing tiers", deleter("tiers"), P + "tiers", "add tiers = [{ cap"),
    ("base not string", setter("base_asset", 5), P + "base_asset", 'base_asset = "5"'),
    ("base lowercase", setter("base_asset", "btc"), P + "base_asset", 'base_asset = "BTC"'),
    ("base mismatch", setter("base_asset", "ETH"), P + "base_asset", "fix base_asset"),
    ("quote not USDT", setter("quote_asset", "USDC"), P + "quote_asset",
     'write quote_asset = "USDT"'),
    ("tick float", setter("tick_size", Decimal("0.1")), P + "tick_size", 'tick_size = "0.1"'),
    ("tick bool", setter("tick_size", True), P + "tick_size", 'tick_size = "0.10"'),
    ("tick zero", setter("tick_size", "0"), P + "tick_size", 'such as tick_size = "0.10"'),
    ("tick garbage", setter("tick_size", "0.1x"), P + "tick_size", "such as"),
    ("tick negative", setter("tick_size", "-0.1"), P + "tick_size", ">= 0"),
    ("step zero", setter("step_size", "0.000"), P + "step_size", 'such as step_size = "0.001"'),
    ("atoms not whole", setter("tick_size", "0.000000001"), P + "step_size", "coarser"),
    ("min qty off step", setter("min_qty", "0.0015"), P + "min_qty", "use 0.001 or 0.002"),
    ("min qty zero", setter("min_qty", "0"), P + "min_qty", 'min_qty = "0.001" or more'),
    ("max below min", setter("max_qty", "0.0005"), P + "max_qty", "use 0.000 or 0.001"),
    ("max below min 2", setter("min_qty", "2000"), P + "max_qty", "max_qty >= min_qty"),
    ("market max above max", setter("market_max_qty", "1001"), P + "market_max_qty",
     "between min_qty 0.001 and max_qty 1000.000"),
    ("min notional negative", setter("min_notional", "-1"), P + "min_notional", ">= 0"),
    ("min notional too fine", setter("min_notional", "0.000000001"), P + "min_notional",
     "use 0.00000000 or 0.00000001"),
    ("price band zero", setter("price_band", "0"), P + "price_band", 'price_band = "0.05"'),
    ("price band one", setter("price_band", "1"), P + "price_band", "below 1"),
    ("market band", setter("market_band", "1.5"), P + "market_band", 'market_band = "0.05"'),
    ("band not a string", setter("price_band", 5), P + "price_band", 'price_band = "5"'),
    ("orders zero", setter("max_open_orders", 0), P + "max_open_orders", "1 or more"),
    ("orders quoted", setter("max_open_orders", "200"), P + "max_open_orders",
     "write max_open_orders = 200"),
    ("orders bool", setter("max_open_orders", True), P + "max_open_orders",
     "whole number without quotes"),
    ("orders float", setter("max_open_orders", Decimal("2.5")), P + "max_open_orders",
     "max_open_orders = 200"),
    ("conditional negative", setter("max_conditional_orders", -1), P + "max_conditional_orders",
     "0 (no stop orders) or more"),
    ("maker fee 10%", setter("maker_fee", "0.1"), P + "maker_fee", "below 0.1"),
    ("maker fee -1%", setter("maker_fee", "-0.01"), P + "maker_fee", "above -0.01"),
    ("taker fee 10%", setter("taker_fee", "0.10"), P + "taker_fee", 'taker_fee = "0.0005"'),
    ("fee too fine", setter("taker_fee", "0.00055555"), P + "taker_fee", "finer than 1 ppm"),
    ("rebate above taker", setter("maker_fee", "-0.0006"), P + "maker_fee",
     "maker_fee >= -taker_fee"),
    ("interval words", setter("funding_interval", "8 hours"), P + "funding_interval",
     '"8h" or "30m"'),
    ("interval ms", setter("funding_interval", "500ms"), P + "funding_interval", '"8h"'),
    ("interval zero", setter("funding_interval", "0s"), P + "funding_interval", "at least 1s"),
    ("interval number", setter("funding_interval", 8), P + "funding_interval",
     'funding_interval = "8"'),
    ("interest 100%", setter("interest_rate", "1"), P + "interest_rate", "between -1 and 1"),
    ("funding cap negative", setter("funding_cap", "-0.001"), P + "funding_cap",
     'funding_cap = "0.003"'),
    ("funding cap one", setter("funding_cap", "1"), P + "funding_cap", "below 1"),
    ("liquidation fee negative", setter("liquidation_fee", "-0.01"), P + "liquidation_fee",
     'liquidation_fee = "0.0125"'),
    ("tiers not an array", setter("tiers", {"cap": "1"}), P + "tiers", "array of tables"),
    ("tiers empty", setter("tiers", []), P + "tiers", "at least one tier"),
    ("tier not a table", setter("tiers", [5]), P + "tiers[0]", "max_leverage = 125"),
    ("tier unknown key", tier_setter(1, "leverage", 100), P + "tiers[1].leverage",
     "did you mean 'max_leverage'"),
    ("tier missing mmr", tier_deleter(2, "mmr"), P + "tiers[2].mmr", 'add mmr = "0.004"'),
    ("tier missing leverage", tier_deleter(0, "max_leverage"), P + "tiers[0].max_leverage",
     "add max_leverage = 125"),
    ("tier missing cap", tier_deleter(3, "cap"), P + "tiers[3].cap", "give it a cap"),
    ("last tier with cap", tier_setter(9, "cap", "400000000"), P + "tiers[9].cap",
     "remove its cap"),
    ("cap zero", tier_setter(0, "cap", "0"), P + "tiers[0].cap", 'cap = "50000"'),
    ("cap unquoted", tier_setter(0, "cap", 50000), P + "tiers[0].cap", 'cap = "50000"'),
    ("cap not increasing", tier_setter(2, "cap", "250000"), P + "tiers[2].cap",
     "caps must increase"),
    ("leverage zero", tier_setter(9, "max_leverage", 0), P + "tiers[9].max_leverage",
     "1 or more"),
    ("leverage quoted", tier_setter(0, "max_leverage", "125"), P + "tiers[0].max_leverage",
     "write max_leverage = 125"),
    ("leverage rising", tier_setter(1, "max_leverage", 126), P + "tiers[1].max_leverage",
     "at most 125"),
    ("mmr zero", tier_setter(0, "mmr", "0"), P + "tiers[0].mmr", 'mmr = "0.004"'),
    ("mmr one", tier_setter(9, "mmr", "1"), P + "tiers[9].mmr", "below 1"),
    ("mmr falling", tier_setter(1, "mmr", "0.003"), P + "tiers[1].mmr", "at least 0.004"),
    ("mmr above 1/leverage", tier_setter(0, "mmr", "0.008"), P + "tiers[0].mmr",
     "lower the mmr or the max_leverage"),
    ("maint not whole atoms", tier_setter(0, "cap", "0.00000003"), P + "tiers[1].mmr",
     "multiple of 0.00000001"),
]


@pytest.mark.parametrize(("mutate", "path", "fix"), [c[1:] for c in INSTRUMENT_ERRORS],
                         ids=[c[0] for c in INSTRUMENT_ERRORS])
def test_instrument_errors(mutate: Mutate, path: str, fix: str) -> None:
    table = copy.deepcopy(BTC)
    mutate(table)
    with pytest.raises(InstrumentConfigError) as exc:
        instruments_from_config(config(table), "test.toml")
    assert exc.value.source == "test.toml"
    assert exc.value.path == path
    assert fix in exc.value.message


@pytest.mark.parametrize(("document", "path", "fix"), [
    ({}, "instruments", "define at least one instrument"),
    ({"instruments": {}}, "instruments", "[instruments.BTCUSDT]"),
    ({"instruments": 5}, "instruments", "[instruments.BTCUSDT]"),
    ({"instrument": {"BTCUSDT": BTC}}, "instrument", "[instruments.SYMBOL]"),
    ({"instruments": {"btcusdt": BTC}}, "instruments.btcusdt", "[instruments.BTCUSDT]"),
    ({"instruments": {"BTC-USDT": BTC}}, "instruments.BTC-USDT", "uppercase letters and digits"),
    ({"instruments": {"BTCUSDT": 5}}, "instruments.BTCUSDT", "write [instruments.BTCUSDT]"),
    ([], "", "[instruments] section"),
])
def test_document_errors(document: Any, path: str, fix: str) -> None:
    with pytest.raises(InstrumentConfigError) as exc:
        instruments_from_config(document)
    assert exc.value.source == "<config>"
    assert exc.value.path == path
    assert fix in exc.value.message
