"""Binance's request signing, checked against the same keys as the native API (``KeyStore``).

A signed request carries the key in the ``X-MBX-APIKEY`` header and, among its parameters (query
string or form body), ``timestamp`` (ms), optionally ``recvWindow`` (ms, default 5,000, at most
60,000) and ``signature``: the hex HMAC-SHA256, keyed with the secret, of the query string
followed by the body, the ``signature`` parameter itself left out. The request is accepted if
``timestamp < server time + 1000`` and ``server time - timestamp <= recvWindow``.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from exchange.server.auth import ApiKey, Permission, signature_matches
from exchange.server.binance import errors
from exchange.server.binance.errors import BinanceError
from exchange.server.binance.params import Params
from exchange.server.runtime import Exchange

DEFAULT_RECV_WINDOW_MS = 5_000
MAX_RECV_WINDOW_MS = 60_000
MAX_AHEAD_MS = 1_000
HEADER = "x-mbx-apikey"


def without_signature(raw: bytes) -> bytes:
    """The query string or body as signed: with the ``signature`` parameter taken out."""
    if b"signature=" not in raw:
        return raw
    return b"&".join(part for part in raw.split(b"&") if not part.startswith(b"signature="))


def sign(secret: str, payload: bytes) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


async def read(request: Request) -> tuple[Params, bytes, bytes]:
    """The request's parameters, and its raw query string and body."""
    query: bytes = request.scope.get("query_string", b"")
    body = await request.body() if request.method in ("POST", "PUT", "DELETE") else b""
    return Params.of(query, body), query, body


def api_key(ex: Exchange, request: Request) -> ApiKey:
    """The key named by ``X-MBX-APIKEY`` (endpoints that need a key but no signature)."""
    name = request.headers.get(HEADER)
    if not name:
        raise BinanceError(errors.BAD_API_KEY_FMT, "API-key format invalid.", 401)
    key = ex.keys.keys.get(name)
    if key is None:
        raise errors.bad_key()
    return key


def verify(ex: Exchange, request: Request, params: Params, query: bytes,
           body: bytes) -> ApiKey:
    key = api_key(ex, request)
    signature = params.text("signature")
    if signature is None:
        raise errors.mandatory("signature")
    timestamp_text = params.text("timestamp")
    if timestamp_text is None or not timestamp_text.isascii() or not timestamp_text.isdigit() \
            or len(timestamp_text) > 16:
        raise errors.mandatory("timestamp")
    window = params.integer("recvWindow", DEFAULT_RECV_WINDOW_MS)
    assert window is not None
    if not 0 < window <= MAX_RECV_WINDOW_MS:
        raise BinanceError(errors.BAD_RECV_WINDOW,
                           f"recvWindow must be less than {MAX_RECV_WINDOW_MS}.")
    expected = sign(key.secret, without_signature(query) + without_signature(body))
    if not signature_matches(expected, signature):
        raise BinanceError(errors.INVALID_SIGNATURE, "Signature for this request is not valid.")
    now = ex.now_ms()
    timestamp = int(timestamp_text)
    if timestamp >= now + MAX_AHEAD_MS:
        raise BinanceError(errors.INVALID_TIMESTAMP,
                           "Timestamp for this request was 1000ms ahead of the server's time.")
    if now - timestamp > window:
        raise BinanceError(errors.INVALID_TIMESTAMP,
                           "Timestamp for this request is outside of the recvWindow.")
    return key


def limit(ex: Exchange, key: ApiKey) -> None:
    """The per-key rate limit (the same bucket as the native API's)."""
    wait = ex.limiter.check(f"key:{key.api_key}", ex.now_ms())
    if wait is not None:
        raise errors.too_many_requests(wait)


async def signed(ex: Exchange, request: Request,
                 permission: Permission = Permission.READ) -> tuple[ApiKey, Params]:
    """Authenticate a signed request; its key and parameters."""
    params, query, body = await read(request)
    key = verify(ex, request, params, query, body)
    if permission not in key.permissions:
        raise errors.bad_key()
    limit(ex, key)
    return key, params
