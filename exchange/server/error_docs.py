"""What each error code means, for the API's documentation (the description at ``/docs``).

Every error answer is ``{"code", "msg"}``: ``code`` is one of these stable strings (the
server's own, ``ApiCode``, or a venue rejection's, ``Code``), ``msg`` says what to fix in that
case. A test keeps this table complete: a new code is documented when it is added.
"""

from __future__ import annotations

from exchange.core.errors import Code
from exchange.server.errors import ApiCode

API_CODES: dict[ApiCode, str] = {
    ApiCode.INVALID_REQUEST: "a parameter is missing, malformed or out of range (msg names it)",
    ApiCode.NOT_FOUND: "no such path, or no such order of yours",
    ApiCode.METHOD_NOT_ALLOWED: "the path exists, not with this method (see Allow)",
    ApiCode.AUTH_MISSING: "a signed endpoint without X-API-KEY, X-TIMESTAMP and X-SIGNATURE",
    ApiCode.AUTH_INVALID_KEY: "unknown API key (or admin key)",
    ApiCode.AUTH_INVALID_SIGNATURE: "the signature does not match the request",
    ApiCode.AUTH_TIMESTAMP: "X-TIMESTAMP is not a time in ms within the receive window",
    ApiCode.AUTH_FORBIDDEN: "the key lacks the permission (read, trade) this needs",
    ApiCode.RATE_LIMITED: "too many requests for the key or the IP: wait Retry-After seconds",
    ApiCode.FEATURE_DISABLED: "switched off on this server (faucet, reset, sign-up)",
    ApiCode.USER_EXISTS: "a user of that name exists already",
    ApiCode.INTERNAL: "a bug on our side; the request may not have been applied",
}

VENUE_CODES: dict[Code, str] = {
    Code.UNKNOWN_ACCOUNT: "no such account",
    Code.ACCOUNT_EXISTS: "the account exists already",
    Code.UNKNOWN_SYMBOL: "no such instrument",
    Code.INVALID_TIMESTAMP: "a command's time before the venue's",
    Code.INVALID_AMOUNT: "an amount that is not positive, or too large",
    Code.INSUFFICIENT_BALANCE: "more than the available balance",
    Code.INSUFFICIENT_MARGIN: "the order needs more margin than is available",
    Code.INVALID_LEVERAGE: "leverage outside 1 to the symbol's maximum",
    Code.LEVERAGE_REDUCTION_NOT_SUPPORTED: "an open isolated position's leverage only rises",
    Code.POSITION_LIMIT_EXCEEDED: "the position could outgrow the tier the leverage allows",
    Code.MARGIN_MODE_UNCHANGED: "the symbol is in that margin mode already",
    Code.MARGIN_MODE_OPEN_ORDERS: "margin mode changes only without open orders",
    Code.MARGIN_MODE_OPEN_POSITION: "margin mode changes only without a position",
    Code.NOT_ISOLATED: "isolated margin moves need an isolated position",
    Code.NO_POSITION: "there is no position to act on",
    Code.POSITION_OPEN: "close the position first (account reset)",
    Code.INVALID_SIDE: "side is BUY or SELL",
    Code.INVALID_ORDER_TYPE: "no such order type",
    Code.INVALID_TIME_IN_FORCE: "no such time in force, or none for this order type",
    Code.INVALID_QUANTITY: "quantity missing, not a multiple of the step size, or not allowed",
    Code.QUANTITY_BELOW_MIN: "quantity below the symbol's minimum",
    Code.QUANTITY_ABOVE_MAX: "quantity above the symbol's maximum for the order type",
    Code.INVALID_PRICE: "price missing, not a multiple of the tick size, or not allowed",
    Code.PRICE_OUT_OF_BAND: "price outside the percent band around the mark",
    Code.NOTIONAL_BELOW_MIN: "price x quantity below the minimum notional",
    Code.MARK_PRICE_UNAVAILABLE: "the symbol has no mark price yet",
    Code.TOO_MANY_ORDERS: "the open-order limit per symbol is reached",
    Code.TOO_MANY_CONDITIONAL_ORDERS: "the conditional-order limit per symbol is reached",
    Code.INVALID_CLIENT_ORDER_ID: "client order id: 1-36 of A-Z a-z 0-9 . : / _ -",
    Code.DUPLICATE_CLIENT_ORDER_ID: "an open order of yours has that client order id",
    Code.UNKNOWN_ORDER: "no such open order of yours",
    Code.POST_ONLY_WOULD_TAKE: "a post-only (GTX) order would trade at once",
    Code.REDUCE_ONLY_REJECTED: "nothing left for a reduce-only order to reduce",
    Code.INVALID_STOP_PRICE: "stop price missing, invalid, or not for this order type",
    Code.WOULD_IMMEDIATELY_TRIGGER: "the stop price is already crossed",
    Code.INVALID_CALLBACK_RATE: "trailing stop callback rate outside 0.1% to 10%",
    Code.INVALID_STP_MODE: "no such self-trade prevention mode",
    Code.INVALID_FLAGS: "reduce-only / close-position flags that do not fit the order",
    Code.NO_CHANGE: "an amend that changes nothing",
    Code.NOT_AMENDABLE: "this order cannot be amended (only resting limit orders)",
}


def error_codes_markdown() -> str:
    """The codes as a Markdown list, for the OpenAPI description."""
    lines = ["**Server codes**", ""]
    lines += [f"- `{code}`: {meaning}" for code, meaning in API_CODES.items()]
    lines += ["", "**Venue rejections** (status 400; nothing was changed)", ""]
    lines += [f"- `{code}`: {meaning}" for code, meaning in VENUE_CODES.items()]
    return "\n".join(lines)
