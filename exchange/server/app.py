"""The FastAPI application: routes, error handling, auth and rate limits.

Every error leaves as ``{"code": ..., "msg": ...}``: request validation, auth, rate limits,
venue rejections (with the venue's code), unknown paths. An unexpected exception is logged
and answered as ``INTERNAL`` 500, which the API fuzz tests treat as a bug.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.server import binance, routes_private, routes_public, ws
from exchange.server.error_docs import error_codes_markdown
from exchange.server.errors import ApiCode, ApiError
from exchange.server.runtime import Exchange
from exchange.server.signed import SignedJsonRoute

log = logging.getLogger("paper_exchange")


class IpRateLimit:
    """Requests per client IP, as a plain ASGI middleware: Starlette's ``@app.middleware``
    wraps every request in a task group and streams, which costs more than the venue."""

    def __init__(self, app: ASGIApp, exchange: Exchange) -> None:
        self.app = app
        self.exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = client[0] if client else "?"
        wait = self.exchange.limiter.check(f"ip:{host}", self.exchange.now_ms())
        if wait is None:
            await self.app(scope, receive, send)
            return
        retry = str(max(1, -(-wait // 1000)))
        body: dict[str, Any] = {"code": ApiCode.RATE_LIMITED,
                                "msg": f"too many requests from {host}: retry later"}
        if str(scope.get("path", "")).startswith(("/fapi", "/sapi")):
            # Binance's code for it, so that its clients back off as they would there.
            body = {"code": -1003, "msg": f"Too many requests from {host}; retry later."}
        await JSONResponse(body, status_code=429, headers={"Retry-After": retry})(
            scope, receive, send)


def all_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, including those of included routers (FastAPI wraps an included router in
    one object, whose own routes are those of the router it includes)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from all_routes(inner.routes)
        else:
            yield route


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    methods: set[str] = set()
    for route in all_routes(app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods.update(getattr(route, "methods", None) or ())
    return methods


DESCRIPTION = f"""A paper-trading perpetual-futures exchange. Prices, quantities and money are
decimal strings.

## Auth

Private endpoints are signed. Send your key as `X-API-KEY`, the time in ms as `X-TIMESTAMP`
(within 5 s of the server's, or `X-RECV-WINDOW` ms, at most 60,000) and as `X-SIGNATURE` the
hex HMAC-SHA256, keyed with your secret, of `timestamp + METHOD + path + body`, where `path`
includes the query string as sent (`/api/v1/orders?symbol=BTCUSDT`) and `body` is the raw
body (empty for GET and DELETE). Keys carry permissions (read, trade). Each key and each IP
has a request rate limit; over it, the answer is 429 with `Retry-After`. The websocket at
`/ws` logs in with `{{"op": "login", "api_key", "timestamp", "signature"}}`, the signature of
`timestamp + "GET" + "/ws"`.

## Errors

Every error is JSON `{{"code": ..., "msg": ...}}`. `code` is stable (match on it); `msg` says
what to fix.

{error_codes_markdown()}
"""


def create_app(exchange: Exchange, *, run_clock: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        exchange.start(clock=run_clock)
        yield
        await exchange.stop()

    app = FastAPI(
        title="paper-exchange",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.exchange = exchange
    app.state.hub = ws.Hub(exchange)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "msg": exc.msg}, status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body')}: {err.get('msg')}"
            for err in exc.errors())
        return JSONResponse({"code": ApiCode.INVALID_REQUEST, "msg": problems or "invalid"},
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ApiCode.NOT_FOUND, 405: ApiCode.METHOD_NOT_ALLOWED}.get(
            exc.status_code, ApiCode.INVALID_REQUEST)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path; a path can
            # have several (POST and DELETE /orders): list them all, as RFC 9110 asks.
            headers["Allow"] = ", ".join(sorted(allowed_methods(app, request.url.path)))
        return JSONResponse({"code": code, "msg": str(exc.detail)},
                            status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"code": ApiCode.INTERNAL, "msg": "internal error"},
                            status_code=500)

    app.add_middleware(IpRateLimit, exchange=exchange)

    # Order entry, the hot route, once more ahead of the routers and out of the schema (the
    # documented one is the private router's): FastAPI tries an included router's routes one
    # by one, twice per request, which cost as much as the lean handler itself.
    app.router.add_api_route(f"{routes_private.router.prefix}/orders", routes_private.place_order,
                             methods=["POST"], include_in_schema=False,
                             route_class_override=SignedJsonRoute)
    app.include_router(routes_public.router)
    app.include_router(routes_private.router)
    app.include_router(ws.router)
    # The Binance USDⓈ-M facade (/fapi, /sapi, /fstream), with Binance-shaped errors of its own.
    binance.install(app)
    return app
