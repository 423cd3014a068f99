"""Every endpoint fuzzed from the OpenAPI schema (schemathesis): no 5xx, no response outside
the schema, every error a documented JSON error.

Signatures are tested on their own (test_api.py); here the auth dependency is replaced by one
fixed user's key, so the fuzzing reaches validation and the venue behind it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import schemathesis
from fastapi import Header
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks

from exchange.server.app import create_app
from exchange.server.auth import ApiKey, Permission
from exchange.server.routes_private import authenticated
from exchange.server.runtime import Exchange, ServerConfig

_exchange = Exchange(ServerConfig(data_dir=Path(tempfile.mkdtemp()) / "data",
                                  market_makers=True, noise_traders=False,
                                  rate_per_key=10**6, burst=10**6))
_user = _exchange.create_user("fuzzer", 100_000 * 10**8)
_key = _exchange.keys.keys[_user["api_key"]]
assert Permission.TRADE in _key.permissions
app = create_app(_exchange, run_clock=False)


async def _signed_in(
    x_api_key: Annotated[str | None, Header(max_length=128)] = None,
    x_timestamp: Annotated[str | None, Header(max_length=32)] = None,
    x_signature: Annotated[str | None, Header(max_length=256)] = None,
    x_recv_window: Annotated[str | None, Header(max_length=16)] = None,
) -> ApiKey:
    """The real dependency's headers, validated the same way, without the signature check."""
    return _key


app.dependency_overrides[authenticated] = _signed_in

schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_server_errors_and_responses_match_the_schema(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, response.text
    # Valid-looking input can still be refused by the venue (unknown order, no margin...):
    # the schema cannot say so, so "positive data acceptance" is not a property of this API.
    case.validate_response(response, excluded_checks=[checks.positive_data_acceptance])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "msg"} and body["code"] and body["msg"]
