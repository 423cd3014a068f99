"""Crash: the server is killed with SIGKILL in the middle of signed order traffic from several
clients; after a restart every order whose acknowledgement a client received is there, as it
was acknowledged, and money is conserved."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange.server.auth import sign, signature_payload
from tests.live import free_port, start_serve

BTC = "BTCUSDT"


def start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return start_serve(data_dir, port)


def call(port: int, user: dict[str, Any], method: str, path: str,
         body: dict[str, Any] | None = None) -> Any:
    """A signed request; a 429 (the server's per-IP limit: every client here is 127.0.0.1)
    waits as Retry-After says and tries again, a bounded number of times."""
    for _ in range(50):
        try:
            return _call(port, user, method, path, body)
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                raise
            time.sleep(int(exc.headers.get("Retry-After", "1")))
    raise AssertionError("rate limited for too long")


def _call(port: int, user: dict[str, Any], method: str, path: str,
          body: dict[str, Any] | None) -> Any:
    data = json.dumps(body).encode() if body is not None else b""
    ts = str(time.time_ns() // 1_000_000)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data or None, method=method,
        headers={"X-API-KEY": user["api_key"], "X-TIMESTAMP": ts,
                 "X-SIGNATURE": sign(user["secret"], signature_payload(ts, method, path, data)),
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def admin(port: int, data_dir: Path, method: str, path: str,
          body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-ADMIN-KEY": (data_dir / "admin.key").read_text().strip(),
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_acknowledged_orders_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    proc = start(data_dir, port)
    users = [admin(port, data_dir, "POST", "/api/v1/admin/users",
                   {"name": f"bot{i}", "deposit": "100000"}) for i in range(3)]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/prices?symbol={BTC}") as r:
        mark = Decimal(json.loads(r.read())["mark"])
    acked: list[tuple[dict[str, Any], dict[str, Any]]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(user: dict[str, Any], n: int) -> None:
        for i in range(400):  # bounded: at most 400 orders a client
            if stop.is_set():
                return
            price = f"{mark * (Decimal('0.97') + Decimal('0.0001') * (i % 50)):.1f}"
            body = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.002",
                    "price": price, "client_order_id": f"c{n}-{i}"}
            if i % 5 == 0:
                body = {"symbol": BTC, "side": "SELL" if i % 10 else "BUY", "type": "MARKET",
                        "quantity": "0.002", "client_order_id": f"c{n}-{i}"}
            try:
                result = call(port, user, "POST", "/api/v1/orders", body)
            except (OSError, urllib.error.HTTPError):
                return  # the server died under us: this one was never acknowledged
            with lock:
                acked.append((user, result))

    threads = [threading.Thread(target=client, args=(u, n)) for n, u in enumerate(users)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acked) >= 50, "the load never got going"

    proc = start(data_dir, port)
    try:
        state = admin(port, data_dir, "GET", "/api/v1/admin/state")
        assert state["conservation_gap"] == 0
        for user, seen in acked:
            now = call(port, user, "GET", f"/api/v1/orders/{seen['order_id']}")
            for field in ("client_order_id", "side", "type", "price", "quantity"):
                assert now[field] == seen[field], (field, now, seen)
            # A resting order may have traded since; a finished one stays as it finished.
            if seen["status"] in ("FILLED", "CANCELED", "EXPIRED"):
                assert now["status"] == seen["status"] and now["filled"] == seen["filled"]
            else:
                assert Decimal(now["filled"]) >= Decimal(seen["filled"])
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
