"""Every error code a client can meet is documented at /docs, with what it means."""

from __future__ import annotations

from exchange.core.errors import Code
from exchange.server.error_docs import API_CODES, VENUE_CODES
from exchange.server.errors import ApiCode
from tests.exchange.server.conftest import Server


def test_every_code_has_a_meaning() -> None:
    assert set(API_CODES) == set(ApiCode)
    assert set(VENUE_CODES) == set(Code)
    assert all(meaning.strip() for meaning in [*API_CODES.values(), *VENUE_CODES.values()])


def test_the_openapi_description_lists_every_code_and_the_signing_recipe(server: Server) -> None:
    description = server.client.get("/openapi.json").json()["info"]["description"]
    for code in [*ApiCode, *Code]:
        assert f"`{code}`" in description, code
    assert "## Auth" in description and "timestamp + METHOD + path + body" in description
