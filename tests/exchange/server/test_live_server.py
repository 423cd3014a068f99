"""A real server: ``paper-exchange serve`` under uvicorn on 127.0.0.1, the ``users create``
command against it, and the websocket API (public streams, login, order entry, user stream)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from exchange.server.auth import sign, signature_payload
from tests.live import free_port, start_serve

BTC = "BTCUSDT"




@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("live") / "data"
    port = free_port()
    proc = start_serve(data_dir, port)
    url = f"http://127.0.0.1:{port}"
    yield url, data_dir
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "serving" in out and "/docs" in out and "admin key" in out
    assert "stopped" in out and "Traceback" not in out


def create_user(url: str, data_dir: Path, name: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "exchange", "users", "create", name, "--deposit", "20000",
         "--url", url, "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    user: dict[str, Any] = json.loads(result.stdout)
    assert {"user", "api_key", "secret"} <= set(user)
    return user


def test_users_create_prints_one_json_object(server: tuple[str, Path]) -> None:
    url, data_dir = server
    user = create_user(url, data_dir, "carol")
    assert user["name"] == "carol"


def test_users_create_without_a_server_says_so(tmp_path: Path) -> None:
    (tmp_path / "admin.key").write_text("x\n")
    result = subprocess.run(
        [sys.executable, "-m", "exchange", "users", "create", "x", "--url",
         f"http://127.0.0.1:{free_port()}", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "Is the server running?" in result.stderr


def test_websocket_streams_login_and_orders(server: tuple[str, Path]) -> None:
    url, data_dir = server
    user = create_user(url, data_dir, "wsbot")
    ws_url = url.replace("http", "ws") + "/ws"

    async def session() -> None:
        seen: set[str] = set()
        async with websockets.connect(ws_url) as ws:
            async def request(message: dict[str, Any]) -> dict[str, Any]:
                await ws.send(json.dumps(message))
                while True:
                    reply: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if "stream" in reply:
                        seen.add(reply["stream"])
                    elif reply.get("id") == message.get("id"):
                        return reply

            reply = await request({"op": "subscribe", "id": 1,
                                   "streams": [f"depth@{BTC}", f"trades@{BTC}", f"mark@{BTC}"]})
            assert reply["result"] == sorted([f"depth@{BTC}", f"trades@{BTC}", f"mark@{BTC}"])
            reply = await request({"op": "subscribe", "id": 2, "streams": ["nope@X"]})
            assert reply["error"]["code"] == "INVALID_REQUEST"
            reply = await request({"op": "order", "id": 3, "params": {}})
            assert reply["error"]["code"] == "AUTH_MISSING"
            ts = str(time.time_ns() // 1_000_000)
            reply = await request({"op": "login", "id": 4, "api_key": user["api_key"],
                                   "timestamp": ts, "signature": sign(
                                       user["secret"], signature_payload(ts, "GET", "/ws", b""))})
            assert reply["result"] == {"user": user["user"]}
            reply = await request({"op": "order", "id": 5, "params": {
                "symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "0.010"}})
            assert reply["result"]["status"] == "FILLED", reply
            assert "user" in seen  # the order's events came before its answer
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not {"user", f"mark@{BTC}",
                                                        f"depth@{BTC}"} <= seen:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if "stream" in message:
                    seen.add(message["stream"])
            assert {"user", f"mark@{BTC}", f"depth@{BTC}"} <= seen

    asyncio.run(session())


def test_serve_takes_the_rate_limit_and_names_the_data_dir_in_its_hint(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "class"
    proc = start_serve(data_dir, port, "--no-agents", "--rate-limit", "2", "--burst", "3")
    try:
        codes = []
        for _ in range(8):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/time",
                                            timeout=5) as answer:
                    codes.append(answer.status)
            except urllib.error.HTTPError as e:
                codes.append(e.code)
        # The burst of 3 (the start-up probe took one), then 429s (2 a second come back).
        assert codes[:2] == [200, 200] and codes[2:].count(429) >= 5, codes
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert f"--data-dir {data_dir.resolve()}" in out


def test_serve_refuses_a_rate_limit_below_one() -> None:
    result = subprocess.run([sys.executable, "-m", "exchange", "serve", "--rate-limit", "0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "at least 1" in result.stderr
