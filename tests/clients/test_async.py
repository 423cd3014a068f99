"""The asyncio REST client: the same methods as the blocking one, against the live server;
and the client's independence from the exchange's packages."""

from __future__ import annotations

import ast
import asyncio
import inspect
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from clients import (
    AsyncClient,
    Client,
    Credentials,
    InsufficientMargin,
    MarginMode,
    NotFound,
    OrderRequest,
    OrderStatus,
    RetryPolicy,
    Side,
)
from tests.clients.conftest import BTC, ROOT, Server, free_port


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in inspect.getmembers(cls)
            if not name.startswith("_") and callable(fn)}


def test_sync_and_async_clients_have_the_same_methods() -> None:
    sync, asyn = public_methods(Client), public_methods(AsyncClient)
    assert sync.keys() == asyn.keys()
    for name, sig in sync.items():
        if name in ("close",):
            continue
        assert str(sig) == str(asyn[name]), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name


def test_every_async_method(server: Server, user: Credentials) -> None:
    async def body() -> None:
        async with AsyncClient(server.url, retry=RetryPolicy(rate_limited=True)) as c:
            assert await c.server_time() > 0
            assert len(await c.instruments()) == 3
            inst = await c.instrument(BTC)
            assert (await c.depth(BTC, 3)).seq > 0
            assert isinstance(await c.trades(BTC), list)
            assert isinstance(await c.klines(BTC), list)
            assert (await c.ticker(BTC)).symbol == BTC
            mark = (await c.prices(BTC)).mark
            assert mark is not None
            assert isinstance(await c.funding_history(BTC), list)
            assert (await c.insurance()).balance >= 0
            assert isinstance(await c.liquidations(), list)
            me = await c.signup(f"async-{free_port()}", "1000")
            made = await c.create_user(f"async-admin-{free_port()}", server.admin_key, "5")
            assert made.user != me.user
            c.credentials = user
            assert abs(await c.sync_clock()) < 1_000
            assert (await c.account()).user == user.user
            assert len(await c.positions()) == 3
            assert (await c.position(BTC)).size == 0
            assert (await c.set_leverage(BTC, 3)).leverage == 3
            assert (await c.set_margin_mode(BTC, MarginMode.ISOLATED)).margin_mode == "ISOLATED"
            assert (await c.faucet("10")).amount == Decimal("10")
            assert (await c.withdraw("10")).amount == Decimal("10")
            price = inst.round_price(mark * Decimal("0.98"))
            order = await c.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", price))
            assert order.status is OrderStatus.NEW
            assert [o.order_id for o in await c.open_orders(BTC)] == [order.order_id]
            assert (await c.order(order.order_id)).order_id == order.order_id
            amended = await c.amend_order(BTC, order.order_id, quantity="0.004")
            assert amended.quantity == Decimal("0.004")
            assert (await c.cancel_order(BTC, order.order_id)).status is OrderStatus.CANCELED
            assert await c.cancel_all(BTC) == []
            bought = await c.place_order(OrderRequest.market(BTC, Side.BUY, "0.002"))
            assert bought.status is OrderStatus.FILLED
            added = await c.adjust_isolated_margin(BTC, "5")
            assert added.delta == Decimal("5")
            assert (await c.fills())[-1].order_id == bought.order_id
            assert {o.order_id for o in await c.order_history()} >= {order.order_id}
            assert await c.funding_payments() == []
            with pytest.raises(InsufficientMargin):
                await c.place_order(OrderRequest.market(BTC, Side.BUY, "100"))
            with pytest.raises(NotFound):
                await c.order(123_456_789)

    asyncio.run(body())


def test_the_client_imports_nothing_from_the_exchange() -> None:
    """Statically: no module under clients/ imports exchange or matching; and at run time,
    importing the client and every example loads neither."""
    for path in (ROOT / "clients").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("exchange", "matching"), (path, name)
    code = ("import sys, clients, clients.examples.market_maker, clients.examples.grid_bot, "
            "clients.examples.trend_follower, clients.examples.leverage_demo\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('exchange', 'matching')]\n"
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(ROOT), timeout=60)
    assert result.returncode == 0, result.stderr
