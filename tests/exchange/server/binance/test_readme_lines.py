"""The "Connect a ccxt bot" lines of the README, run as written against the live server."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tests.exchange.server.binance.conftest import SYMBOL, Live

ROOT = Path(__file__).resolve().parents[4]
HEADING = "## Connect a ccxt bot"


def section() -> str:
    """The section, from the top-level README once merged there, else from the facade's."""
    for path in (ROOT / "README.md", ROOT / "exchange" / "server" / "binance" / "README.md"):
        text = path.read_text()
        if HEADING in text:
            return text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    raise AssertionError(f"no {HEADING!r} section")


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", section(), re.S)


def test_the_readme_lines_connect_ccxt_and_ccxt_pro(live: Live) -> None:
    user = live.user("readme")
    rest, pro = blocks()

    def ours(code: str) -> str:
        return (code.replace('"http://127.0.0.1:8000"', repr(live.url))
                .replace("YOUR_API_KEY", user["api_key"]).replace("YOUR_SECRET", user["secret"]))

    names: dict[str, Any] = {}
    exec(ours(rest), names)  # fetches the balance and buys 0.01 BTC
    assert names["exchange"].fetch_positions()[0]["contracts"] == 0.01
    loop = re.search(r"^for api.*?BASE\)\n", rest, re.S | re.M)
    assert loop is not None
    exec(ours(pro).replace("# ...the loop above, then:\n", loop.group(0)), names)
    exchange = names["exchange"]

    async def watch() -> Any:
        try:
            return await asyncio.wait_for(exchange.watch_order_book(SYMBOL), 15)
        finally:
            await exchange.close()

    book = asyncio.run(watch())
    assert book["bids"] and book["asks"]
