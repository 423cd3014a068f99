"""Users, API keys, request signing and rate limits.

Signing (native API): ``X-API-KEY`` names the key; ``X-TIMESTAMP`` is the client's time in ms;
``X-SIGNATURE`` is the hex HMAC-SHA256, keyed with the key's secret, of
``timestamp + METHOD + path (with its query string) + body``. A request is accepted only if
its timestamp is within ``X-RECV-WINDOW`` ms (default 5,000, at most 60,000) of the server's
clock, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from exchange.server.errors import ApiCode, ApiError

DEFAULT_RECV_WINDOW_MS = 5_000
MAX_RECV_WINDOW_MS = 60_000


class Permission(StrEnum):
    READ = "read"
    TRADE = "trade"


@dataclass(frozen=True)
class ApiKey:
    api_key: str
    secret: str
    user: int
    permissions: frozenset[Permission]


@dataclass
class User:
    user_id: int
    name: str
    keys: list[str] = field(default_factory=list)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature_payload(timestamp: str, method: str, path: str, body: bytes) -> str:
    return f"{timestamp}{method.upper()}{path}{body.decode('utf-8', 'replace')}"


class KeyStore:
    """Users and their keys. Ids are given in order, starting at 1 (0 is never a user)."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.by_name: dict[str, int] = {}
        self.keys: dict[str, ApiKey] = {}
        self.next_user = 1

    def create_user(self, name: str) -> User:
        if name in self.by_name:
            raise ApiError(409, ApiCode.USER_EXISTS, f"a user named {name!r} exists already")
        user = User(self.next_user, name)
        self.next_user += 1
        self.users[user.user_id] = user
        self.by_name[name] = user.user_id
        return user

    def create_key(self, user: int, permissions: frozenset[Permission]) -> ApiKey:
        key = ApiKey(secrets.token_hex(16), secrets.token_hex(32), user, permissions)
        self.keys[key.api_key] = key
        self.users[user].keys.append(key.api_key)
        return key

    def add(self, key: ApiKey) -> None:
        """Register a key made elsewhere (restored from the store)."""
        self.keys[key.api_key] = key
        self.users[key.user].keys.append(key.api_key)

    def authenticate(self, api_key: str | None, timestamp: str | None, signature: str | None,
                     recv_window: str | None, method: str, path: str, body: bytes,
                     now_ms: int) -> ApiKey:
        if not api_key or not timestamp or not signature:
            raise ApiError(401, ApiCode.AUTH_MISSING,
                           "signed endpoint: send X-API-KEY, X-TIMESTAMP and X-SIGNATURE")
        key = self.keys.get(api_key)
        if key is None:
            raise ApiError(401, ApiCode.AUTH_INVALID_KEY, "unknown API key")
        window = DEFAULT_RECV_WINDOW_MS
        if recv_window is not None:
            if not _ms_digits(recv_window) or not 0 < int(recv_window) <= MAX_RECV_WINDOW_MS:
                raise ApiError(400, ApiCode.INVALID_REQUEST,
                               f"X-RECV-WINDOW must be 1 to {MAX_RECV_WINDOW_MS} ms")
            window = int(recv_window)
        if not _ms_digits(timestamp):
            raise ApiError(401, ApiCode.AUTH_TIMESTAMP, "X-TIMESTAMP must be an integer of ms")
        if abs(now_ms - int(timestamp)) > window:
            raise ApiError(401, ApiCode.AUTH_TIMESTAMP,
                           f"timestamp {timestamp} is outside the {window} ms window around "
                           f"the server's time {now_ms}: check your clock")
        expected = sign(key.secret, signature_payload(timestamp, method, path, body))
        if not signature_matches(expected, signature):
            raise ApiError(401, ApiCode.AUTH_INVALID_SIGNATURE,
                           "signature mismatch: HMAC-SHA256 of timestamp + METHOD + path "
                           "(with its query string) + body with your secret, hex")
        return key


def _ms_digits(text: str) -> bool:
    """ASCII digits, few enough for a time in ms: ``str.isdigit`` alone also takes "²" and
    other scripts' digits, which ``int()`` then refuses (a 500 where a 401 is due)."""
    return text.isascii() and text.isdigit() and len(text) <= 16


def signature_matches(expected: str, signature: str) -> bool:
    """Constant-time comparison of hex signatures, case-insensitive. As bytes: on ``str``,
    ``hmac.compare_digest`` raises for any non-ASCII character instead of answering no."""
    return hmac.compare_digest(expected.encode(), signature.lower().encode("utf-8", "replace"))


def require(key: ApiKey, permission: Permission) -> None:
    if permission not in key.permissions:
        raise ApiError(403, ApiCode.AUTH_FORBIDDEN, f"this key lacks the {permission} permission")


def load_or_create_admin_key(data_dir: Path) -> tuple[str, Path]:
    """The admin key lives in ``data_dir/admin.key``, readable by its owner only."""
    path = data_dir / "admin.key"
    if path.exists():
        return path.read_text().strip(), path
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, path


class RateLimiter:
    """Token buckets per key (or IP): ``rate`` requests a second, bursts up to ``burst``."""

    def __init__(self, rate: int, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[int, int]] = {}  # who -> (tokens x 1000, at ms)

    def check(self, who: str, now_ms: int) -> int | None:
        """Take one token; None if allowed, else the ms to wait."""
        tokens, at = self._buckets.get(who, (self.burst * 1000, now_ms))
        tokens = min(self.burst * 1000, tokens + (now_ms - at) * self.rate)
        if tokens < 1000:
            self._buckets[who] = (tokens, now_ms)
            return (1000 - tokens + self.rate - 1) // self.rate
        self._buckets[who] = (tokens - 1000, now_ms)
        if len(self._buckets) > 100_000:  # forget idle clients rather than grow without end
            self._buckets.clear()
        return None
