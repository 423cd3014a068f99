from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.config import default_instruments_text, load_instruments
from exchange.core.instruments import InstrumentConfigError, instruments_from_config
from exchange.core.units import ATOMS_PER_USDT as USDT

GOOD = """
[instruments.BTCUSDT]
base_asset = "BTC"
tick_size = "0.10"
step_size = "0.001"
min_qty = "0.001"
max_qty = "1000"
market_max_qty = "120"
min_notional = "100"
tiers = [
  { cap = "50000", max_leverage = 125, mmr = "0.004" },
  { max_leverage = 100, mmr = "0.005" },
]
"""


def test_default_instruments() -> None:
    instruments = load_instruments()
    assert list(instruments) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    btc, eth, sol = instruments.values()
    assert [t.maint_amount // USDT for t in btc.tiers] == [
        0, 50, 1300, 16300, 266300, 1266300, 2516300, 5016300, 25016300, 100016300]
    assert all(t.maint_amount % USDT == 0 for i in instruments.values() for t in i.tiers)
    assert (btc.funding_cap_ppm, eth.funding_cap_ppm, sol.funding_cap_ppm) == (3000, 3000, 3750)
    assert (btc.atoms_per_tick_lot, eth.atoms_per_tick_lot, sol.atoms_per_tick_lot) == (
        10_000, 1000, 10_000)


def test_default_btcusdt_filters() -> None:
    btc = load_instruments()["BTCUSDT"]
    assert (btc.price_str(100_003), btc.qty_str(1)) == ("10000.30", "0.001")
    assert (btc.min_qty, btc.max_qty, btc.market_max_qty) == (1, 1_000_000, 120_000)
    assert btc.min_notional == 100 * USDT
    assert (btc.price_band_ppm, btc.market_band_ppm) == (50_000, 50_000)
    assert (btc.max_open_orders, btc.max_conditional_orders) == (200, 10)
    assert (btc.maker_fee_ppm, btc.taker_fee_ppm) == (200, 500)
    assert (btc.interest_ppm, btc.liquidation_fee_ppm) == (100, 12_500)
    assert btc.funding_interval_ms == 8 * 3_600_000


def test_default_eth_and_sol_tables() -> None:
    instruments = load_instruments()
    eth, sol = instruments["ETHUSDT"], instruments["SOLUSDT"]
    assert [t.cap // USDT if t.cap else None for t in eth.tiers] == [
        300_000, 800_000, 3_000_000, 12_000_000, 50_000_000, 65_000_000, 150_000_000,
        320_000_000, 400_000_000, 530_000_000, 800_000_000, None]
    assert [t.max_leverage for t in eth.tiers] == [150, 100, 75, 50, 25, 20, 10, 5, 4, 3, 2, 1]
    assert [t.mmr_ppm for t in eth.tiers] == [
        4000, 5000, 6500, 10_000, 20_000, 25_000, 50_000, 100_000, 125_000, 150_000, 250_000,
        500_000]
    assert (eth.tick_size, eth.step_size, eth.min_notional) == (
        Decimal("0.01"), Decimal("0.001"), 20 * USDT)
    assert [t.cap // USDT if t.cap else None for t in sol.tiers] == [
        50_000, 400_000, 1_000_000, 4_000_000, 8_000_000, 40_000_000, 80_000_000, 100_000_000,
        200_000_000, None]
    assert [t.max_leverage for t in sol.tiers] == [100, 75, 50, 25, 20, 10, 5, 4, 2, 1]
    assert [t.mmr_ppm for t in sol.tiers] == [
        5000, 6500, 10_000, 20_000, 25_000, 50_000, 100_000, 125_000, 250_000, 500_000]
    assert sol.price_str(15_000) == "150.000"
    assert (sol.qty_str(1), sol.min_qty, sol.market_max_qty) == ("0.01", 1, 500_000)


def test_default_text_is_the_packaged_file() -> None:
    text = default_instruments_text()
    assert text.startswith("#")
    assert "[instruments.BTCUSDT]" in text
    packaged = Path(__file__).resolve().parents[2] / "exchange" / "default_instruments.toml"
    assert text == packaged.read_text(encoding="utf-8")
    parsed = tomllib.loads(text)
    assert instruments_from_config(parsed) == load_instruments()


def test_load_a_file(tmp_path: Path) -> None:
    path = tmp_path / "instruments.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert list(load_instruments(path)) == ["BTCUSDT"]
    assert load_instruments(str(path))["BTCUSDT"].funding_cap_ppm == 3000


def test_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "instruments.toml"
    path.write_text(GOOD.replace('tick_size = "0.10"', 'tick_size = "0.1.0"'), encoding="utf-8")
    with pytest.raises(InstrumentConfigError) as exc:
        load_instruments(path)
    assert exc.value.source == str(path)
    assert exc.value.path == "instruments.BTCUSDT.tick_size"
    assert str(exc.value).startswith(f"{path}: instruments.BTCUSDT.tick_size: ")


def test_an_unquoted_decimal_is_read_exactly_and_asked_for_in_quotes(tmp_path: Path) -> None:
    path = tmp_path / "instruments.toml"
    path.write_text(GOOD.replace('tick_size = "0.10"', "tick_size = 0.10"), encoding="utf-8")
    with pytest.raises(InstrumentConfigError) as exc:
        load_instruments(path)
    assert exc.value.path == "instruments.BTCUSDT.tick_size"
    assert 'write tick_size = "0.10"' in exc.value.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(InstrumentConfigError) as exc:
        load_instruments(path)
    assert exc.value.source == str(path)
    assert exc.value.path == ""
    assert "file not found" in exc.value.message
    assert str(exc.value).startswith(f"{path}: file not found")


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InstrumentConfigError, match="cannot read the file"):
        load_instruments(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(GOOD.replace("BTC\"", "BT\xc7\"").encode("latin-1"))
    with pytest.raises(InstrumentConfigError, match="save the file as UTF-8"):
        load_instruments(path)


def test_toml_syntax_error_has_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[instruments.BTCUSDT]\nbase_asset = "BTC"\ntick_size = \n', encoding="utf-8")
    with pytest.raises(InstrumentConfigError) as exc:
        load_instruments(path)
    assert exc.value.source == str(path)
    assert "not valid TOML" in exc.value.message
    assert "line 3" in exc.value.message
