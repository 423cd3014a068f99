"""The packaged BTCUSDT sample: two days of one-minute index prices, with a crash.

Made by ``SyntheticFeed`` from a fixed seed, so the file in the package is reproducible:
``python -m exchange.feeds.sample [--out PATH]`` writes it again, byte for byte (by default over
the packaged ``exchange/feeds/data/btcusdt_sample.csv``). It starts at 2026-01-01T00:00:00Z and
60,000.0 USDT; a -12% slide over 30 minutes begins 30 hours in, and jumps of about 2% arrive
about twice a day.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from importlib import resources
from pathlib import Path

from exchange.core.units import format_units
from exchange.feeds.replay import HEADER, CsvReplayFeed
from exchange.feeds.synthetic import Crash, SyntheticFeed

SYMBOL = "BTCUSDT"
# The default instruments' BTCUSDT tick (a test checks they agree). A constant rather than a
# read of the instruments file, so that editing that file cannot change the sample's bytes.
TICK_SIZE = Decimal("0.10")
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
STEP_MS = 60_000
ROWS = 2 * 24 * 60
SEED = 20260101
START_PRICE_TICKS = 600_000  # 60,000.0 USDT
CRASH = "-12%/30m@30h"
JUMP_RATE = Decimal(2)  # per day
JUMP_SIZE = Decimal("0.02")

SAMPLE_RESOURCE = "data/btcusdt_sample.csv"


def sample_feed_source() -> SyntheticFeed:
    """The synthetic feed the sample is drawn from."""
    return SyntheticFeed(START_PRICE_TICKS, SEED, jump_rate=JUMP_RATE, jump_size=JUMP_SIZE,
                         start_ms=START_MS, step_ms=STEP_MS,
                         crashes=[Crash.parse(CRASH, START_MS)])


def generate_sample_csv() -> str:
    """The sample's CSV text, exactly as packaged (``\\n`` line ends)."""
    feed = sample_feed_source()
    lines = [",".join(HEADER)]
    for _ in range(ROWS):
        ts, ticks = feed.next()
        lines.append(f"{ts},{format_units(ticks, TICK_SIZE)}")
    return "\n".join(lines) + "\n"


def packaged_sample_text() -> str:
    """The packaged sample file's text."""
    return resources.files("exchange.feeds").joinpath(SAMPLE_RESOURCE).read_text(encoding="utf-8")


def sample_feed() -> CsvReplayFeed:
    """The packaged sample as a replay feed of BTCUSDT index prices."""
    return CsvReplayFeed.from_text(packaged_sample_text(), TICK_SIZE,
                                   f"exchange/feeds/{SAMPLE_RESOURCE}")


def default_path() -> Path:
    """Where the packaged sample lives in the source tree."""
    return Path(__file__).resolve().parent / SAMPLE_RESOURCE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange.feeds.sample", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the CSV (default: the packaged sample file)")
    args = parser.parse_args(argv)
    path: Path = args.out if args.out is not None else default_path()
    text = generate_sample_csv()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Bytes, not text mode: the file must be the same on every platform, \n line ends included.
    path.write_bytes(text.encode("utf-8"))
    print(f"wrote {text.count(chr(10)) - 1} rows to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
