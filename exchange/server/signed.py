"""Signed requests: the auth headers' limits, the check every signed request passes, and a
lean request path for hot signed endpoints (order entry).

FastAPI solves an endpoint's dependencies anew on every request: it reads and validates each
declared header, resolves the auth dependency, parses the content type with the ``email``
package, then validates the returned dict against its annotation before serialising it. Under
``loadtests.bench_api`` that cost POST /api/v1/orders more CPU than the venue's own work.

``SignedJsonRoute`` keeps the route as declared (its OpenAPI entry and every error answer stay
FastAPI's) and answers the common, well-formed request itself: the auth headers within their
limits, a JSON body that the endpoint's model accepts, no dependency overrides. Anything else
(a missing or oversized header, another content type, a body that does not parse or
validate) goes down FastAPI's own path, which gives the documented error. The lean path
changes no state before it has decided, so each request is handled by exactly one path, with
the same signature check, rate limit, model and endpoint as the declared one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, get_type_hints

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic_core import to_json
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from exchange.server.auth import ApiKey
from exchange.server.errors import ApiCode, ApiError

if TYPE_CHECKING:
    from exchange.server.runtime import Exchange

# The auth headers and the most characters each may have (the declared Header limits).
HEADER_LIMITS = {"x-api-key": 128, "x-timestamp": 32, "x-signature": 256, "x-recv-window": 16}
_RAW_LIMITS = {name.encode(): limit for name, limit in HEADER_LIMITS.items()}
_REQUIRED = (b"x-api-key", b"x-timestamp", b"x-signature")


def signed_key(ex: Exchange, api_key: str | None, timestamp: str | None,
               signature: str | None, recv_window: str | None, method: str, path: str,
               body: bytes) -> ApiKey:
    """The key that signed the request, within its rate limit; else the ApiError to answer."""
    key = ex.keys.authenticate(api_key, timestamp, signature, recv_window, method, path, body,
                               ex.now_ms())
    wait = ex.limiter.check(f"key:{key.api_key}", ex.now_ms())
    if wait is not None:
        raise ApiError(429, ApiCode.RATE_LIMITED, "too many requests for this key",
                       {"Retry-After": str(max(1, -(-wait // 1000)))})
    return key


def auth_headers(raw: list[tuple[bytes, bytes]]) -> dict[bytes, str] | None:
    """The auth headers (the first of each name, as Starlette reads them), or None if one is
    missing or over its limit: then FastAPI's path answers."""
    found: dict[bytes, str] = {}
    content_json = False
    for name, value in raw:
        limit = _RAW_LIMITS.get(name)
        if limit is not None:
            if name not in found:
                if len(value) > limit:
                    return None
                found[name] = value.decode("latin-1")
        elif name == b"content-type" and not content_json:
            if value != b"application/json":
                return None
            content_json = True
    if not content_json or any(name not in found for name in _REQUIRED):
        return None
    return found


Endpoint = Callable[[Request, Any, ApiKey], Coroutine[Any, Any, dict[str, Any]]]


class SignedJsonRoute(APIRoute):
    """For an endpoint ``async def f(request: Request, body: Model, key: Auth) -> dict``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        declared = super().get_route_handler()
        endpoint: Endpoint = self.endpoint
        model = get_type_hints(endpoint)["body"]
        assert issubclass(model, BaseModel), "the endpoint's body must be a pydantic model"
        route_path = self.path

        async def lean(request: Request) -> Response:
            scope = request.scope
            if (scope["path"] != route_path or scope["query_string"]
                    or MAX_BODY_SIZE_SCOPE_KEY in scope or request.app.dependency_overrides):
                return await declared(request)
            headers = auth_headers(scope["headers"])
            if headers is None:
                return await declared(request)
            try:
                raw = await request.body()  # kept on the request, should FastAPI read it too
                body = model.model_validate(json.loads(raw))
            except Exception:  # unreadable, not JSON, or invalid: FastAPI's answer says which
                return await declared(request)
            ex: Exchange = request.app.state.exchange
            key = signed_key(ex, headers[b"x-api-key"], headers[b"x-timestamp"],
                             headers[b"x-signature"], headers.get(b"x-recv-window"),
                             scope["method"], route_path, raw)
            return Response(to_json(await endpoint(request, body, key)),
                            media_type="application/json")

        return lean
