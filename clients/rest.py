"""REST clients for the native API: ``Client`` (blocking) and ``AsyncClient`` (asyncio).

Both have the same methods with the same arguments and results; every request goes through
the same plan (``clients._core``): signing, error mapping, retries.

    from decimal import Decimal
    from clients import Client, Credentials, OrderRequest, Side

    with Client("http://127.0.0.1:8000", Credentials(API_KEY, SECRET)) as ex:
        ex.set_leverage("BTCUSDT", 5)
        order = ex.place_order(OrderRequest.market("BTCUSDT", Side.BUY, Decimal("0.010")))
        print(order.status, order.avg_price, ex.positions()[0].unrealized_pnl)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

import httpx

from clients import _api
from clients._core import (
    DEFAULT_URL,
    USER_AGENT,
    Call,
    Failure,
    RequestRecord,
    Response,
    RetryPolicy,
    Send,
    Session,
    Sleep,
)
from clients.errors import NotFound
from clients.models import (
    Account,
    AmendedOrder,
    Credentials,
    DecimalLike,
    Deposited,
    DepthSnapshot,
    Event,
    FundingPaid,
    FundingSettled,
    Instrument,
    InsuranceFund,
    IsolatedMarginChanged,
    Kline,
    LeverageSetting,
    MarginMode,
    MarginModeSetting,
    Order,
    OrderFilled,
    OrderRequest,
    PlacedOrder,
    Position,
    Prices,
    PublicTrade,
    Ticker,
    Withdrawn,
)

T = TypeVar("T")

# Failures where the request provably never reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
OnRequest = Callable[[RequestRecord], None]


def _response(r: httpx.Response) -> Response:
    return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)


def _failure(error: httpx.HTTPError) -> Failure:
    return Failure(error, sent=not isinstance(error, _NOT_SENT))


class _Common:
    """What both clients share: configuration, the key, the clock."""

    def __init__(self, base_url: str, credentials: Credentials | None, retry: RetryPolicy,
                 recv_window_ms: int | None, on_request: OnRequest | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = Session(credentials, retry, recv_window_ms)
        self.on_request = on_request

    @property
    def credentials(self) -> Credentials | None:
        """The key that signs private requests; assign to switch keys."""
        return self._session.credentials

    @credentials.setter
    def credentials(self, value: Credentials | None) -> None:
        self._session.credentials = value

    @property
    def retry(self) -> RetryPolicy:
        return self._session.retry

    @retry.setter
    def retry(self, value: RetryPolicy) -> None:
        self._session.retry = value

    @property
    def clock_offset_ms(self) -> int:
        """The server's clock minus ours, as measured by ``sync_clock`` (0 until then)."""
        return self._session.clock_offset_ms

    def _record(self, send: Send, status: int | None, started: float, size: int,
                error: Exception | None) -> None:
        if self.on_request is not None:
            self.on_request(RequestRecord(send.method, send.name, send.path, status,
                                          time.perf_counter() - started, size, error))

    def _set_offset(self, before_ns: int, server_ms: int, after_ns: int) -> int:
        mid_ms = (before_ns + after_ns) // 2 // 1_000_000
        self._session.clock_offset_ms = server_ms - mid_ms
        return self._session.clock_offset_ms


class Client(_Common):
    """The blocking client. ``credentials`` are needed only for private endpoints.

    ``timeout``: seconds per request; ``retry``: see ``RetryPolicy``; ``recv_window_ms``:
    how old a signed request may arrive (server default 5,000); ``on_request``: called after
    every HTTP exchange with a ``RequestRecord``; ``http_client``: an ``httpx.Client`` of your
    own (its base URL is ignored: paths are joined to ``base_url``).
    """

    def __init__(self, base_url: str = DEFAULT_URL, credentials: Credentials | None = None, *,
                 timeout: float = 10.0, retry: RetryPolicy | None = None,
                 recv_window_ms: int | None = None, on_request: OnRequest | None = None,
                 http_client: httpx.Client | None = None) -> None:
        super().__init__(base_url, credentials, retry or RetryPolicy(), recv_window_ms,
                         on_request)
        self._own_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout,
                                                 headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _run(self, call: Call[T]) -> T:
        plan = self._session.plan(call)
        outcome: Response | Failure | None = None
        try:
            action = next(plan)
            while True:
                if isinstance(action, Sleep):
                    time.sleep(action.seconds)
                    outcome = None
                else:
                    outcome = self._send(action)
                action = plan.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _send(self, send: Send) -> Response | Failure:
        started = time.perf_counter()
        try:
            r = self._http.request(send.method, self.base_url + send.path,
                                   headers=dict(send.headers), content=send.content or None)
        except httpx.HTTPError as e:
            self._record(send, None, started, 0, e)
            return _failure(e)
        self._record(send, r.status_code, started, len(r.content), None)
        return _response(r)

    # ------------------------------------------------------------------- public

    def sync_clock(self) -> int:
        """Measure the server's clock against ours and sign with it from now on (a signed
        request must arrive within ``recv_window_ms`` of the server's time); returns the
        offset in ms."""
        before = time.time_ns()
        server = self._run(_api.server_time())
        return self._set_offset(before, server, time.time_ns())

    def server_time(self) -> int:
        """The server's clock, ms since the epoch."""
        return self._run(_api.server_time())

    def instruments(self) -> list[Instrument]:
        return self._run(_api.instruments())

    def instrument(self, symbol: str) -> Instrument:
        """One instrument's filters and tiers (``NotFound`` if it is not listed)."""
        return _pick(self.instruments(), symbol)

    def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot:
        return self._run(_api.depth(symbol, limit))

    def trades(self, symbol: str, limit: int = 100) -> list[PublicTrade]:
        return self._run(_api.trades(symbol, limit))

    def klines(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[Kline]:
        return self._run(_api.klines(symbol, interval, limit))

    def ticker(self, symbol: str) -> Ticker:
        return self._run(_api.ticker(symbol))

    def prices(self, symbol: str) -> Prices:
        return self._run(_api.prices(symbol))

    def funding_history(self, symbol: str, limit: int = 100) -> list[FundingSettled]:
        return self._run(_api.funding_history(symbol, limit))

    def insurance(self, limit: int = 100) -> InsuranceFund:
        return self._run(_api.insurance(limit))

    def liquidations(self, limit: int = 100) -> list[Event]:
        return self._run(_api.liquidations(limit))

    def signup(self, name: str, deposit: DecimalLike | None = None) -> Credentials:
        """Self-service sign-up (where the server allows it): a new user and its key. The
        client does not start using it: assign ``client.credentials``."""
        return self._run(_api.signup(name, deposit))

    def create_user(self, name: str, admin_key: str,
                    deposit: DecimalLike | None = None) -> Credentials:
        """Create a user with the admin key (the server's ``DATA_DIR/admin.key``)."""
        return self._run(_api.create_user(name, admin_key, deposit))

    # ------------------------------------------------------------------- account

    def account(self) -> Account:
        return self._run(_api.account())

    def positions(self) -> list[Position]:
        return self._run(_api.positions())

    def position(self, symbol: str) -> Position:
        """One symbol's position (size 0 if flat)."""
        return _pick_position(self.positions(), symbol)

    def set_leverage(self, symbol: str, leverage: int) -> LeverageSetting:
        return self._run(_api.set_leverage(symbol, leverage))

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> MarginModeSetting:
        return self._run(_api.set_margin_mode(symbol, mode))

    def adjust_isolated_margin(self, symbol: str, amount: DecimalLike) -> IsolatedMarginChanged:
        """Add (positive) or remove (negative) USDT to an isolated position's margin."""
        return self._run(_api.adjust_isolated_margin(symbol, amount))

    def faucet(self, amount: DecimalLike) -> Deposited:
        """Play money, where the server allows it."""
        return self._run(_api.faucet(amount))

    def withdraw(self, amount: DecimalLike) -> Withdrawn:
        return self._run(_api.withdraw(amount))

    def reset_account(self, balance: DecimalLike | None = None) -> Account:
        """Start over, where the server allows it: every open order canceled, the wallet set
        to ``balance`` (default: the server's). Positions must be closed first."""
        return self._run(_api.reset_account(balance))

    # ------------------------------------------------------------------- orders

    def place_order(self, order: OrderRequest) -> PlacedOrder:
        """Place an order; the answer holds its immediate fills. Safe to retry: see
        ``RetryPolicy`` (a client order id is made if ``order`` has none)."""
        return self._run(_api.place_order(order))

    def amend_order(self, symbol: str, order_id: int, *, price: DecimalLike | None = None,
                    quantity: DecimalLike | None = None) -> AmendedOrder:
        return self._run(_api.amend_order(symbol, order_id, price, quantity))

    def cancel_order(self, symbol: str, order_id: int) -> Order:
        return self._run(_api.cancel_order(symbol, order_id))

    def cancel_all(self, symbol: str) -> list[int]:
        """Cancel every open order on ``symbol``; returns their ids."""
        return self._run(_api.cancel_all(symbol))

    def order(self, order_id: int) -> Order:
        return self._run(_api.get_order(order_id))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return self._run(_api.open_orders(symbol))

    def order_history(self, limit: int = 100) -> list[Order]:
        """Closed orders (filled, canceled, expired), oldest first."""
        return self._run(_api.order_history(limit))

    def fills(self, limit: int = 100) -> list[OrderFilled]:
        return self._run(_api.fills(limit))

    def funding_payments(self, limit: int = 100) -> list[FundingPaid]:
        return self._run(_api.funding_payments(limit))


class AsyncClient(_Common):
    """The asyncio client: ``Client``'s methods, awaited."""

    def __init__(self, base_url: str = DEFAULT_URL, credentials: Credentials | None = None, *,
                 timeout: float = 10.0, retry: RetryPolicy | None = None,
                 recv_window_ms: int | None = None, on_request: OnRequest | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        super().__init__(base_url, credentials, retry or RetryPolicy(), recv_window_ms,
                         on_request)
        self._own_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout,
                                                      headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _run(self, call: Call[T]) -> T:
        plan = self._session.plan(call)
        outcome: Response | Failure | None = None
        try:
            action = next(plan)
            while True:
                if isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                    outcome = None
                else:
                    outcome = await self._send(action)
                action = plan.send(outcome)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _send(self, send: Send) -> Response | Failure:
        started = time.perf_counter()
        try:
            r = await self._http.request(send.method, self.base_url + send.path,
                                         headers=dict(send.headers),
                                         content=send.content or None)
        except httpx.HTTPError as e:
            self._record(send, None, started, 0, e)
            return _failure(e)
        self._record(send, r.status_code, started, len(r.content), None)
        return _response(r)

    # ------------------------------------------------------------------- public

    async def sync_clock(self) -> int:
        before = time.time_ns()
        server = await self._run(_api.server_time())
        return self._set_offset(before, server, time.time_ns())

    async def server_time(self) -> int:
        return await self._run(_api.server_time())

    async def instruments(self) -> list[Instrument]:
        return await self._run(_api.instruments())

    async def instrument(self, symbol: str) -> Instrument:
        return _pick(await self.instruments(), symbol)

    async def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot:
        return await self._run(_api.depth(symbol, limit))

    async def trades(self, symbol: str, limit: int = 100) -> list[PublicTrade]:
        return await self._run(_api.trades(symbol, limit))

    async def klines(self, symbol: str, interval: str = "1m", limit: int = 500) -> list[Kline]:
        return await self._run(_api.klines(symbol, interval, limit))

    async def ticker(self, symbol: str) -> Ticker:
        return await self._run(_api.ticker(symbol))

    async def prices(self, symbol: str) -> Prices:
        return await self._run(_api.prices(symbol))

    async def funding_history(self, symbol: str, limit: int = 100) -> list[FundingSettled]:
        return await self._run(_api.funding_history(symbol, limit))

    async def insurance(self, limit: int = 100) -> InsuranceFund:
        return await self._run(_api.insurance(limit))

    async def liquidations(self, limit: int = 100) -> list[Event]:
        return await self._run(_api.liquidations(limit))

    async def signup(self, name: str, deposit: DecimalLike | None = None) -> Credentials:
        return await self._run(_api.signup(name, deposit))

    async def create_user(self, name: str, admin_key: str,
                          deposit: DecimalLike | None = None) -> Credentials:
        return await self._run(_api.create_user(name, admin_key, deposit))

    # ------------------------------------------------------------------- account

    async def account(self) -> Account:
        return await self._run(_api.account())

    async def positions(self) -> list[Position]:
        return await self._run(_api.positions())

    async def position(self, symbol: str) -> Position:
        return _pick_position(await self.positions(), symbol)

    async def set_leverage(self, symbol: str, leverage: int) -> LeverageSetting:
        return await self._run(_api.set_leverage(symbol, leverage))

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> MarginModeSetting:
        return await self._run(_api.set_margin_mode(symbol, mode))

    async def adjust_isolated_margin(self, symbol: str,
                                     amount: DecimalLike) -> IsolatedMarginChanged:
        return await self._run(_api.adjust_isolated_margin(symbol, amount))

    async def faucet(self, amount: DecimalLike) -> Deposited:
        return await self._run(_api.faucet(amount))

    async def withdraw(self, amount: DecimalLike) -> Withdrawn:
        return await self._run(_api.withdraw(amount))

    async def reset_account(self, balance: DecimalLike | None = None) -> Account:
        return await self._run(_api.reset_account(balance))

    # ------------------------------------------------------------------- orders

    async def place_order(self, order: OrderRequest) -> PlacedOrder:
        return await self._run(_api.place_order(order))

    async def amend_order(self, symbol: str, order_id: int, *,
                          price: DecimalLike | None = None,
                          quantity: DecimalLike | None = None) -> AmendedOrder:
        return await self._run(_api.amend_order(symbol, order_id, price, quantity))

    async def cancel_order(self, symbol: str, order_id: int) -> Order:
        return await self._run(_api.cancel_order(symbol, order_id))

    async def cancel_all(self, symbol: str) -> list[int]:
        return await self._run(_api.cancel_all(symbol))

    async def order(self, order_id: int) -> Order:
        return await self._run(_api.get_order(order_id))

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._run(_api.open_orders(symbol))

    async def order_history(self, limit: int = 100) -> list[Order]:
        return await self._run(_api.order_history(limit))

    async def fills(self, limit: int = 100) -> list[OrderFilled]:
        return await self._run(_api.fills(limit))

    async def funding_payments(self, limit: int = 100) -> list[FundingPaid]:
        return await self._run(_api.funding_payments(limit))


def _pick(instruments: list[Instrument], symbol: str) -> Instrument:
    for inst in instruments:
        if inst.symbol == symbol:
            return inst
    raise NotFound("UNKNOWN_SYMBOL", f"{symbol!r} is not listed; listed: "
                   f"{', '.join(i.symbol for i in instruments)}")


def _pick_position(positions: list[Position], symbol: str) -> Position:
    for p in positions:
        if p.symbol == symbol:
            return p
    raise NotFound("UNKNOWN_SYMBOL", f"no position record for {symbol!r}")


__all__ = ["AsyncClient", "Client", "OnRequest"]
