"""The facade's pieces on their own: the venue's rejections all have a Binance code, kline
buckets, stream names, listen keys and number formats."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from exchange.config import load_instruments
from exchange.core.errors import Code
from exchange.core.events import Rejected
from exchange.server.binance import errors, formats, klines
from exchange.server.binance.signing import without_signature
from exchange.server.binance.state import LISTEN_KEY_TTL_MS, ListenKeys
from exchange.server.binance.ws import parse_stream


@pytest.mark.parametrize("code", list(Code))
def test_every_venue_rejection_has_a_binance_code(code: Code) -> None:
    error = errors.from_rejection(Rejected(1, 2, "PlaceOrder", 1, code, "why"))
    assert error.code < 0 and error.msg
    assert error.code != errors.UNKNOWN or code is Code.ACCOUNT_EXISTS


def test_the_errors_ccxt_keys_on() -> None:
    margin = errors.from_rejection(Rejected(1, 2, "PlaceOrder", 1, Code.INSUFFICIENT_MARGIN, ""))
    assert (margin.code, margin.msg) == (-2019, errors.MSG_INSUFFICIENT)
    transfer = errors.from_rejection(Rejected(1, 2, "AdjustIsolatedMargin", 1,
                                              Code.INSUFFICIENT_BALANCE, ""))
    assert transfer.code == -4050
    unknown = errors.from_rejection(Rejected(1, 2, "CancelOrder", 1, Code.UNKNOWN_ORDER, ""))
    assert (unknown.code, unknown.msg) == (-2011, "Unknown order sent.")
    low = errors.from_rejection(Rejected(1, 2, "PlaceOrder", 1, Code.PRICE_OUT_OF_BAND, "x"),
                                above_mark=False)
    assert low.code == -4024


def ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * 1000


def test_kline_buckets() -> None:
    wednesday = ms(2026, 3, 4, 13, 47)
    assert klines.bucket("1w", wednesday) == (ms(2026, 3, 2), ms(2026, 3, 9) - 1)  # Monday
    assert klines.bucket("1M", wednesday) == (ms(2026, 3, 1), ms(2026, 4, 1) - 1)
    assert klines.bucket("1M", ms(2026, 12, 31, 23)) == (ms(2026, 12, 1), ms(2027, 1, 1) - 1)
    assert klines.bucket("3m", ms(2026, 3, 4, 13, 47, 30)) == (ms(2026, 3, 4, 13, 45),
                                                               ms(2026, 3, 4, 13, 48) - 1)
    assert klines.bucket("8h", wednesday) == (ms(2026, 3, 4, 8), ms(2026, 3, 4, 16) - 1)


def test_candles_merge_bars() -> None:
    class Bar:
        def __init__(self, t: int, o: int, h: int, low: int, c: int) -> None:
            self.open_time, self.open, self.high, self.low, self.close = t, o, h, low, c
            self.volume, self.quote_volume, self.trades = 2, 20, 1

    start = ms(2026, 3, 4, 13, 45)
    bars = [Bar(start + i * 60_000, 10 + i, 20 + i, 5 - i, 11 + i) for i in range(4)]
    merged = klines.candles("3m", bars)
    assert [(c.open, c.high, c.low, c.close, c.volume, c.trades) for c in merged] == [
        (10, 22, 3, 13, 6, 3), (13, 23, 2, 14, 2, 1)]
    assert klines.select(merged, None, None, 1) == merged[-1:]
    assert klines.select(merged, start + 1, None, 5) == merged[1:]


def test_stream_names() -> None:
    instruments = load_instruments(None)
    assert parse_stream("btcusdt@depth", instruments).every_ms == 250  # type: ignore[union-attr]
    depth = parse_stream("BTCUSDT@depth10@100ms", instruments)
    assert depth is not None and (depth.name, depth.levels, depth.every_ms) == (
        "btcusdt@depth10@100ms", 10, 100)
    assert parse_stream("btcusdt@depth@0ms", instruments).every_ms == 100  # type: ignore[union-attr]
    assert parse_stream("ethusdt@kline_1M", instruments).interval == "1M"  # type: ignore[union-attr]
    assert parse_stream("!markPrice@arr@1s", instruments).every_ms == 1000  # type: ignore[union-attr]
    for bad in ("btcusdt@depth7", "btcusdt@kline_7m", "dogeusdt@trade", "btcusdt", "@trade",
                "btcusdt@aggtrade", "!foo@arr"):
        assert parse_stream(bad, instruments) is None, bad


def test_listen_keys() -> None:
    keys = ListenKeys()
    key = keys.create(7, 1_000)
    assert keys.create(7, 2_000) == key and keys.user_of(key, 2_000) == 7
    assert keys.keepalive(7, None, 3_000) and not keys.keepalive(8, key, 3_000)
    assert keys.user_of(key, 3_000 + LISTEN_KEY_TTL_MS + 1) is None
    assert keys.expired(3_000 + LISTEN_KEY_TTL_MS + 1) == [key]
    assert keys.create(7, 10**10) != key
    assert not keys.close(8, None) and keys.close(7, None)


def test_signature_is_left_out_of_the_signed_text() -> None:
    assert without_signature(b"a=1&signature=ff&b=2") == b"a=1&b=2"
    assert without_signature(b"a=1&b=2") == b"a=1&b=2"


def test_number_formats() -> None:
    assert formats.fraction_str(Fraction(2, 3), 4) == "0.6667"
    assert formats.plain(Fraction(3, 2)) == "1.5" and formats.plain(Fraction(0)) == "0"
    assert formats.percent(15_000) == "1.5" and formats.percent(None) == "0"


# Codes ccxt maps only for Binance's own host (its "linear" table), where our answers raise a
# more general exception (NOTES.md says which and why). Every other code: the same exception.
HOST_ONLY = {-5022, -4164, -4116, -4120, -2022, -2025, -2027, -5025, -5027, -5039}


def test_ccxt_raises_what_it_raises_against_binance() -> None:
    import ccxt

    exchange = ccxt.binanceusdm()
    generic, linear = exchange.exceptions["exact"], exchange.exceptions["linear"]["exact"]
    answers = {(code, msg) for code, msg in errors._BY_CODE.values() if msg is not None}
    answers |= set(errors._TRANSFER.values())
    for code, msg in answers:
        binance = linear.get(str(code)) or generic.get(str(code))
        ours = generic.get(msg) or generic.get(str(code))
        if code in (-2018, -2019, -2021):  # Binance's generic message carries the class here
            assert ours is not None and binance is not None and issubclass(ours, binance)
        elif code in HOST_ONLY:
            assert binance is not None and ours is not binance
        else:
            assert ours is binance, (code, msg)
