"""Reading configuration files: the shell side of ``exchange.core.instruments``.

The core validates a parsed mapping; this module finds and parses the TOML, and turns a missing
file or a syntax error into the same ``InstrumentConfigError`` so that callers catch one thing.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path

from exchange.core.instruments import Instrument, InstrumentConfigError, instruments_from_config

DEFAULT_INSTRUMENTS_FILE = "default_instruments.toml"
# How errors in the packaged file name it: its place in the source tree, not an install path.
DEFAULT_INSTRUMENTS_SOURCE = f"exchange/{DEFAULT_INSTRUMENTS_FILE}"


def default_instruments_text() -> str:
    """The packaged default instruments file, verbatim: a starting point for one's own."""
    return resources.files("exchange").joinpath(DEFAULT_INSTRUMENTS_FILE).read_text(
        encoding="utf-8")


def _parse(text: str, source: str) -> dict[str, Instrument]:
    try:
        # TOML floats become Decimals, never binary floats; the core then asks for them quoted.
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as e:
        raise InstrumentConfigError(source, "", f"not valid TOML: {e}") from None
    return instruments_from_config(data, source)


def load_instruments(path: str | Path | None = None) -> dict[str, Instrument]:
    """Instruments by symbol from a TOML file, or from the packaged defaults if ``path`` is None.

    Every problem, from a missing file to a typo in a key, is an ``InstrumentConfigError``.
    """
    if path is None:
        return _parse(default_instruments_text(), DEFAULT_INSTRUMENTS_SOURCE)
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstrumentConfigError(
            source, "", "file not found: give the path of an instruments TOML file, or none "
                        "for the built-in instruments") from None
    except UnicodeDecodeError as e:
        raise InstrumentConfigError(
            source, "", f"not UTF-8 text (byte {e.start}): save the file as UTF-8") from None
    except OSError as e:
        raise InstrumentConfigError(
            source, "", f"cannot read the file: {e.strerror or e}") from None
    return _parse(text, source)
