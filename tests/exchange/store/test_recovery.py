"""Restart: a session of trading, funding and liquidations, stopped and started again, gives
the identical state (digest) and identical REST answers; from the journal alone too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from exchange.server.app import create_app
from exchange.server.runtime import Exchange, ServerConfig
from tests.exchange.server.conftest import Server, Trader

BTC = "BTCUSDT"


def config(data_dir: Path) -> ServerConfig:
    # Funding every 8 h is too rare for a test (the server runs on the wall clock): the
    # instruments file sets it to one second.
    toml = data_dir.parent / "fast_funding.toml"
    if not toml.exists():
        from exchange.config import default_instruments_text

        text = default_instruments_text().replace('funding_interval = "8h"',
                                                  'funding_interval = "1s"')
        assert 'funding_interval = "1s"' in text
        toml.write_text(text)
    return ServerConfig(data_dir=data_dir, instruments_path=toml, market_makers=True,
                        noise_traders=False, rate_per_key=10**6, burst=10**6)


def answers(server: Server, traders: list[Trader]) -> dict[str, Any]:
    """What users see: accounts, positions, orders, history, market data."""
    out: dict[str, Any] = {}
    for t in traders:
        out[f"{t.user}/account"] = t.get("/api/v1/account").json()
        out[f"{t.user}/positions"] = t.get("/api/v1/positions").json()
        out[f"{t.user}/open"] = t.get("/api/v1/orders/open").json()
        out[f"{t.user}/history"] = t.get("/api/v1/orders/history").json()
        out[f"{t.user}/fills"] = t.get("/api/v1/fills").json()
        out[f"{t.user}/funding"] = t.get("/api/v1/funding/payments").json()
    for path in (f"/api/v1/depth?symbol={BTC}&limit=50", f"/api/v1/trades?symbol={BTC}",
                 "/api/v1/insurance", "/api/v1/liquidations",
                 f"/api/v1/funding/history?symbol={BTC}"):
        out[path] = server.client.get(path).json()
    return out


def session(data_dir: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """Trade, pass funding, liquidate someone; return the digest, the answers, the keys."""
    exchange = Exchange(config(data_dir))
    with TestClient(create_app(exchange, run_clock=False)) as client:
        server = Server(exchange, client)
        traders = [server.user("steady", "50000"), server.user("gambler", "300")]
        steady, gambler = traders
        steady.post("/api/v1/orders", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                       "quantity": "0.200"})
        gambler.post("/api/v1/leverage", {"symbol": BTC, "leverage": 100})
        r = gambler.post("/api/v1/orders", {"symbol": BTC, "side": "BUY", "type": "MARKET",
                                            "quantity": "0.400"})
        assert r.status_code == 200, r.text
        mark = Decimal(server.client.get(f"/api/v1/prices?symbol={BTC}").json()["mark"])
        steady.post("/api/v1/orders", {"symbol": BTC, "side": "SELL", "type": "LIMIT",
                                       "quantity": "0.050", "price": f"{mark * 102 / 100:.1f}"})
        for _ in range(12):  # funding intervals pass
            server.tick()
            time.sleep(0.15)
        # A shock: the mark set straight down 3% liquidates the 100x long.
        from exchange.core.commands import SetMarkPrice

        inst = exchange.instruments[BTC]
        low = inst.parse_price(f"{mark * 97 / 100:.1f}")
        server.run(lambda: exchange.apply(lambda ts: SetMarkPrice(ts, BTC, low, low)))
        server.tick(3)
        keys = [{"user": t.user, "api_key": t.api_key, "secret": t.secret} for t in traders]
        seen = answers(server, traders)
        assert seen["/api/v1/liquidations"], "the session should have liquidated the gambler"
        assert any(seen[f"{t.user}/funding"] for t in traders), "and paid funding"
    return exchange.venue.digest(), seen, keys


def restart(data_dir: Path, keys: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    exchange = Exchange(config(data_dir))
    digest = exchange.recovered_digest
    with TestClient(create_app(exchange, run_clock=False)) as client:
        server = Server(exchange, client)
        traders = [Trader(client, k) for k in keys]
        return digest, answers(server, traders)


def test_restart_gives_the_same_state_and_answers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    digest, seen, keys = session(data_dir)
    assert list(data_dir.glob("snapshot-*.pickle")), "a clean stop writes a snapshot"
    again, seen_again = restart(data_dir, keys)
    assert again == digest
    assert seen_again == seen


def test_recovery_from_the_journal_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    digest, seen, keys = session(data_dir)
    for snap in data_dir.glob("snapshot-*.pickle"):
        snap.unlink()
    again, seen_again = restart(data_dir, keys)
    assert again == digest and seen_again == seen


def test_a_snapshot_of_another_state_format_is_skipped(tmp_path: Path) -> None:
    # An upgrade that changed the venue's attributes: the old snapshot would load, then fail
    # on the first command that reads a missing one. It is passed over for the journal.
    import pickle

    data_dir = tmp_path / "data"
    digest, seen, keys = session(data_dir)
    for snap in data_dir.glob("snapshot-*.pickle"):
        records, state = pickle.loads(snap.read_bytes())
        state["format"] = 1
        if hasattr(state["venue"], "__dict__"):
            del state["venue"].budgets  # as a version before budgets pickled it
        else:  # the compiled build's attributes cannot go missing: any other shape will do
            state["venue"] = None
        snap.write_bytes(pickle.dumps((records, state)))
    exchange = Exchange(config(data_dir))
    assert exchange.recovered_digest == digest
    with TestClient(create_app(exchange, run_clock=False)) as client:
        server = Server(exchange, client)
        assert answers(server, [Trader(client, k) for k in keys]) == seen
        mark = exchange.venue.marks[BTC]
        from exchange.core.commands import SetMarkPrice

        # A mark tick reads the liquidation watch and budgets: whole again after the replay.
        server.run(lambda: exchange.apply(lambda ts: SetMarkPrice(ts, BTC, mark, mark)))
        server.tick()


def test_replay_command_audits_offline(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    digest, _, _ = session(data_dir)
    toml = tmp_path / "fast_funding.toml"
    for extra in ([], ["--from-scratch"]):
        result = subprocess.run(
            [sys.executable, "-m", "exchange", "replay", "--data-dir", str(data_dir),
             "--config", str(toml), *extra], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["digest"] == digest and summary["conservation_gap"] == 0
        assert summary["users"] == 2 and not summary["torn_tail"]
