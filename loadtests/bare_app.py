"""A bare FastAPI app: the yardstick for the exchange's REST order entry.

One endpoint, ``POST /api/v1/orders``, that only parses the JSON order body into the exchange's
own pydantic model (``OrderBody``: the same fields and limits) and answers a small JSON object.
No auth, no rate limit, no venue: what is left is uvicorn, Starlette, FastAPI and pydantic, the
floor under any FastAPI order endpoint on this machine. ``loadtests.bench_api`` runs it under
uvicorn with the same options as ``paper-exchange serve``:

    python -m loadtests.bare_app [--host 127.0.0.1] [--port 8001]
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from fastapi import FastAPI

from exchange.server.routes_private import OrderBody

app = FastAPI(title="bare order endpoint")


@app.post("/api/v1/orders")
async def place_order(body: OrderBody) -> dict[str, Any]:
    return {"accepted": True, "symbol": body.symbol, "side": body.side,
            "price": body.price, "quantity": body.quantity}


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m loadtests.bare_app",
                                     description="a bare FastAPI order endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    print(f"bare app: serving at http://{args.host}:{args.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    print("bare app: stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
