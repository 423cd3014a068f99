"""Locust load test of a running paper-exchange: signed order entry and cancellation, and the
public reads a trading screen makes (depth, ticker, trades), all through the project's own
Python client (``clients.Client``), as a bot would make them.

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

Every HTTP request the client makes reaches locust through the client's ``on_request`` hook,
named by its route template (``/api/v1/orders/{id}``, not the order's own path), so the
statistics group by route; an answer of 400 or more, or none at all, is a failure. The client
is built without retries (``RetryPolicy(attempts=1)``): one call, one request, measured as the
server answered it. A call that answers but not as expected (an order that did not rest, a
cancel that did not cancel) is reported as a failure of type ``CHECK`` on the call's route.

Only locust imports this file; nothing in the project or its tests does.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any, TypeVar

from locust import User, between, task

from clients import (
    Client,
    Credentials,
    ExchangeError,
    Instrument,
    OrderRequest,
    OrderStatus,
    RequestRecord,
    RetryPolicy,
    Side,
)

SYMBOL = os.environ.get("EXCHANGE_SYMBOL", "BTCUSDT")
MAX_OPEN = int(os.environ.get("EXCHANGE_MAX_OPEN", "10"))
MARK_REFRESH_S = 10.0

T = TypeVar("T")

# httpx logs every request at INFO, which locust's logging shows: locust's own statistics say it.
logging.getLogger("httpx").setLevel(logging.WARNING)


class HttpStatus(Exception):
    """A request answered with an error status, as locust records it (one row per status)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class CheckFailed(Exception):
    """An answer of 2xx that is not what the trader expected."""


def failed(record: RequestRecord) -> bool:
    """No answer, or an error status."""
    return record.status is None or record.status >= 400


class Trader(User):
    wait_time = between(0.5, 1.5)

    client: Client
    instrument: Instrument

    def on_start(self) -> None:
        if not self.host:
            raise RuntimeError("give the exchange's URL: --host http://127.0.0.1:8000")
        self.open_orders: deque[int] = deque()
        self.mark = Decimal(0)
        self.mark_at = 0.0
        self.last: RequestRecord | None = None
        self.client = Client(self.host, retry=RetryPolicy(attempts=1),
                             on_request=self.report)
        self.client.credentials = self.credentials()
        self.instrument = self.client.instrument(SYMBOL)
        self.refresh_mark()

    def on_stop(self) -> None:
        client = getattr(self, "client", None)
        if client is None:
            return
        if client.credentials is not None:
            self.call(client.cancel_all, SYMBOL)
        self.open_orders.clear()
        client.close()

    def credentials(self) -> Credentials:
        key, secret = os.environ.get("EXCHANGE_API_KEY"), os.environ.get("EXCHANGE_SECRET")
        if key and secret:
            return Credentials(key, secret)
        key_file = os.environ.get("EXCHANGE_ADMIN_KEY_FILE")
        if not key_file:
            raise RuntimeError("set EXCHANGE_API_KEY and EXCHANGE_SECRET, or "
                               "EXCHANGE_ADMIN_KEY_FILE (the server's DATA_DIR/admin.key)")
        admin_key = Path(key_file).read_text().strip()
        return self.client.create_user(f"locust-{uuid.uuid4().hex[:12]}", admin_key,
                                       deposit=os.environ.get("EXCHANGE_DEPOSIT", "100000"))

    # ------------------------------------------------------------------ reporting

    def report(self, record: RequestRecord) -> None:
        """The client's ``on_request`` hook: one locust request per HTTP exchange."""
        self.last = record
        exception: Exception | None = record.error
        if exception is None and failed(record):
            exception = HttpStatus(record.status or 0)
        self.environment.events.request.fire(
            request_type=record.method, name=record.name,
            response_time=record.elapsed * 1000, response_length=record.size,
            exception=exception, context={})

    def check_failed(self, method: str, name: str, message: str) -> None:
        self.environment.events.request.fire(
            request_type="CHECK", name=f"{method} {name}", response_time=0,
            response_length=0, exception=CheckFailed(message), context={})

    def call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``method(*args, **kwargs)`` on the client; None if it raised. A failed request is
        already in locust's statistics (the hook put it there); an error after a successful
        one (an answer the client could not read) is reported as a failed check."""
        self.last = None
        try:
            return method(*args, **kwargs)
        except ExchangeError as e:
            last = self.last
            if last is None or not failed(last):
                self.check_failed(last.method if last else "-", last.name if last else "-",
                                  str(e))
            return None

    def refresh_mark(self) -> None:
        prices = self.call(self.client.prices, SYMBOL)
        if prices is not None and prices.mark:
            self.mark = prices.mark
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
        inst = self.instrument
        discount = Decimal(random.randint(20, 40)) / 1000
        price = inst.round_price(self.mark * (1 - discount), ROUND_FLOOR)
        quantity = max(inst.min_qty,
                       inst.round_qty(inst.min_notional * Decimal("1.2") / price, ROUND_CEILING))
        request = OrderRequest.limit(SYMBOL, Side.BUY, quantity, price, post_only=True)
        order = self.call(self.client.place_order, request)
        if order is None:
            return
        if order.status is not OrderStatus.NEW or order.fills:
            self.check_failed("POST", "/api/v1/orders",
                              f"the order did not rest: {order.status}")
        if order.is_open:
            self.open_orders.append(order.order_id)

    @task(2)
    def cancel_order(self) -> None:
        if not self.open_orders:
            return
        order_id = self.open_orders.popleft()
        order = self.call(self.client.cancel_order, SYMBOL, order_id)
        if order is not None and order.status is not OrderStatus.CANCELED:
            self.check_failed("DELETE", "/api/v1/orders/{id}",
                              f"not canceled: {order.status}")

    # ------------------------------------------------------------------ public reads

    @task(2)
    def depth(self) -> None:
        self.call(self.client.depth, SYMBOL, limit=20)

    @task(2)
    def ticker(self) -> None:
        self.call(self.client.ticker, SYMBOL)

    @task(1)
    def trades(self) -> None:
        self.call(self.client.trades, SYMBOL, limit=50)
