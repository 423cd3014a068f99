"""The blocking REST client against a live server: every method, every error family from a
real answer, signing, the clock, and retries only where they are safe."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from clients import (
    Account,
    AuthError,
    Client,
    Credentials,
    DepthSnapshot,
    ErrorCode,
    ExchangeError,
    Instrument,
    InsufficientMargin,
    InvalidOrder,
    InvalidRequest,
    MarginMode,
    NotFound,
    OrderFilled,
    OrderRequest,
    OrderStatus,
    OrderType,
    OutcomeUnknown,
    PlacedOrder,
    RateLimited,
    RequestRecord,
    RetryPolicy,
    Side,
    TransportError,
)
from clients.errors import FAMILIES, ServerError, error_class
from tests.clients.conftest import BTC, Server, free_port

ETH = "ETHUSDT"


def no_floats(value: Any, where: str = "") -> None:
    """Every number in a model is an int or a Decimal, never a float."""
    if isinstance(value, float):
        raise AssertionError(f"float at {where}: {value!r}")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            no_floats(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            no_floats(item, f"{where}[{i}]")


def limit_price(client: Client, side: Side, away: str = "0.02") -> Decimal:
    """A price that rests: ``away`` from the mark on the passive side, on the tick grid."""
    inst = client.instrument(BTC)
    mark = client.prices(BTC).mark
    assert mark is not None
    factor = 1 - Decimal(away) if side is Side.BUY else 1 + Decimal(away)
    return inst.round_price(mark * factor)


# ----------------------------------------------------------------------------- public


def test_public_endpoints(server: Server) -> None:
    with server.client() as c:
        now = c.server_time()
        assert abs(now - time.time() * 1000) < 60_000
        instruments = c.instruments()
        assert {i.symbol for i in instruments} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
        btc = c.instrument(BTC)
        assert isinstance(btc, Instrument) and btc.tick_size == Decimal("0.10")
        assert btc.tiers[0].max_leverage == 125 and btc.tiers[-1].cap is None
        assert btc.round_price("65000.06") == Decimal("65000.10")
        assert btc.round_qty("0.0109") == Decimal("0.010")
        depth = c.depth(BTC, 5)
        assert isinstance(depth, DepthSnapshot) and depth.seq > 0
        assert depth.bids and depth.asks and depth.bids[0].price < depth.asks[0].price
        assert len(depth.bids) <= 5
        ticker = c.ticker(BTC)
        assert ticker.symbol == BTC and ticker.mark is not None
        prices = c.prices(BTC)
        assert prices.mark is not None and prices.index is not None
        assert prices.funding_rate == Decimal("0.0001")
        trades = c.trades(BTC, 10)
        klines = c.klines(BTC, "1m", 10)
        if trades:  # the built-in traders trade at random moments
            assert trades[-1].price > 0 and trades[-1].aggressor in (Side.BUY, Side.SELL)
        if klines:
            assert klines[-1].high >= klines[-1].low
        assert isinstance(c.funding_history(BTC), list)
        fund = c.insurance()
        assert fund.balance >= 0
        assert isinstance(c.liquidations(), list)
        for value in (instruments, depth, ticker, prices, trades, klines, fund):
            no_floats(value)


def test_signup_and_create_user(server: Server) -> None:
    with server.client() as c:
        me = c.signup(f"self-{free_port()}", "500")
        assert me.api_key and me.secret and me.user
        assert "secret" not in repr(me) and me.secret not in repr(me)
        c.credentials = me
        assert c.account().wallet_balance == Decimal("500")
        made = c.create_user(f"admin-made-{free_port()}", server.admin_key, Decimal("123.45"))
        c.credentials = made
        assert c.account().wallet_balance == Decimal("123.45")


# ----------------------------------------------------------------------------- account


def test_account_positions_leverage_margin(client: Client) -> None:
    account = client.account()
    assert isinstance(account, Account)
    assert account.wallet_balance == Decimal("10000") and account.margin_ratio is None
    no_floats(account)
    positions = client.positions()
    assert {p.symbol for p in positions} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert client.position(BTC).size == 0
    assert client.set_leverage(BTC, 7).leverage == 7
    assert client.position(BTC).leverage == 7
    setting = client.set_margin_mode(ETH, MarginMode.ISOLATED)
    assert setting.margin_mode is MarginMode.ISOLATED
    assert client.position(ETH).margin_mode is MarginMode.ISOLATED
    deposit = client.faucet("250.5")
    assert deposit.amount == Decimal("250.5") and deposit.wallet == Decimal("10250.5")
    withdrawn = client.withdraw(Decimal("50.5"))
    assert withdrawn.wallet == Decimal("10200")
    # An isolated position, then margin in and out of it.
    client.place_order(OrderRequest.market(ETH, Side.BUY, "0.050"))
    added = client.adjust_isolated_margin(ETH, "10")
    assert added.delta == Decimal("10") and added.isolated_wallet > Decimal("10")
    removed = client.adjust_isolated_margin(ETH, Decimal("-5"))
    assert removed.isolated_wallet == added.isolated_wallet - 5
    position = client.position(ETH)
    assert position.size == Decimal("0.050") and position.side is Side.BUY
    assert position.entry_price is not None and position.isolated_wallet > 0
    assert client.account().margin_ratio is None  # the cross account has no position
    client.place_order(OrderRequest.market(BTC, Side.SELL, "0.002"))
    ratio = client.account().margin_ratio  # "0.02%" on the wire: a percent
    assert ratio is not None and Decimal(0) < ratio < Decimal(100)
    no_floats(position)


def test_reset_account_starts_over(client: Client) -> None:
    client.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", limit_price(client, Side.BUY)))
    account = client.reset_account("500")
    assert isinstance(account, Account) and account.wallet_balance == Decimal("500")
    assert client.open_orders() == []
    assert client.reset_account().wallet_balance == Decimal("10000")  # the server's default
    with pytest.raises(ExchangeError) as e:
        client.reset_account("-1")
    assert e.value.code == "INVALID_REQUEST"


def test_sync_clock(client: Client) -> None:
    offset = client.sync_clock()
    assert abs(offset) < 1_000 and client.clock_offset_ms == offset
    assert client.account().user == client.credentials.user  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- orders


def test_order_lifecycle(client: Client) -> None:
    price = limit_price(client, Side.BUY)
    placed = client.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", price,
                                                   client_order_id="mine-1"))
    assert isinstance(placed, PlacedOrder)
    assert placed.status is OrderStatus.NEW and placed.fills == () and placed.is_open
    assert placed.client_order_id == "mine-1" and placed.price == price
    assert placed.order_type is OrderType.LIMIT and placed.remaining == Decimal("0.002")
    assert [o.order_id for o in client.open_orders(BTC)] == [placed.order_id]
    assert client.open_orders(ETH) == [] and len(client.open_orders()) == 1
    assert client.order(placed.order_id).status is OrderStatus.NEW
    lower = price - Decimal("10")
    amended = client.amend_order(BTC, placed.order_id, price=lower, quantity="0.003")
    assert amended.price == lower and amended.quantity == Decimal("0.003")
    assert amended.events and amended.events[0].__class__.__name__ == "OrderAmended"
    canceled = client.cancel_order(BTC, placed.order_id)
    assert canceled.status is OrderStatus.CANCELED and not canceled.is_open
    # cancel_all
    ids = [client.place_order(OrderRequest.limit(BTC, Side.SELL, "0.002",
                                                 limit_price(client, Side.SELL))).order_id
           for _ in range(2)]
    assert sorted(client.cancel_all(BTC)) == sorted(ids)
    assert client.open_orders(BTC) == []
    # a market order: filled at once, with its fills
    bought = client.place_order(OrderRequest.market(BTC, Side.BUY, "0.002"))
    assert bought.status is OrderStatus.FILLED and bought.avg_price is not None
    assert bought.fills and all(isinstance(f, OrderFilled) for f in bought.fills)
    assert sum(f.quantity for f in bought.fills) == Decimal("0.002")
    assert bought.client_order_id.startswith("c-")  # made by the client: retry-safe
    # a stop that closes the position
    stop = client.place_order(OrderRequest.stop_market(
        BTC, Side.SELL, limit_price(client, Side.BUY, "0.03"), close_position=True))
    assert stop.order_type is OrderType.STOP_MARKET and stop.close_position
    client.cancel_order(BTC, stop.order_id)
    fills = client.fills()
    assert [f.order_id for f in fills][-len(bought.fills):] == [bought.order_id] * len(
        bought.fills)
    history = client.order_history()
    assert {placed.order_id, bought.order_id, stop.order_id, *ids} <= {
        o.order_id for o in history}
    assert client.funding_payments() == []  # funding is every 8 hours
    for value in (placed, amended, bought, fills, history):
        no_floats(value)


def test_order_request_refuses_floats() -> None:
    with pytest.raises(TypeError, match="float"):
        OrderRequest.limit(BTC, Side.BUY, 0.1, "60000")  # type: ignore[arg-type]
    wire = OrderRequest.limit(BTC, Side.BUY, Decimal("1E-3"), Decimal("6E+4"),
                              post_only=True).to_wire()
    assert wire == {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.001",
                    "price": "60000", "time_in_force": "GTX"}


# ----------------------------------------------------------------------------- errors


def test_insufficient_margin(client: Client) -> None:
    with pytest.raises(InsufficientMargin) as e:
        client.place_order(OrderRequest.market(BTC, Side.BUY, "100"))
    assert e.value.code == ErrorCode.INSUFFICIENT_MARGIN and e.value.status == 400
    assert "margin" in e.value.msg
    with pytest.raises(InsufficientMargin) as e2:
        client.withdraw("1000000")
    assert e2.value.code == ErrorCode.INSUFFICIENT_BALANCE


def test_invalid_order(client: Client) -> None:
    with pytest.raises(InvalidOrder) as e:
        client.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", "1000"))
    assert e.value.code == ErrorCode.PRICE_OUT_OF_BAND and "mark" in e.value.msg
    with pytest.raises(InvalidOrder) as e2:
        client.place_order(OrderRequest.limit(BTC, Side.BUY, "0", limit_price(client, Side.BUY)))
    assert e2.value.code in (ErrorCode.INVALID_QUANTITY, ErrorCode.QUANTITY_BELOW_MIN)
    price = limit_price(client, Side.BUY)
    client.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", price, client_order_id="dup"))
    with pytest.raises(InvalidOrder) as e3:
        client.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002", price,
                                              client_order_id="dup"))
    assert e3.value.code == ErrorCode.DUPLICATE_CLIENT_ORDER_ID
    assert isinstance(e3.value, InvalidRequest)  # an invalid order is an invalid request
    client.cancel_all(BTC)


def test_not_found(client: Client) -> None:
    with pytest.raises(NotFound) as e:
        client.order(987_654_321)
    assert e.value.code == ErrorCode.UNKNOWN_ORDER and e.value.status == 404
    with pytest.raises(NotFound) as e2:
        client.cancel_order(BTC, 987_654_321)
    assert e2.value.code == ErrorCode.UNKNOWN_ORDER and e2.value.status == 400
    with pytest.raises(NotFound) as e3:
        client.ticker("NOPEUSDT")
    assert e3.value.code == ErrorCode.UNKNOWN_SYMBOL
    client.set_margin_mode("SOLUSDT", MarginMode.ISOLATED)
    with pytest.raises(NotFound) as e4:
        client.adjust_isolated_margin("SOLUSDT", "1")
    assert e4.value.code == ErrorCode.NO_POSITION


def test_auth_errors(server: Server, user: Credentials) -> None:
    with server.client(Credentials(user.api_key, "0" * 64)) as c:
        with pytest.raises(AuthError) as e:
            c.account()
        assert e.value.code == ErrorCode.AUTH_INVALID_SIGNATURE and e.value.status == 401
    with server.client(Credentials("no-such-key", user.secret)) as c:
        with pytest.raises(AuthError) as e2:
            c.positions()
        assert e2.value.code == ErrorCode.AUTH_INVALID_KEY
    with server.client(user) as c:
        c._session.clock_offset_ms = -60_000  # a clock a minute slow
        with pytest.raises(AuthError) as e3:
            c.account()
        assert e3.value.code == ErrorCode.AUTH_TIMESTAMP and "clock" in e3.value.msg
        c.sync_clock()  # measuring the server's clock repairs it
        assert c.account().user == user.user
    with server.client() as c, pytest.raises(ExchangeError) as e4:
        c.account()  # no key: refused before anything is sent
    assert e4.value.code == "AUTH_MISSING" and e4.value.status is None


def test_invalid_request(server: Server, client: Client, user: Credentials) -> None:
    with pytest.raises(InvalidRequest) as e:
        client.klines(BTC, "7m")
    assert e.value.code == ErrorCode.INVALID_REQUEST and "interval" in e.value.msg
    with pytest.raises(InvalidRequest) as e2:
        client.set_margin_mode(BTC, MarginMode.CROSS)
    assert e2.value.code == ErrorCode.MARGIN_MODE_UNCHANGED
    with pytest.raises(InvalidRequest) as e3:
        client.create_user(f"t-dup-{user.user}", server.admin_key)
        client.create_user(f"t-dup-{user.user}", server.admin_key)
    assert e3.value.code == ErrorCode.USER_EXISTS and e3.value.status == 409
    with pytest.raises(InvalidRequest) as e4:
        client.set_leverage(BTC, 500)
    assert e4.value.code == ErrorCode.INVALID_LEVERAGE and "125" in e4.value.msg
    with pytest.raises(AuthError) as e5:
        client.create_user("x", "not-the-admin-key")
    assert e5.value.code == ErrorCode.AUTH_INVALID_KEY


def test_rate_limited(server: Server) -> None:
    """Over the per-IP budget (50 requests/s, bursts of 100): RateLimited with Retry-After."""
    records: list[RequestRecord] = []
    with Client(server.url, retry=RetryPolicy(attempts=1), on_request=records.append) as c:
        with pytest.raises(RateLimited) as e:
            for _ in range(400):
                c.server_time()
        assert e.value.code == ErrorCode.RATE_LIMITED and e.value.status == 429
        assert e.value.retry_after is not None and e.value.retry_after >= 1
        assert records[-1].status == 429 and records[0].status == 200
        assert records[0].name == "/api/v1/time" and records[0].elapsed > 0
        time.sleep(e.value.retry_after)
        # The same request, allowed to wait for the budget: it gets through.
        c.retry = RetryPolicy(rate_limited=True)
        assert c.server_time() > 0
    time.sleep(2)  # let the bucket refill for the other tests


def test_every_server_code_has_a_family() -> None:
    from exchange.core.errors import Code
    from exchange.server.errors import ApiCode

    assert {c.value for c in Code} | {c.value for c in ApiCode} == {c.value for c in ErrorCode}
    mapped = set().union(*FAMILIES.values())
    assert mapped <= {c.value for c in ErrorCode}
    assert error_class("SOMETHING_NEW", 503) is ServerError
    assert error_class("SOMETHING_NEW", 429) is RateLimited
    assert error_class("SOMETHING_NEW", 404) is NotFound
    assert error_class("SOMETHING_NEW", 400) is InvalidRequest


# ----------------------------------------------------------------------------- retries


class LosingTransport(httpx.BaseTransport):
    """Sends requests to the real server, but loses the answers of the first ``lose``
    requests that match, after the server has handled them."""

    def __init__(self, method: str, path: str, lose: int = 1) -> None:
        self.inner = httpx.HTTPTransport()
        self.method, self.path, self.lose = method, path, lose
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        response = self.inner.handle_request(request)
        if (self.lose and request.method == self.method
                and request.url.path.startswith(self.path)):
            response.read()
            self.lose -= 1
            raise httpx.ReadTimeout("answer lost (test)", request=request)
        return response


def lossy(server: Server, user: Credentials, method: str, path: str,
          lose: int = 1) -> tuple[Client, LosingTransport]:
    transport = LosingTransport(method, path, lose)
    client = Client(server.url, user, http_client=httpx.Client(transport=transport),
                    retry=RetryPolicy(attempts=3, backoff=0.05, rate_limited=True))
    return client, transport


def test_lost_answer_of_a_placed_order_is_looked_up_not_repeated(server: Server,
                                                                 user: Credentials) -> None:
    client, transport = lossy(server, user, "POST", "/api/v1/orders")
    order = client.place_order(OrderRequest.market(BTC, Side.BUY, "0.002"))
    assert order.status is OrderStatus.FILLED and order.fills
    assert transport.seen.count("POST /api/v1/orders") == 1  # found, not sent twice
    assert "GET /api/v1/orders/history" in transport.seen
    assert client.position(BTC).size == Decimal("0.002")  # one order, not two
    # A resting order is found among the open ones.
    client2, transport2 = lossy(server, user, "POST", "/api/v1/orders")
    resting = client2.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002",
                                                     limit_price(client, Side.BUY)))
    assert resting.status is OrderStatus.NEW
    assert len(client.open_orders(BTC)) == 1
    assert transport2.seen.count("POST /api/v1/orders") == 1


def test_lost_answer_before_the_server_has_it_is_sent_again(server: Server,
                                                           user: Credentials) -> None:
    """A request lost on the way (never handled): the lookup finds nothing, the retry
    places it once."""

    class LoseOnTheWay(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()
            self.dropped = False

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and not self.dropped:
                self.dropped = True
                raise httpx.WriteError("connection reset (test)", request=request)
            return self.inner.handle_request(request)

    client = Client(server.url, user, http_client=httpx.Client(transport=LoseOnTheWay()),
                    retry=RetryPolicy(backoff=0.05, rate_limited=True))
    order = client.place_order(OrderRequest.market(BTC, Side.SELL, "0.002"))
    assert order.status is OrderStatus.FILLED
    assert client.position(BTC).size == Decimal("-0.002")


def test_lost_answer_of_a_cancel_and_of_a_read(server: Server, user: Credentials) -> None:
    with server.client(user) as plain:
        oid = plain.place_order(OrderRequest.limit(BTC, Side.BUY, "0.002",
                                                   limit_price(plain, Side.BUY))).order_id
    client, transport = lossy(server, user, "DELETE", f"/api/v1/orders/{oid}")
    assert client.cancel_order(BTC, oid).status is OrderStatus.CANCELED
    # Looked up (canceled already: done), not sent again.
    assert transport.seen.count(f"DELETE /api/v1/orders/{oid}") == 1
    assert f"GET /api/v1/orders/{oid}" in transport.seen
    reader, transport2 = lossy(server, user, "GET", "/api/v1/account", lose=2)
    assert reader.account().user == user.user  # a read: simply asked again
    assert transport2.seen.count("GET /api/v1/account") == 3


def test_lost_answer_of_an_unsafe_write_is_outcome_unknown(server: Server,
                                                           user: Credentials) -> None:
    client, transport = lossy(server, user, "POST", "/api/v1/faucet")
    with pytest.raises(OutcomeUnknown) as e:
        client.faucet("100")
    assert "may or may not" in e.value.msg
    assert transport.seen.count("POST /api/v1/faucet") == 1  # never repeated blindly
    assert client.account().wallet_balance == Decimal("10100")  # it was applied, once


def test_unreachable_server_is_a_transport_error() -> None:
    records: list[RequestRecord] = []
    with Client(f"http://127.0.0.1:{free_port()}", Credentials("k", "s"),
                retry=RetryPolicy(attempts=2, backoff=0.01), on_request=records.append) as c:
        with pytest.raises(TransportError) as e:
            c.server_time()
        assert not isinstance(e.value, OutcomeUnknown)
        # Not sent at all, so even a write is retried, and fails plainly.
        with pytest.raises(TransportError) as e2:
            c.faucet("1")
        assert not isinstance(e2.value, OutcomeUnknown)
    assert len(records) == 4 and all(r.status is None and r.error for r in records)
