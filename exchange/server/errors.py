"""API errors: every error is JSON ``{"code": ..., "msg": ...}`` with a stable code.

Venue rejections keep the venue's code (``exchange.core.errors.Code``); the codes below are the
server's own. Never rename a code: add a new one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class ApiCode(StrEnum):
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


class ApiError(Exception):
    def __init__(self, status: int, code: str, msg: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers


class ErrorBody(BaseModel):
    """What every error response carries."""

    code: str
    msg: str


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses a router's routes may give."""
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS[status]}
            for status in statuses}


DESCRIPTIONS = {
    400: "Invalid request or rejected by the venue (code says which)",
    401: "Missing or invalid key, signature or timestamp",
    403: "The key lacks the permission, or the feature is off",
    404: "No such order or path",
    409: "Already exists",
    429: "Rate limited: see Retry-After",
}
