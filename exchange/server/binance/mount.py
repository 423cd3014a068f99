"""Putting the facade on the server's app: its routers, its websocket hub, and Binance-shaped
errors on its paths.

The native app's error handlers stay as they are; the facade's paths get Binance's shape by
three means of their own: its routes answer their errors themselves (``BinanceRoute``); a
catch-all route after them answers unknown /fapi and /sapi paths and wrong methods; and a small
ASGI middleware rewrites the server's per-IP rate-limit answer (429) on those paths into
Binance's -1003.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.server.binance import errors, rest_algo, rest_private, rest_public, ws
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.routing import BinanceRoute, Facade
from exchange.server.binance.state import FacadeState
from exchange.server.runtime import Exchange

PREFIXES = ("/fapi/", "/sapi/")
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

fallback = APIRouter(route_class=BinanceRoute, include_in_schema=False)


@fallback.api_route("/fapi/{path:path}", methods=METHODS)
@fallback.api_route("/sapi/{path:path}", methods=METHODS)
async def no_such_endpoint(request: Request) -> Response:
    """Binance's answer to a path it does not serve, or a method the path does not take."""
    scope = dict(request.scope, method=request.method)
    allowed = any(route.matches(scope)[0] is Match.PARTIAL for route in request.app.routes
                  if getattr(route, "endpoint", None) is not no_such_endpoint)
    raise BinanceError(errors.PATH_INVALID,
                       f"Path {request.url.path}, Method {request.method} is invalid",
                       405 if allowed else 404)


TOO_MANY = json.dumps({"code": errors.TOO_MANY_REQUESTS,
                       "msg": "Too many requests; current limit is exceeded. Please use the "
                              "websocket for live updates to avoid polling the API."}).encode()


class RateLimitShape:
    """The server's per-IP limiter answers before any route; on the facade's paths its 429
    becomes Binance's -1003 (Retry-After kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        replaced = False

        async def reshape(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 429:
                replaced = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"content-length", b"content-type")]
                headers += [(b"content-type", b"application/json"),
                            (b"content-length", str(len(TOO_MANY)).encode())]
                await send({"type": "http.response.start", "status": 429, "headers": headers})
                await send({"type": "http.response.body", "body": TOO_MANY})
                return
            if replaced:
                return  # the original body of the replaced answer
            await send(message)

        await self.app(scope, receive, reshape)


def install(app: FastAPI) -> Facade:
    """Serve the Binance facade on ``app`` (the server's app, over its exchange)."""
    exchange: Exchange = app.state.exchange
    state = FacadeState(exchange)
    hub = ws.Hub(exchange, state)
    facade = Facade(exchange, state)
    app.state.binance = facade
    app.state.binance_hub = hub

    exchange.subscribers.append(hub.publish)
    app.include_router(rest_public.router)
    app.include_router(rest_private.router)
    app.include_router(rest_algo.router)
    app.include_router(ws.router)
    app.include_router(fallback)
    app.add_middleware(RateLimitShape)
    return facade
