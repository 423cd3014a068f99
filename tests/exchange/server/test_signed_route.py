"""Order entry's lean path (``exchange.server.signed``) answers exactly as FastAPI's declared
route does: each request here is sent twice, once down each path, and the answers compared."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import fastapi.routing
import pytest

from exchange.server.auth import Permission
from exchange.server.routes_private import authenticated
from tests.exchange.server.conftest import Server, Trader

PATH = "/api/v1/orders"
# What differs between two accepted orders: their ids (the default client id counts) and times.
VARYING = {"order_id", "client_order_id", "created", "updated"}


@pytest.fixture
def bot(server: Server) -> Trader:
    return server.user("bot", "100000")


def limit_buy(server: Server, **fields: Any) -> dict[str, Any]:
    mark = server.client.get("/api/v1/prices?symbol=BTCUSDT").json()["mark"]
    price = f"{float(mark) * 0.97:.1f}"
    return {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.002",
            "price": price, "time_in_force": "GTX", **fields}


@pytest.fixture
def declared_path(server: Server) -> Iterator[Any]:
    """A context that sends requests down FastAPI's declared path: the lean one steps aside
    while dependencies are overridden (here by the same dependency)."""
    app: Any = server.client.app

    class Declared:
        def __enter__(self) -> None:
            app.dependency_overrides[authenticated] = authenticated

        def __exit__(self, *exc: object) -> None:
            app.dependency_overrides.clear()

    yield Declared


def answers(server: Server, declared: Any, raw: bytes, headers: dict[str, str]
            ) -> tuple[Any, Any]:
    lean = server.client.post(PATH, content=raw, headers=headers)
    with declared():
        slow = server.client.post(PATH, content=raw, headers=headers)
    return lean, slow


def same(lean: Any, slow: Any) -> None:
    assert lean.status_code == slow.status_code, (lean.text, slow.text)
    assert lean.headers.get("content-type") == slow.headers.get("content-type")
    assert lean.headers.get("retry-after") == slow.headers.get("retry-after")
    a, b = lean.json(), slow.json()
    if isinstance(a, dict) and isinstance(b, dict):
        a = {k: v for k, v in a.items() if k not in VARYING}
        b = {k: v for k, v in b.items() if k not in VARYING}
    if "msg" in a and "msg" in b:  # a stale timestamp's answer names the server's time
        a["msg"], b["msg"] = (re.sub(r"\d{13}", "T", m) for m in (a["msg"], b["msg"]))
    assert a == b


def signed(bot: Trader, raw: bytes, **changes: str | None) -> dict[str, str]:
    """The bot's signed headers for ``raw``, some changed (None: left out)."""
    headers: dict[str, str | None] = {**bot.headers("POST", PATH, raw), **changes}
    return {k: v for k, v in headers.items() if v is not None}


def test_a_well_formed_order_skips_fastapis_dependency_solving(
        server: Server, bot: Trader, declared_path: Any) -> None:
    body = limit_buy(server)
    with mock.patch.object(fastapi.routing, "solve_dependencies",
                           wraps=fastapi.routing.solve_dependencies) as solve:
        r = bot.post(PATH, body)
        assert r.status_code == 200 and r.json()["status"] == "NEW", r.text
        assert solve.call_count == 0
        with declared_path():  # what the other tests compare with: FastAPI's own path
            assert bot.post(PATH, body).status_code == 200
        assert solve.call_count == 1
    assert server.exchange.journal is not None
    assert server.exchange.journal.synced == server.exchange.journal.appended


def test_accepted_orders_answer_the_same(server: Server, bot: Trader,
                                         declared_path: Any) -> None:
    for fields in ({}, {"self_trade_prevention": "EXPIRE_MAKER"}, {"reduce_only": False}):
        raw = json.dumps(limit_buy(server, **fields)).encode()
        lean, slow = answers(server, declared_path, raw, signed(bot, raw))
        assert lean.status_code == 200 and lean.json()["status"] == "NEW"
        assert lean.content.decode() == json.dumps(lean.json(), ensure_ascii=False,
                                                   separators=(",", ":"))
        same(lean, slow)


def test_unusual_requests_answer_the_same(server: Server, bot: Trader, declared_path: Any) -> None:
    good = json.dumps(limit_buy(server)).encode()
    cases: list[tuple[bytes, dict[str, str]]] = [
        (good, signed(bot, good, **{"X-SIGNATURE": "0" * 64})),
        (good, signed(bot, good, **{"X-API-KEY": "nope"})),
        (good, signed(bot, good, **{"X-SIGNATURE": ""})),
        (good, signed(bot, good, **{"X-TIMESTAMP": None})),
        (good, signed(bot, good, **{"X-SIGNATURE": "f" * 300})),
        (good, signed(bot, good, **{"X-RECV-WINDOW": "0"})),
        (good, signed(bot, good, **{"X-RECV-WINDOW": "1" * 20})),
        (good, signed(bot, good, **{"Content-Type": "text/plain"})),
        (good, signed(bot, good, **{"Content-Type": None})),
        (good, signed(bot, b"{}")),
        (b"{", signed(bot, b"{")),
        (b"\xff", signed(bot, b"\xff")),
        (b"", signed(bot, b"")),
        (b"[]", signed(bot, b"[]")),
    ]
    stale = str(time.time_ns() // 1_000_000 - 60_000)
    cases.append((good, bot.headers("POST", PATH, good, timestamp=int(stale))))
    for fields in ({"qty": "1"}, {"side": "UP"}, {"symbol": "NOPE"}, {"quantity": 0.5},
                   {"quantity": "1000"}, {"quantity": "0.0015"}, {"symbol": "B" * 65}):
        raw = json.dumps(limit_buy(server, **fields)).encode()
        cases.append((raw, signed(bot, raw)))
    for raw, headers in cases:
        lean, slow = answers(server, declared_path, raw, headers)
        assert lean.status_code in (400, 401), (raw, headers, lean.text)
        same(lean, slow)
    # Valid, if not in the lean path's form: accepted all the same.
    headers = signed(bot, good, **{"Content-Type": "application/json; charset=utf-8"})
    lean, slow = answers(server, declared_path, good, headers)
    assert lean.status_code == 200
    same(lean, slow)


def test_permission_and_rate_limit_answer_the_same(server: Server, bot: Trader,
                                                   declared_path: Any) -> None:
    key = server.exchange.keys.create_key(bot.user, frozenset({Permission.READ}))
    reader = Trader(server.client, {"user": bot.user, "api_key": key.api_key,
                                    "secret": key.secret})
    raw = json.dumps(limit_buy(server)).encode()
    lean, slow = answers(server, declared_path, raw, reader.headers("POST", PATH, raw))
    assert lean.status_code == 403
    same(lean, slow)
    # The key's bucket empty for 1.5 s (the IP's full): Retry-After 2.
    with mock.patch.object(server.exchange.limiter, "check",
                           lambda who, now: 1_500 if who.startswith("key:") else None):
        lean, slow = answers(server, declared_path, raw, bot.headers("POST", PATH, raw))
    assert lean.status_code == 429 and lean.headers["retry-after"] == "2"
    same(lean, slow)
