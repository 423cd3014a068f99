"""Locust load test of a running paper-exchange: signed order entry and cancellation, and the
public reads a trading screen makes (depth, ticker, trades).

    pip install locust      # or: pip install -e '.[load]'
    locust -f loadtests/locustfile.py --headless -u 10 -r 5 -t 1m --host http://127.0.0.1:8000

Credentials, from the environment:

- ``EXCHANGE_API_KEY`` and ``EXCHANGE_SECRET``: every simulated trader uses this one key;
- otherwise ``EXCHANGE_ADMIN_KEY_FILE``, the server's ``DATA_DIR/admin.key``: each simulated
  trader creates its own user through ``POST /api/v1/admin/users`` (deposit
  ``EXCHANGE_DEPOSIT``, default 100000 USDT).

``EXCHANGE_SYMBOL`` picks the market (default BTCUSDT). Orders are post-only (GTX) limit buys
2-4% below the mark price, a little over the minimum notional: they rest and never trade; each
trader keeps at most ``EXCHANGE_MAX_OPEN`` (default 10) open, cancels its oldest as it goes and
all of them when it stops. The server's rate limits (by default 50 requests/s per key and per
IP, and everything here comes from one IP) are part of what is tested: a 429 counts as a
failure, so keep ``-u`` x about 1 request/s per trader below them, or raise them.

Only locust imports this file; nothing in the project or its tests does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import time
import uuid
from collections import deque
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

SYMBOL = os.environ.get("EXCHANGE_SYMBOL", "BTCUSDT")
MAX_OPEN = int(os.environ.get("EXCHANGE_MAX_OPEN", "10"))
MARK_REFRESH_S = 10.0


def sign(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of timestamp + METHOD + path (with its query) + body."""
    payload = (timestamp + method + path).encode() + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


class Trader(HttpUser):
    wait_time = between(0.5, 1.5)

    api_key: str
    secret: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal

    def on_start(self) -> None:
        self.open_orders: deque[int] = deque()
        self.mark = Decimal(0)
        self.mark_at = 0.0
        self.api_key, self.secret = self.credentials()
        answer = self.client.get("/api/v1/instruments", name="/api/v1/instruments")
        answer.raise_for_status()
        info = next(i for i in answer.json() if i["symbol"] == SYMBOL)
        self.tick, self.step = Decimal(info["tick_size"]), Decimal(info["step_size"])
        self.min_qty, self.min_notional = Decimal(info["min_qty"]), Decimal(info["min_notional"])
        self.refresh_mark()

    def on_stop(self) -> None:
        if getattr(self, "api_key", None):
            with self.signed("DELETE", f"/api/v1/orders?symbol={SYMBOL}",
                             name="/api/v1/orders [all]") as answer:
                if answer.status_code != 200:
                    answer.failure(f"{answer.status_code} {answer.text[:200]}")
            self.open_orders.clear()

    def credentials(self) -> tuple[str, str]:
        key, secret = os.environ.get("EXCHANGE_API_KEY"), os.environ.get("EXCHANGE_SECRET")
        if key and secret:
            return key, secret
        key_file = os.environ.get("EXCHANGE_ADMIN_KEY_FILE")
        if not key_file:
            raise RuntimeError("set EXCHANGE_API_KEY and EXCHANGE_SECRET, or "
                               "EXCHANGE_ADMIN_KEY_FILE (the server's DATA_DIR/admin.key)")
        admin_key = Path(key_file).read_text().strip()
        body = {"name": f"locust-{uuid.uuid4().hex[:12]}",
                "deposit": os.environ.get("EXCHANGE_DEPOSIT", "100000")}
        answer = self.client.post("/api/v1/admin/users", json=body,
                                  headers={"X-ADMIN-KEY": admin_key},
                                  name="/api/v1/admin/users")
        answer.raise_for_status()
        user: dict[str, Any] = answer.json()
        return str(user["api_key"]), str(user["secret"])

    def signed(self, method: str, path: str, body: dict[str, Any] | None = None,
               name: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        ts = str(time.time_ns() // 1_000_000)
        headers = {"X-API-KEY": self.api_key, "X-TIMESTAMP": ts,
                   "X-SIGNATURE": sign(self.secret, ts, method, path, data)}
        if data:
            headers["Content-Type"] = "application/json"
        return self.client.request(method, path, data=data or None, headers=headers,
                                   name=name or path, catch_response=True)

    def refresh_mark(self) -> None:
        answer = self.client.get(f"/api/v1/prices?symbol={SYMBOL}", name="/api/v1/prices")
        if answer.status_code == 200 and answer.json().get("mark"):
            self.mark = Decimal(answer.json()["mark"])
            self.mark_at = time.monotonic()

    # ------------------------------------------------------------------ trading

    @task(4)
    def place_order(self) -> None:
        if time.monotonic() - self.mark_at > MARK_REFRESH_S:
            self.refresh_mark()
        if not self.mark:
            return
        if len(self.open_orders) >= MAX_OPEN:
            self.cancel_order()
        discount = Decimal(random.randint(20, 40)) / 1000
        price = (self.mark * (1 - discount) / self.tick).to_integral_value(ROUND_FLOOR) * self.tick
        lots = (self.min_notional * Decimal("1.2") / price / self.step)
        quantity = max(self.min_qty, lots.to_integral_value(ROUND_CEILING) * self.step)
        body = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "quantity": str(quantity),
                "price": str(price), "time_in_force": "GTX"}
        with self.signed("POST", "/api/v1/orders", body) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
                return
            order = answer.json()
            if order.get("status") != "NEW" or order.get("fills"):
                answer.failure(f"the order did not rest: {order.get('status')}")
            if order.get("status") in ("NEW", "PARTIALLY_FILLED"):
                self.open_orders.append(int(order["order_id"]))

    @task(2)
    def cancel_order(self) -> None:
        if not self.open_orders:
            return
        order_id = self.open_orders.popleft()
        with self.signed("DELETE", f"/api/v1/orders/{order_id}?symbol={SYMBOL}",
                         name="/api/v1/orders/{id}") as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code} {answer.text[:200]}")
            elif answer.json().get("status") != "CANCELED":
                answer.failure(f"not canceled: {answer.json().get('status')}")

    # ------------------------------------------------------------------ public reads

    @task(2)
    def depth(self) -> None:
        self.client.get(f"/api/v1/depth?symbol={SYMBOL}&limit=20", name="/api/v1/depth")

    @task(2)
    def ticker(self) -> None:
        self.client.get(f"/api/v1/ticker?symbol={SYMBOL}", name="/api/v1/ticker")

    @task(1)
    def trades(self) -> None:
        self.client.get(f"/api/v1/trades?symbol={SYMBOL}&limit=50", name="/api/v1/trades")
