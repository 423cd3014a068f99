"""Every facade endpoint, signed and unsigned, with parameters drawn from Binance's names and
hostile values: never a 5xx, every error Binance-shaped ``{"code": <negative int>, "msg"}``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.server.app import create_app
from exchange.server.binance import rest_algo, rest_private, rest_public
from exchange.server.runtime import Exchange, ServerConfig
from tests.exchange.server.binance.client import Bot

NAMES = ["symbol", "side", "type", "quantity", "price", "timeInForce", "stopPrice",
         "triggerPrice", "algoType", "reduceOnly", "closePosition", "callbackRate",
         "activatePrice", "activationPrice", "workingType", "newClientOrderId", "clientAlgoId",
         "orderId", "origClientOrderId", "algoId", "limit", "fromId", "startTime", "endTime",
         "interval", "leverage", "marginType", "amount", "positionSide", "dualSidePosition",
         "incomeType", "selfTradePreventionMode", "priceMatch", "newOrderRespType", "pair",
         "listenKey", "recvWindow", "page"]
VALUES = st.one_of(
    st.sampled_from(["BTCUSDT", "ETHUSDT", "btcusdt", "BUY", "SELL", "LIMIT", "MARKET",
                     "STOP_MARKET", "TAKE_PROFIT", "TRAILING_STOP_MARKET", "CONDITIONAL", "GTC",
                     "IOC", "GTX", "FOK", "true", "false", "ISOLATED", "CROSSED", "BOTH",
                     "LONG", "MARK_PRICE", "1m", "1M", "3d", "0", "1", "2", "-1", "0.001",
                     "0.010", "65000.0", "1e5", "NaN", "", " ", "0x10", "99999999999999999999999",
                     "1.5", "10", "125", "500", "1000", "EXPIRE_BOTH", "NONE", "RESULT"]),
    st.text(max_size=12),
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str))
PARAMS = st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=8)


def facade_routes() -> list[tuple[str, str]]:
    out = []
    for router in (rest_public.router, rest_private.router, rest_algo.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            out.extend((method, route.path) for method in sorted(route.methods or ()))
    return out


_dir = Path(tempfile.mkdtemp())
_exchange = Exchange(ServerConfig(data_dir=_dir / "data", market_makers=True,
                                  noise_traders=False, rate_per_key=10**6, burst=10**6))
_user = _exchange.create_user("fuzzer", 100_000 * 10**8)
_app = create_app(_exchange, run_clock=False)
ROUTES = facade_routes()


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(_app) as c:
        yield c


def check(answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    body = answer.json()
    if answer.status_code >= 400:
        assert set(body) == {"code", "msg"}, body
        assert isinstance(body["code"], int) and body["code"] < 0 and body["msg"], body


def test_there_are_many_routes() -> None:
    assert len(ROUTES) > 45


@pytest.mark.parametrize(("method", "path"), ROUTES)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=PARAMS, signed=st.booleans(), in_body=st.booleans())
def test_no_server_errors(client: Any, method: str, path: str, params: dict[str, str],
                          signed: bool, in_body: bool) -> None:
    bot = Bot(client, _user)
    check(bot.call(method, path, params, sign=signed, body=in_body))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz/%?&=.", max_size=30),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
       raw=st.binary(max_size=64))
def test_odd_paths_and_bodies(client: Any, path: str, method: str, raw: bytes) -> None:
    check(client.request(method, "/fapi/" + path, content=raw,
                         headers={"X-MBX-APIKEY": _user["api_key"]}))
