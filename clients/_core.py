"""The client's logic without I/O: building and signing requests, reading answers, and when to
retry. The sync and the async client only carry out what a plan asks (send this, sleep that),
so both behave the same by construction.

A plan is a generator: it yields ``Send`` or ``Sleep``, receives a ``Response`` or a
``Failure`` for each ``Send`` (None for a ``Sleep``), and returns the parsed result or raises.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from clients.errors import (
    ApiError,
    ExchangeError,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    TransportError,
    api_error,
)
from clients.models import Credentials, WireError, loads

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "paper-exchange-client/0.1"


def sign(secret: str, timestamp: str, method: str, path: str, body: bytes = b"") -> str:
    """Hex HMAC-SHA256, keyed with the secret, of ``timestamp + METHOD + path + body``
    (``path`` with its query string; the websocket login signs ``GET /ws``)."""
    payload = (timestamp + method.upper() + path).encode() + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def new_client_order_id() -> str:
    """A unique client order id (34 characters, within the venue's 36)."""
    return f"c-{uuid.uuid4().hex}"


class Retry(Enum):
    """What a request allows after its answer is lost (it may have been applied)."""

    NEVER = "never"  # a write that must not be repeated blindly: raise OutcomeUnknown
    SAFE = "safe"  # a read, or a write whose repetition changes nothing more
    RECONCILE = "reconcile"  # a write that can look up whether it was applied, then retry


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again.

    ``attempts``: tries in all. A request that provably never left (no connection) is always
    retried; one whose answer was lost only if ``Retry`` allows it (reads; placing an order,
    which looks its client order id up first; cancels; leverage). Waits grow from
    ``backoff`` seconds, doubling, up to ``max_backoff``, with jitter. 5xx answers count as
    lost answers. ``rate_limited``: also retry 429 answers (always safe: a rate-limited request
    was not applied), waiting the server's Retry-After if it is at most
    ``max_rate_limit_wait`` seconds; off by default, so a bot sees ``RateLimited``.
    """

    attempts: int = 3
    backoff: float = 0.2
    max_backoff: float = 3.0
    rate_limited: bool = False
    max_rate_limit_wait: float = 10.0

    def delay(self, attempt: int) -> float:
        base: float = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * random.uniform(0.75, 1.25)


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True, slots=True)
class Send:
    method: str
    path: str  # with the query string
    headers: Mapping[str, str]
    content: bytes
    name: str  # the route, e.g. "/api/v1/orders/{id}": for metrics


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes


@dataclass(frozen=True, slots=True)
class Failure:
    error: Exception
    sent: bool  # False: the request provably never reached the server


Action = Send | Sleep
Outcome = Response | Failure | None
Plan = Generator[Action, Outcome, T]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One HTTP exchange, for an ``on_request`` hook (metrics, load tests, logs)."""

    method: str
    name: str
    path: str
    status: int | None  # None: no answer
    elapsed: float  # seconds
    size: int  # bytes of the answer
    error: Exception | None  # the transport failure, if any


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API request: how to send it, how to read its answer, whether it may be repeated.

    ``reconcile`` (for ``Retry.RECONCILE``) looks up, after a lost answer, whether the request
    was applied: given the session and the ms timestamp of the first attempt, a plan that
    returns the result as if answered, or None (not applied: send it again). It runs before a
    retry, and again when the retry's error code is in ``reconcile_codes`` (the first attempt
    was applied after all, e.g. a duplicate client order id).
    """

    method: str
    path: str
    name: str
    parse: Callable[[Any], T]
    query: Mapping[str, str | int | None] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    signed: bool = False
    retry: Retry = Retry.SAFE
    headers: Mapping[str, str] = field(default_factory=dict)
    reconcile: Callable[[Session, int], Plan[T | None]] | None = None
    reconcile_codes: frozenset[str] = frozenset()

    @property
    def target(self) -> str:
        params = {k: v for k, v in self.query.items() if v is not None}
        return self.path + ("?" + urlencode(params) if params else "")


class Session:
    """Configuration and state shared by a client's requests: the key, the clock offset, the
    retry policy."""

    def __init__(self, credentials: Credentials | None, retry: RetryPolicy,
                 recv_window_ms: int | None) -> None:
        self.credentials = credentials
        self.retry = retry
        self.recv_window_ms = recv_window_ms
        self.clock_offset_ms = 0  # server clock minus ours: see sync_clock

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.clock_offset_ms

    @property
    def window_ms(self) -> int:
        return self.recv_window_ms or 5_000

    def build(self, call: Call[Any]) -> Send:
        target = call.target
        content = b"" if call.body is None else json.dumps(
            call.body, separators=(",", ":")).encode()
        headers = {"Accept": "application/json", **call.headers}
        if content:
            headers["Content-Type"] = "application/json"
        if call.signed:
            if self.credentials is None:
                raise ExchangeError("AUTH_MISSING",
                                    f"{call.method} {call.name} is signed: give the client "
                                    "Credentials(api_key, secret)")
            ts = str(self.now_ms())
            headers["X-API-KEY"] = self.credentials.api_key
            headers["X-TIMESTAMP"] = ts
            headers["X-SIGNATURE"] = sign(self.credentials.secret, ts, call.method, target,
                                          content)
            if self.recv_window_ms is not None:
                headers["X-RECV-WINDOW"] = str(self.recv_window_ms)
        return Send(call.method, target, headers, content, call.name)

    def plan(self, call: Call[T]) -> Plan[T]:
        """Send ``call``, retrying as its ``Retry`` and the policy allow."""
        policy = self.retry
        attempt = 0
        first_ms = self.now_ms()
        ambiguous = False  # an earlier attempt may have been applied
        while True:
            attempt += 1
            last = attempt >= policy.attempts
            outcome = yield self.build(call)
            if isinstance(outcome, Response):
                if 200 <= outcome.status < 300:
                    return parse_answer(call, outcome)
                error = error_from(outcome)
                if (isinstance(error, RateLimited) and policy.rate_limited and not last
                        and (error.retry_after or 0) <= policy.max_rate_limit_wait):
                    yield Sleep(error.retry_after or policy.delay(attempt))
                    continue
                if ambiguous and error.code in call.reconcile_codes:
                    found = yield from self._reconcile(call, first_ms, error)
                    if found is not None:
                        return found
                if outcome.status >= 500 and call.method != "GET":
                    ambiguous = True
                if outcome.status >= 500 and call.retry is not Retry.NEVER and not last:
                    if call.reconcile is not None:
                        found = yield from self._reconcile(call, first_ms, error)
                        if found is not None:
                            return found
                    yield Sleep(policy.delay(attempt))
                    continue
                raise error
            assert isinstance(outcome, Failure)
            if outcome.sent and call.method != "GET":
                ambiguous = True
            if not last and (not outcome.sent or call.retry is not Retry.NEVER):
                if ambiguous and call.reconcile is not None:
                    found = yield from self._reconcile(call, first_ms, outcome.error)
                    if found is not None:
                        return found
                yield Sleep(policy.delay(attempt))
                continue
            what = f"{call.method} {call.name}"
            if ambiguous:
                raise OutcomeUnknown(
                    "OUTCOME_UNKNOWN", f"{what}: sent, but the answer was lost "
                    f"({describe(outcome.error)}); it may or may not have been applied")
            raise TransportError("TRANSPORT", f"{what}: {describe(outcome.error)}")

    def _reconcile(self, call: Call[T], first_ms: int, cause: Exception) -> Plan[T | None]:
        assert call.reconcile is not None
        try:
            found = yield from call.reconcile(self, first_ms)
        except ExchangeError as e:
            raise OutcomeUnknown(
                "OUTCOME_UNKNOWN", f"{call.method} {call.name}: the answer was lost "
                f"({describe(cause)}) and looking it up failed too ({e})") from e
        return found


def describe(error: Exception) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def parse_answer(call: Call[T], response: Response) -> T:
    try:
        data = loads(response.content)
        return call.parse(data)
    except (ValueError, WireError, KeyError, TypeError) as e:
        raise ServerError("INVALID_RESPONSE",
                          f"{call.method} {call.name}: unexpected answer ({e}): "
                          f"{response.content[:200]!r}", response.status) from None


def error_from(response: Response) -> ApiError:
    """The exception for an error answer: the server's code and message, Retry-After."""
    retry_after: float | None = None
    header = response.headers.get("retry-after")
    if header is not None:
        try:
            retry_after = float(int(header))
        except ValueError:
            retry_after = None
    try:
        data = loads(response.content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return api_error(data["code"], str(data.get("msg", "")), response.status, retry_after)
    text = response.content[:200].decode("utf-8", "replace")
    code = "RATE_LIMITED" if response.status == 429 else f"HTTP_{response.status}"
    return api_error(code, text or "no body", response.status, retry_after)
