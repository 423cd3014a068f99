"""Replay of recorded index prices from CSV.

The file has a header ``timestamp,price`` and one row per price: ``timestamp`` in integer
milliseconds since the UNIX epoch (UTC), strictly increasing; ``price`` a plain decimal that is
an exact multiple of the instrument's tick size. The whole file is checked when it is read, so a
replay never stops halfway on a bad row: each problem is a ``FeedError`` naming the line and what
to write instead. Prices are never rounded to the tick silently: a price off the tick is an error
that names the two nearest valid prices, because a quietly moved price is a different market.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

from exchange.core.units import UnitError, format_units, parse_units

HEADER = ("timestamp", "price")
_TIMESTAMP = re.compile(r"[0-9]{1,16}", re.ASCII)  # 16 digits reach the year 318857
_EXAMPLE_ROW = "1767225600000,60000.0"


class FeedError(ValueError):
    """A problem in a feed's input: where (source, line) and what to fix."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}, line {line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line
        self.message = message


class CsvReplayFeed:
    """Validated ``(ts_ms, price_ticks)`` rows, replayed in order.

    Iterating gives the rows from the first each time; ``shifted`` moves them in time.
    """

    __slots__ = ("_rows", "source", "tick_size")

    def __init__(self, rows: Sequence[tuple[int, int]], tick_size: Decimal,
                 source: str = "<rows>") -> None:
        if not rows:
            raise FeedError(source, None, "no prices: a replay needs at least one row")
        previous: int | None = None
        for i, (ts, ticks) in enumerate(rows):
            if type(ts) is not int or type(ticks) is not int or ticks < 1:
                raise FeedError(source, None, f"row {i} is {(ts, ticks)!r}: rows are "
                                              "(ts_ms, price_ticks) with integer ts and ticks >= 1")
            if previous is not None and ts <= previous:
                raise FeedError(source, None, f"row {i}: timestamp {ts} is not after {previous}: "
                                              "timestamps must strictly increase")
            previous = ts
        self._rows = tuple(rows)
        self.tick_size = tick_size
        self.source = source

    @classmethod
    def from_text(cls, text: str, tick_size: Decimal, source: str = "<text>") -> CsvReplayFeed:
        """Parse and check CSV text; ``source`` names it in errors."""
        return cls(_parse(text, tick_size, source), tick_size, source)

    @classmethod
    def from_path(cls, path: str | Path, tick_size: Decimal) -> CsvReplayFeed:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8-sig")  # -sig: spreadsheets add a BOM
        except FileNotFoundError:
            raise FeedError(source, None, "file not found: give the path of a CSV file with "
                                          "the header timestamp,price") from None
        except UnicodeDecodeError as e:
            raise FeedError(source, None, f"not UTF-8 text (byte {e.start}): save the file as "
                                          "UTF-8 CSV") from None
        except OSError as e:
            raise FeedError(source, None, f"cannot read the file: {e.strerror or e}") from None
        return cls.from_text(text, tick_size, source)

    @property
    def rows(self) -> tuple[tuple[int, int], ...]:
        return self._rows

    @property
    def first_ms(self) -> int:
        return self._rows[0][0]

    @property
    def last_ms(self) -> int:
        return self._rows[-1][0]

    def shifted(self, start_ms: int) -> CsvReplayFeed:
        """The same prices with the same spacing, the first at ``start_ms``."""
        if isinstance(start_ms, bool) or not isinstance(start_ms, int):
            raise TypeError(f"start_ms must be an int of ms, not {start_ms!r}")
        offset = start_ms - self.first_ms
        return CsvReplayFeed([(ts + offset, ticks) for ts, ticks in self._rows], self.tick_size,
                             self.source)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def _parse(text: str, tick_size: Decimal, source: str) -> list[tuple[int, int]]:
    if not isinstance(text, str):
        raise TypeError(f"CSV text must be a str, not {type(text).__name__}")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise FeedError(source, None, "the file is empty: write the header timestamp,price and "
                                      f"one row per price, such as {_EXAMPLE_ROW}")
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    rows: list[tuple[int, int]] = []
    header_seen = False
    previous: int | None = None
    try:
        for record in reader:
            line = reader.line_num
            fields = [field.strip() for field in record]
            if not any(fields):
                continue  # blank lines, such as a trailing one, carry nothing
            if not header_seen:
                if tuple(f.lower() for f in fields) != HEADER:
                    raise FeedError(source, line, f"the header must be timestamp,price, got "
                                                  f"{','.join(record)!r}")
                header_seen = True
                continue
            if len(fields) != len(HEADER):
                raise FeedError(source, line, f"expected 2 fields (timestamp,price), got "
                                              f"{len(fields)}: write rows such as {_EXAMPLE_ROW}")
            ts_text, price_text = fields
            if not _TIMESTAMP.fullmatch(ts_text):
                raise FeedError(source, line, f"timestamp {ts_text!r} is not an integer of "
                                              "milliseconds since the epoch (UTC), such as "
                                              "1767225600000")
            ts = int(ts_text)
            if previous is not None and ts <= previous:
                raise FeedError(source, line, f"timestamp {ts} is not after the previous row's "
                                              f"{previous}: timestamps must strictly increase "
                                              "(sort the file and drop duplicates)")
            try:
                ticks = parse_units(price_text, tick_size, "price")
            except UnitError as e:
                raise FeedError(source, line, e.message) from None
            if ticks < 1:
                raise FeedError(source, line, f"price {price_text} must be above 0: the lowest "
                                              f"price is {format_units(1, tick_size)}")
            rows.append((ts, ticks))
            previous = ts
    except csv.Error as e:
        message = f"not valid CSV: {e} (is a quote left open?)"
        raise FeedError(source, reader.line_num, message) from None
    if not rows:
        raise FeedError(source, None, "no prices after the header: add one row per price, such "
                                      f"as {_EXAMPLE_ROW}")
    return rows
