"""CSV replay: every row checked on reading, each problem named by line with its fix."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from exchange.feeds import CsvReplayFeed, FeedError

TICK = Decimal("0.10")


def test_rows_become_ticks_in_order() -> None:
    feed = CsvReplayFeed.from_text("timestamp,price\n1000,100.0\n2000,100.10\n3500,99.9\n", TICK)
    assert list(feed) == [(1000, 1000), (2000, 1001), (3500, 999)]
    assert list(feed) == list(feed)  # a fresh pass each time
    assert len(feed) == 3 and (feed.first_ms, feed.last_ms) == (1000, 3500)
    assert feed.rows == ((1000, 1000), (2000, 1001), (3500, 999))


def test_spreadsheet_habits_are_accepted() -> None:
    # A byte-order mark, CRLF line ends, a capitalised header, spaces, quotes, blank lines.
    text = '\ufeffTimestamp, Price\r\n1000, "100.0"\r\n\r\n2000,100.1\r\n\r\n'
    assert list(CsvReplayFeed.from_text(text, TICK)) == [(1000, 1000), (2000, 1001)]


def test_from_path(tmp_path: Path) -> None:
    path = tmp_path / "btc.csv"
    path.write_bytes("\ufefftimestamp,price\n1,5.0\n".encode())
    feed = CsvReplayFeed.from_path(path, TICK)
    assert list(feed) == [(1, 50)] and feed.source == str(path)


def test_shifted_keeps_the_spacing() -> None:
    feed = CsvReplayFeed.from_text("timestamp,price\n1000,1.0\n2500,2.0\n9000,3.0\n", TICK)
    moved = feed.shifted(1_767_225_600_000)
    assert list(moved) == [(1_767_225_600_000, 10), (1_767_225_601_500, 20),
                           (1_767_225_608_000, 30)]
    assert next(iter(feed)) == (1000, 10)  # the original is unchanged
    assert list(feed.shifted(0)) == [(0, 10), (1500, 20), (8000, 30)]


@pytest.mark.parametrize(("text", "where", "message"), [
    ("", "", "the file is empty"),
    ("  \n\n", "", "the file is empty"),
    ("timestamp,price\n", "", "no prices after the header"),
    ("time,close\n1,1.0\n", "line 1", "the header must be timestamp,price, got 'time,close'"),
    ("1000,100.0\n", "line 1", "the header must be timestamp,price"),
    ("timestamp,price\n1000,100.0\n1000,100.1\n", "line 3",
     "timestamp 1000 is not after the previous row's 1000: timestamps must strictly increase"),
    ("timestamp,price\n2000,100.0\n\n1000,100.1\n", "line 4", "must strictly increase"),
    ("timestamp,price\n1.5e12,100.0\n", "line 2", "not an integer of milliseconds"),
    ("timestamp,price\n-5,100.0\n", "line 2", "not an integer of milliseconds"),
    ("timestamp,price\n2026-01-01,100.0\n", "line 2", "not an integer of milliseconds"),
    ("timestamp,price\n1000,abc\n", "line 2", "not a plain decimal number"),
    ("timestamp,price\n1000,1e3\n", "line 2", "not a plain decimal number"),
    ("timestamp,price\n1000,100.05\n", "line 2",
     "price 100.05 is not a multiple of 0.10: use 100.00 or 100.10"),
    ("timestamp,price\n1000,0.0\n", "line 2", "must be above 0: the lowest price is 0.10"),
    ("timestamp,price\n1000,-1.0\n", "line 2", "must not be negative"),
    ("timestamp,price\n1000\n", "line 2", "expected 2 fields"),
    ("timestamp,price\n1000,1.0,x\n", "line 2", "expected 2 fields"),
    ('timestamp,price\n1000,"1.0\n', "line 2", "not valid CSV"),
])
def test_problems_name_the_line_and_the_fix(text: str, where: str, message: str) -> None:
    with pytest.raises(FeedError) as info:
        CsvReplayFeed.from_text(text, TICK, "btc.csv")
    error = info.value
    assert message in str(error)
    assert str(error).startswith(f"btc.csv, {where}: " if where else "btc.csv: ")
    assert isinstance(error, ValueError)
    assert error.line == (int(where.split()[1]) if where else None)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="file not found"):
        CsvReplayFeed.from_path(tmp_path / "nope.csv", TICK)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"timestamp,price\n1,\xe9\n")
    with pytest.raises(FeedError, match="not UTF-8"):
        CsvReplayFeed.from_path(latin, TICK)
    with pytest.raises(FeedError, match="cannot read"):
        CsvReplayFeed.from_path(tmp_path, TICK)


def test_rows_given_directly_are_checked_too() -> None:
    assert list(CsvReplayFeed([(1, 5), (2, 6)], TICK)) == [(1, 5), (2, 6)]
    with pytest.raises(FeedError, match="no prices"):
        CsvReplayFeed([], TICK)
    with pytest.raises(FeedError, match="strictly increase"):
        CsvReplayFeed([(2, 5), (2, 6)], TICK)
    with pytest.raises(FeedError, match="ticks >= 1"):
        CsvReplayFeed([(1, 0)], TICK)
