"""Rejection codes of the venue: stable strings that clients match on, each with its message.

A rejected command changes nothing; its ``Rejected`` event carries one of these codes and a
message that says what to fix. Never rename a code: add a new one.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
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


class Rejection(Exception):
    """Raised inside the core to reject the command being applied; the venue turns it into a
    ``Rejected`` event. It is raised only before any state has changed."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        # Formatted when shown, not when raised: a quarter of a trading stream is rejected.
        return f"{self.code}: {self.message}"
