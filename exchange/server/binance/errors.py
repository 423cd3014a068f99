"""Binance's error codes and messages, and the venue's rejections translated into them.

Every error of the facade leaves as ``{"code": -NNNN, "msg": "..."}`` with Binance's code. The
message is Binance's own text wherever a client keys on it. ccxt keys its exception mapping on
the message first and on the code second, and for a host that is not ``fapi.binance.com`` it
only knows the codes and messages of its generic (all-markets) table: where Binance's futures
message is not in that table, the message here is the generic one that ccxt maps to the same
exception (the code stays Binance's futures code). Those places say so.
"""

from __future__ import annotations

from exchange.core.errors import Code
from exchange.core.events import Rejected

UNKNOWN = -1000
TOO_MANY_REQUESTS = -1003
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM = -1102
PARAM_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
INVALID_LISTEN_KEY = -1125
INVALID_PARAMETER = -1130
BAD_RECV_WINDOW = -1131
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
INSUFFICIENT_BALANCE = -2018
INSUFFICIENT_MARGIN = -2019
WOULD_IMMEDIATELY_TRIGGER = -2021
REDUCE_ONLY_REJECT = -2022
MAX_OPEN_ORDERS = -2025
MAX_POSITION = -2027
PRICE_LESS_THAN_ZERO = -4001
QTY_LESS_THAN_ZERO = -4003
QTY_LESS_THAN_MIN = -4004
QTY_GREATER_THAN_MAX = -4005
STOP_PRICE_LESS_THAN_ZERO = -4006
PRICE_NOT_BY_TICK = -4014
INVALID_CLIENT_ORDER_ID = -4015
PRICE_ABOVE_CAP = -4016
PRICE_BELOW_FLOOR = -4024
QTY_NOT_BY_STEP = -4023
INVALID_LEVERAGE = -4028
MAX_STOP_ORDERS = -4045
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046
MARGIN_TYPE_OPEN_ORDERS = -4047
MARGIN_TYPE_POSITION = -4048
ADD_MARGIN_NOT_ISOLATED = -4049
CROSS_BALANCE_INSUFFICIENT = -4050
ISOLATED_BALANCE_INSUFFICIENT = -4051
ZERO_POSITION = -4054
AMOUNT_MUST_BE_POSITIVE = -4055
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
INVALID_POSITION_SIDE = -4060
POSITION_SIDE_NOT_MATCH = -4061
DUPLICATED_CLIENT_ORDER_ID = -4116
USE_ALGO_ENDPOINT = -4120
LEVERAGE_REDUCTION = -4161
MIN_NOTIONAL = -4164
POST_ONLY_REJECTED = -5022
NOT_AMENDABLE = -5025
NO_NEED_TO_MODIFY = -5027
INVALID_STP_MODE = -5039
PATH_INVALID = -5000

MSG_UNKNOWN = "An unknown error occured while processing the request."
MSG_BAD_SYMBOL = "Invalid symbol."
MSG_BAD_KEY = "Invalid API-key, IP, or permissions for action."
MSG_UNKNOWN_ORDER = "Unknown order sent."
MSG_NO_SUCH_ORDER = "Order does not exist."
# Binance's futures messages for -2018/-2019 are "Balance is insufficient." and "Margin is
# insufficient."; ccxt maps those codes only for Binance's own futures host, and maps this
# message (Binance's generic one) to InsufficientFunds for any host.
MSG_INSUFFICIENT = "Account has insufficient balance for requested action."
# Binance's futures text is "Order would immediately trigger."; ccxt's generic table has this
# wording (OrderImmediatelyFillable).
MSG_WOULD_TRIGGER = "Order would trigger immediately."


class BinanceError(Exception):
    """An error answer: HTTP ``status`` with body ``{"code": code, "msg": msg}``."""

    def __init__(self, code: int, msg: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    return BinanceError(MANDATORY_PARAM, f"Mandatory parameter '{name}' was not sent, was "
                                         "empty/null, or malformed.")


def invalid(name: str, why: str = "") -> BinanceError:
    msg = f"Data sent for parameter '{name}' is not valid."
    return BinanceError(INVALID_PARAMETER, f"{msg} {why}".strip())


def illegal(name: str) -> BinanceError:
    return BinanceError(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal "
                                       "range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")


def not_required(name: str) -> BinanceError:
    return BinanceError(PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required.")


def bad_symbol() -> BinanceError:
    return BinanceError(BAD_SYMBOL, MSG_BAD_SYMBOL)


def bad_key() -> BinanceError:
    return BinanceError(REJECTED_MBX_KEY, MSG_BAD_KEY, 401)


def unknown_order() -> BinanceError:
    return BinanceError(CANCEL_REJECTED, MSG_UNKNOWN_ORDER)


def no_such_order() -> BinanceError:
    return BinanceError(NO_SUCH_ORDER, MSG_NO_SUCH_ORDER)


def too_many_requests(wait_ms: int) -> BinanceError:
    return BinanceError(TOO_MANY_REQUESTS,
                        "Too many requests; current limit is exceeded. Please use the websocket "
                        "for live updates to avoid polling the API.", 429,
                        {"Retry-After": str(max(1, -(-wait_ms // 1000)))})


# Venue rejection -> (Binance code, Binance message). ``None`` as the message: Binance has no
# fixed text for it, so the venue's own message (which says what to fix) is sent.
_BY_CODE: dict[Code, tuple[int, str | None]] = {
    Code.UNKNOWN_ACCOUNT: (REJECTED_MBX_KEY, MSG_BAD_KEY),
    Code.ACCOUNT_EXISTS: (UNKNOWN, None),
    Code.UNKNOWN_SYMBOL: (BAD_SYMBOL, MSG_BAD_SYMBOL),
    Code.INVALID_TIMESTAMP: (INVALID_TIMESTAMP,
                             "Timestamp for this request is outside of the recvWindow."),
    Code.INVALID_AMOUNT: (AMOUNT_MUST_BE_POSITIVE, "Amount must be positive."),
    Code.INSUFFICIENT_BALANCE: (INSUFFICIENT_BALANCE, MSG_INSUFFICIENT),
    Code.INSUFFICIENT_MARGIN: (INSUFFICIENT_MARGIN, MSG_INSUFFICIENT),
    Code.INVALID_LEVERAGE: (INVALID_LEVERAGE, None),
    Code.LEVERAGE_REDUCTION_NOT_SUPPORTED: (
        LEVERAGE_REDUCTION,
        "Leverage reduction is not supported in Isolated Margin Mode with open positions."),
    Code.POSITION_LIMIT_EXCEEDED: (MAX_POSITION,
                                   "Exceeded the maximum allowable position at current leverage."),
    Code.MARGIN_MODE_UNCHANGED: (NO_NEED_TO_CHANGE_MARGIN_TYPE, "No need to change margin type."),
    Code.MARGIN_MODE_OPEN_ORDERS: (MARGIN_TYPE_OPEN_ORDERS,
                                   "Margin type cannot be changed if there exists open orders."),
    Code.MARGIN_MODE_OPEN_POSITION: (MARGIN_TYPE_POSITION,
                                     "Margin type cannot be changed if there exists position."),
    Code.NOT_ISOLATED: (ADD_MARGIN_NOT_ISOLATED,
                        "Add margin only support for isolated position."),
    Code.NO_POSITION: (ZERO_POSITION, "Cannot add position margin: position is 0."),
    Code.POSITION_OPEN: (MARGIN_TYPE_POSITION, None),  # a reset with a position (not on Binance)
    Code.INVALID_SIDE: (INVALID_SIDE, "Invalid side."),
    Code.INVALID_ORDER_TYPE: (INVALID_ORDER_TYPE, "Invalid orderType."),
    Code.INVALID_TIME_IN_FORCE: (INVALID_TIF, "Invalid timeInForce."),
    Code.INVALID_QUANTITY: (QTY_LESS_THAN_ZERO, "Quantity less than or equal to zero."),
    Code.QUANTITY_BELOW_MIN: (QTY_LESS_THAN_MIN, "Quantity less than min quantity."),
    Code.QUANTITY_ABOVE_MAX: (QTY_GREATER_THAN_MAX, "Quantity greater than max quantity."),
    Code.INVALID_PRICE: (PRICE_LESS_THAN_ZERO, None),
    Code.PRICE_OUT_OF_BAND: (PRICE_ABOVE_CAP, None),  # refined by side in from_rejection
    Code.NOTIONAL_BELOW_MIN: (MIN_NOTIONAL, None),
    Code.MARK_PRICE_UNAVAILABLE: (NEW_ORDER_REJECTED, None),
    Code.TOO_MANY_ORDERS: (MAX_OPEN_ORDERS, "Reach max open order limit."),
    Code.TOO_MANY_CONDITIONAL_ORDERS: (MAX_STOP_ORDERS, "Reach max stop order limit."),
    Code.INVALID_CLIENT_ORDER_ID: (INVALID_CLIENT_ORDER_ID, "Client order id is not valid."),
    Code.DUPLICATE_CLIENT_ORDER_ID: (DUPLICATED_CLIENT_ORDER_ID, "ClientOrderId is duplicated."),
    Code.UNKNOWN_ORDER: (CANCEL_REJECTED, MSG_UNKNOWN_ORDER),
    Code.POST_ONLY_WOULD_TAKE: (POST_ONLY_REJECTED,
                                "Due to the order could not be executed as maker, the Post Only "
                                "order will be rejected."),
    Code.REDUCE_ONLY_REJECTED: (REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected."),
    Code.INVALID_STOP_PRICE: (STOP_PRICE_LESS_THAN_ZERO, None),
    Code.WOULD_IMMEDIATELY_TRIGGER: (WOULD_IMMEDIATELY_TRIGGER, MSG_WOULD_TRIGGER),
    Code.INVALID_CALLBACK_RATE: (INVALID_PARAMETER, None),
    Code.INVALID_STP_MODE: (INVALID_STP_MODE, "Invalid self trade prevention mode."),
    Code.INVALID_FLAGS: (-1128, None),
    Code.NO_CHANGE: (NO_NEED_TO_MODIFY, "No need to modify the order."),
    Code.NOT_AMENDABLE: (NOT_AMENDABLE, "Only limit order is supported."),
}

# In a margin transfer (POST positionMargin) the venue's balance codes are Binance's -4050/-4051.
_TRANSFER: dict[Code, tuple[int, str]] = {
    Code.INSUFFICIENT_BALANCE: (CROSS_BALANCE_INSUFFICIENT, "Cross balance insufficient."),
    Code.INSUFFICIENT_MARGIN: (ISOLATED_BALANCE_INSUFFICIENT, "Isolated balance insufficient."),
}


def from_rejection(r: Rejected, *, above_mark: bool | None = None) -> BinanceError:
    """The Binance error for a venue rejection. ``above_mark``: for a price outside the band,
    whether it lay above the mark (Binance's -4016) or below (-4024)."""
    if r.command == "AdjustIsolatedMargin" and r.code in _TRANSFER:
        code, text = _TRANSFER[r.code]
        return BinanceError(code, text)
    code, msg = _BY_CODE.get(r.code, (UNKNOWN, None))
    if r.code is Code.PRICE_OUT_OF_BAND and above_mark is False:
        code = PRICE_BELOW_FLOOR
    return BinanceError(code, msg if msg is not None else r.message)
