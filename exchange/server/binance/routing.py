"""What every facade route shares: Binance-shaped errors and the facade's state.

Facade routes read their parameters themselves (Binance's are strings in the query or a form
body, signed as sent), so FastAPI validates nothing and every failure is a ``BinanceError``
raised by the route. ``BinanceRoute`` answers it as ``{"code", "msg"}``; anything else raised is
a bug, logged and answered as Binance's -1000 with status 500, never the native error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from exchange.server.binance import errors
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.state import FacadeState
from exchange.server.runtime import Exchange

log = logging.getLogger("paper_exchange")


@dataclass
class Facade:
    exchange: Exchange
    state: FacadeState


def facade_of(request: Request) -> Facade:
    facade: Facade = request.app.state.binance
    return facade


def ok(data: Any) -> JSONResponse:
    return JSONResponse(data)


def error_response(exc: BinanceError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


class BinanceRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except BinanceError as exc:
                return error_response(exc)
            except Exception:  # a bug: logged with its trace, answered in Binance's shape
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return JSONResponse({"code": errors.UNKNOWN, "msg": errors.MSG_UNKNOWN},
                                    status_code=500)

        return route
