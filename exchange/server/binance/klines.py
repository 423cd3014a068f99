"""Binance's kline intervals, built from the server's bars (1m, 5m, 15m, 1h, 4h, 1d).

Each Binance interval is made of bars of the longest server interval that divides it (3m of
1m bars, 30m of 15m bars, 1w of 1d bars...). Weeks start on Monday 00:00 UTC and months on the
first of the month, as on Binance; other intervals are aligned to the epoch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple, Protocol

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
MONDAY_OFFSET = 4 * DAY  # 1970-01-01 was a Thursday: the first Monday is 4 days later

SPANS: dict[str, int | None] = {
    "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE,
    "1h": HOUR, "2h": 2 * HOUR, "4h": 4 * HOUR, "6h": 6 * HOUR, "8h": 8 * HOUR,
    "12h": 12 * HOUR, "1d": DAY, "3d": 3 * DAY, "1w": WEEK, "1M": None,
}
BASE = {"1m": "1m", "3m": "1m", "5m": "5m", "15m": "15m", "30m": "15m", "1h": "1h", "2h": "1h",
        "4h": "4h", "6h": "1h", "8h": "4h", "12h": "4h", "1d": "1d", "3d": "1d", "1w": "1d",
        "1M": "1d"}


class SourceBar(Protocol):
    open_time: int
    open: int
    high: int
    low: int
    close: int


class Candle(NamedTuple):
    open_time: int
    close_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int  # lots
    quote_volume: int  # ticks x lots
    trades: int


def bucket(interval: str, ts: int) -> tuple[int, int]:
    """The (open time, close time) of the ``interval`` candle that holds ``ts``."""
    span = SPANS[interval]
    if span is None:  # calendar month
        day = dt.datetime.fromtimestamp(ts // 1000, tz=dt.UTC)
        first = dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC)
        following = dt.datetime(day.year + (day.month == 12), day.month % 12 + 1, 1,
                                tzinfo=dt.UTC)
        return int(first.timestamp()) * 1000, int(following.timestamp()) * 1000 - 1
    if interval == "1w":
        start = (ts - MONDAY_OFFSET) // WEEK * WEEK + MONDAY_OFFSET
    else:
        start = ts - ts % span
    return start, start + span - 1


def candles(interval: str, bars: Iterable[SourceBar]) -> list[Candle]:
    """The bars, oldest first, merged into ``interval`` candles."""
    out: list[Candle] = []
    for b in bars:
        start, end = bucket(interval, b.open_time)
        volume = getattr(b, "volume", 0)
        quote = getattr(b, "quote_volume", 0)
        trades = getattr(b, "trades", 0)
        if out and out[-1].open_time == start:
            c = out[-1]
            out[-1] = c._replace(high=max(c.high, b.high), low=min(c.low, b.low), close=b.close,
                                 volume=c.volume + volume, quote_volume=c.quote_volume + quote,
                                 trades=c.trades + trades)
        else:
            out.append(Candle(start, end, b.open, b.high, b.low, b.close, volume, quote, trades))
    return out


def select(rows: list[Candle], start: int | None, end: int | None, limit: int) -> list[Candle]:
    """Binance's window: from ``start`` forward (at most ``limit``), else the latest ``limit``
    up to ``end``."""
    if start is not None:
        rows = [c for c in rows if c.open_time >= start]
    if end is not None:
        rows = [c for c in rows if c.open_time <= end]
    return rows[:limit] if start is not None else rows[-limit:]


def row(c: Candle, price: Any, qty: Any, quote: Any) -> list[Any]:
    """A kline as Binance's 12-field array; ``price``/``qty``/``quote`` format the units."""
    return [c.open_time, price(c.open), price(c.high), price(c.low), price(c.close),
            qty(c.volume), c.close_time, quote(c.quote_volume), c.trades, qty(0), quote(0), "0"]
