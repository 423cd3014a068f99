"""Each example bot, run as its README command for a bounded time against a live server:
it must end by itself, exit 0, print no traceback and say what it did."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.conftest import ROOT, Server

EXAMPLES = ROOT / "clients" / "examples"


def start(module: str, url: str, *args: str) -> subprocess.Popen[str]:
    # Ctrl-C must reach it as it would from a terminal (a background job ignores SIGINT).
    return subprocess.Popen([sys.executable, "-m", f"clients.examples.{module}", "--url", url,
                             *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def finish(proc: subprocess.Popen[str], timeout: float = 60, status: int = 0) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"{proc.args} did not end:\n{out}")
    assert proc.returncode == status, out
    assert "Traceback" not in out, out
    return out


def test_market_maker_trend_follower_and_grid_bot(server: Server) -> None:
    """The three run side by side (as three bots would) for a few seconds each; the market
    maker, with a key of its own, until Ctrl-C."""
    user = server.new_user()
    mm = start("market_maker", server.url, "--spread-bps", "4", "--refresh", "0.5",
               "--api-key", user.api_key, "--secret", user.secret)
    trend = start("trend_follower", server.url, "--seconds", "6", "--fast", "2", "--slow", "3",
                  "--band", "0")
    grid = start("grid_bot", server.url, "--seconds", "5", "--levels", "3", "--step-bps", "5")
    time.sleep(5)
    mm.send_signal(signal.SIGINT)
    out = finish(mm, status=130)
    assert "quoting" in out and "done:" in out and "signed up" not in out
    with server.client(user) as c:  # it cleaned up on its way out
        assert c.open_orders() == [] and c.position("BTCUSDT").size == 0
    out = finish(trend)
    assert "following BTCUSDT" in out and "done:" in out
    assert "LONG" in out or "SHORT" in out, out  # warm after 3 samples: it takes a side
    assert "stop at" in out
    out = finish(grid)
    assert "grid around" in out and "done:" in out


@pytest.fixture
def fragile_server(tmp_path: Path) -> Iterator[Server]:
    """BTCUSDT whose 50x maintenance margin is all but the whole margin: a 50x position is
    liquidated within about a second (the shipped fast_liquidation.toml, pushed further)."""
    shipped = (EXAMPLES / "fast_liquidation.toml").read_text()
    assert 'max_leverage = 50, mmr = "0.0198"' in shipped
    config = tmp_path / "instant.toml"
    config.write_text(shipped.replace('mmr = "0.0198"', 'mmr = "0.019999"'))
    s = Server(tmp_path / "data", "--config", str(config)).start()
    yield s
    s.stop()


def test_leverage_demo_narrates_the_margin_call_and_the_liquidation(
        fragile_server: Server) -> None:
    out = finish(start("leverage_demo", fragile_server.url, "--seconds", "20", "--every", "1"),
                 timeout=60)
    assert "50x long" in out and "Liquidation price" in out
    assert "MARGIN CALL" in out, out
    assert "LIQUIDATION" in out and "took over" in out and "insurance fund" in out, out
    assert "LIQUIDATED. Wallet 10000.00 ->" in out, out


def test_leverage_demo_on_the_default_market_ends_when_time_is_up(server: Server) -> None:
    """On the calm default market a 50x position is rarely liquidated in seconds: the demo
    says so, closes the position and ends cleanly."""
    out = finish(start("leverage_demo", server.url, "--seconds", "3", "--every", "1",
                       "--side", "SELL"))
    assert "a 1.5" in out or "a 1.6" in out or "a 1.4" in out, out  # the move that liquidates
    assert "Not liquidated this time" in out or "LIQUIDATED" in out


def test_the_readme_documents_each_example_with_one_command() -> None:
    readme = (ROOT / "clients" / "README.md").read_text()
    bots = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_"))
    assert bots == ["grid_bot", "leverage_demo", "market_maker", "trend_follower"]
    for bot in bots:
        assert f".venv/bin/python -m clients.examples.{bot}" in readme, bot
    assert "## Write a bot" in readme
