"""What the client raises: one exception type per family of the server's error codes.

Every server error is JSON ``{"code", "msg"}`` with a stable code; the client raises the
family's exception carrying that code and message (and the HTTP status, None on the
websocket), so a bot catches what it can handle and lets the rest through::

    try:
        client.place_order(OrderRequest.market("BTCUSDT", Side.BUY, Decimal("5")))
    except InsufficientMargin as e:
        print("too big:", e.msg)
    except InvalidOrder as e:
        if e.code == ErrorCode.PRICE_OUT_OF_BAND: ...

``ExchangeError`` is the base of everything here. ``ApiError`` and its subclasses mean the
server answered; ``TransportError`` means it did not (its subclass ``OutcomeUnknown``: a write
may or may not have been applied, look before you repeat it).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The server's stable error codes: its own and the venue's rejection codes."""

    # the server's own
    INVALID_REQUEST = "INVALID_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    AUTH_MISSING = "AUTH_MISSING"
    AUTH_INVALID_KEY = "AUTH_INVALID_KEY"
    AUTH_INVALID_SIGNATURE = "AUTH_INVALID_SIGNATURE"
    AUTH_TIMESTAMP = "AUTH_TIMESTAMP"
    AUTH_FORBIDDEN = "AUTH_FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    FEATURE_DISABLED = "FEATURE_DISABLED"
    USER_EXISTS = "USER_EXISTS"
    INTERNAL = "INTERNAL"
    # the venue's rejections
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ACCOUNT_EXISTS = "ACCOUNT_EXISTS"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    INVALID_LEVERAGE = "INVALID_LEVERAGE"
    LEVERAGE_REDUCTION_NOT_SUPPORTED = "LEVERAGE_REDUCTION_NOT_SUPPORTED"
    POSITION_LIMIT_EXCEEDED = "POSITION_LIMIT_EXCEEDED"
    MARGIN_MODE_UNCHANGED = "MARGIN_MODE_UNCHANGED"
    MARGIN_MODE_OPEN_ORDERS = "MARGIN_MODE_OPEN_ORDERS"
    MARGIN_MODE_OPEN_POSITION = "MARGIN_MODE_OPEN_POSITION"
    NOT_ISOLATED = "NOT_ISOLATED"
    NO_POSITION = "NO_POSITION"
    POSITION_OPEN = "POSITION_OPEN"
    INVALID_SIDE = "INVALID_SIDE"
    INVALID_ORDER_TYPE = "INVALID_ORDER_TYPE"
    INVALID_TIME_IN_FORCE = "INVALID_TIME_IN_FORCE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    QUANTITY_BELOW_MIN = "QUANTITY_BELOW_MIN"
    QUANTITY_ABOVE_MAX = "QUANTITY_ABOVE_MAX"
    INVALID_PRICE = "INVALID_PRICE"
    PRICE_OUT_OF_BAND = "PRICE_OUT_OF_BAND"
    NOTIONAL_BELOW_MIN = "NOTIONAL_BELOW_MIN"
    MARK_PRICE_UNAVAILABLE = "MARK_PRICE_UNAVAILABLE"
    TOO_MANY_ORDERS = "TOO_MANY_ORDERS"
    TOO_MANY_CONDITIONAL_ORDERS = "TOO_MANY_CONDITIONAL_ORDERS"
    INVALID_CLIENT_ORDER_ID = "INVALID_CLIENT_ORDER_ID"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    POST_ONLY_WOULD_TAKE = "POST_ONLY_WOULD_TAKE"
    REDUCE_ONLY_REJECTED = "REDUCE_ONLY_REJECTED"
    INVALID_STOP_PRICE = "INVALID_STOP_PRICE"
    WOULD_IMMEDIATELY_TRIGGER = "WOULD_IMMEDIATELY_TRIGGER"
    INVALID_CALLBACK_RATE = "INVALID_CALLBACK_RATE"
    INVALID_STP_MODE = "INVALID_STP_MODE"
    INVALID_FLAGS = "INVALID_FLAGS"
    NO_CHANGE = "NO_CHANGE"
    NOT_AMENDABLE = "NOT_AMENDABLE"


class ExchangeError(Exception):
    """Base of every error this client raises."""

    def __init__(self, code: str, msg: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {msg}" if status is None else f"{status} {code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


class ApiError(ExchangeError):
    """The server answered with an error: ``code`` and ``msg`` are its own words; ``status``
    is the HTTP status (None for a websocket answer)."""


class AuthError(ApiError):
    """Missing, unknown or badly signed key, a timestamp outside the window (check the clock,
    or ``Client.sync_clock``), or a key without the permission."""


class RateLimited(ApiError):
    """Too many requests (per key and per IP). ``retry_after``: seconds to wait, if known."""

    def __init__(self, code: str, msg: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(code, msg, status)
        self.retry_after = retry_after


class NotFound(ApiError):
    """No such order, symbol, account, position or path."""


class InsufficientMargin(ApiError):
    """The account cannot afford it: not enough available balance or margin."""


class InvalidRequest(ApiError):
    """The request is wrong as sent (a bad field, an unchanged margin mode, a taken name);
    sending it again unchanged gives the same answer."""


class InvalidOrder(InvalidRequest):
    """The venue refused the order (or amend) by its rules: filters, price band, post-only,
    reduce-only, trigger prices, too many orders, a duplicate client order id."""


class ServerError(ApiError):
    """The server failed (5xx) or answered something that is not the API's JSON."""


class TransportError(ExchangeError):
    """No answer from the server: it could not be reached, or the connection failed or timed
    out, after the retries the request allows."""


class OutcomeUnknown(TransportError):
    """A write was sent but its answer was lost, and it is not safe to repeat blindly: it may
    or may not have been applied. Look (orders, positions, account) before sending it again."""


class ConnectionLost(TransportError):
    """The websocket connection closed while a request on it was waiting for its answer."""


class StreamOverflow(ExchangeError):
    """A subscription's queue was full: messages were dropped because the consumer fell
    behind. Iterating again continues after the gap."""


_AUTH = {"AUTH_MISSING", "AUTH_INVALID_KEY", "AUTH_INVALID_SIGNATURE", "AUTH_TIMESTAMP",
         "AUTH_FORBIDDEN"}
_NOT_FOUND = {"NOT_FOUND", "UNKNOWN_ORDER", "UNKNOWN_SYMBOL", "UNKNOWN_ACCOUNT", "NO_POSITION"}
_MARGIN = {"INSUFFICIENT_MARGIN", "INSUFFICIENT_BALANCE"}
_ORDER = {"INVALID_SIDE", "INVALID_ORDER_TYPE", "INVALID_TIME_IN_FORCE", "INVALID_QUANTITY",
          "QUANTITY_BELOW_MIN", "QUANTITY_ABOVE_MAX", "INVALID_PRICE", "PRICE_OUT_OF_BAND",
          "NOTIONAL_BELOW_MIN", "MARK_PRICE_UNAVAILABLE", "TOO_MANY_ORDERS",
          "TOO_MANY_CONDITIONAL_ORDERS", "INVALID_CLIENT_ORDER_ID", "DUPLICATE_CLIENT_ORDER_ID",
          "POST_ONLY_WOULD_TAKE", "REDUCE_ONLY_REJECTED", "INVALID_STOP_PRICE",
          "WOULD_IMMEDIATELY_TRIGGER", "INVALID_CALLBACK_RATE", "INVALID_STP_MODE",
          "INVALID_FLAGS", "NO_CHANGE", "NOT_AMENDABLE", "POSITION_LIMIT_EXCEEDED"}

FAMILIES: dict[type[ApiError], frozenset[str]] = {
    AuthError: frozenset(_AUTH),
    RateLimited: frozenset({"RATE_LIMITED"}),
    NotFound: frozenset(_NOT_FOUND),
    InsufficientMargin: frozenset(_MARGIN),
    InvalidOrder: frozenset(_ORDER),
    ServerError: frozenset({"INTERNAL"}),
}
_BY_CODE: dict[str, type[ApiError]] = {
    code: family for family, codes in FAMILIES.items() for code in codes}


def error_class(code: str, status: int | None) -> type[ApiError]:
    """The exception type for a server error: by its code, else (a code this client does not
    know yet) by its HTTP status."""
    family = _BY_CODE.get(code)
    if family is not None:
        return family
    if status is None:
        return InvalidRequest
    if status == 429:
        return RateLimited
    if status in (401, 403) and code.startswith("AUTH"):
        return AuthError
    if status == 404:
        return NotFound
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidRequest
    return ApiError


def api_error(code: str, msg: str, status: int | None,
              retry_after: float | None = None) -> ApiError:
    """The exception for one error answer."""
    cls = error_class(code, status)
    if cls is RateLimited:
        return RateLimited(code, msg, status, retry_after)
    return cls(code, msg, status)
