"""API benchmark: signed order entry end to end, over REST and the websocket, against a bare
FastAPI endpoint as the yardstick.

    python -m loadtests.bench_api [--seconds S] [--connections C] [--warmup W]
                                  [--ws-inflight K] [--users-per-connection U]
                                  [--set FIELD=VALUE ...] [--default-limits]

What it does, all on 127.0.0.1:

1. Starts the exchange as a subprocess on a free port with a temporary data dir, built-in
   agents on (market makers and noise traders, so the book is realistic). The server is
   ``paper-exchange serve``'s own code (``Exchange``, ``create_app``, ``uvicorn.run`` with the
   same options) with one change: the per-key and per-IP rate limits (50 requests/s by default)
   are raised out of reach, since every request here comes from one IP and the point is the
   server's capacity, not its limiter. ``--default-limits`` runs ``python -m exchange serve``
   exactly as shipped instead (then most orders answer 429 and count as errors); ``--set``
   changes other ``ServerConfig`` fields, to see what a feature costs (``--set journal=false``).
2. Reads the instruments and each symbol's mark price (``GET /api/v1/prices``) and creates
   ``C x U`` users through the admin endpoint (key from ``DATA_DIR/admin.key``).
3. Measures, one phase after another, with the same load generator:

   - ``bare``: ``loadtests/bare_app.py`` (uvicorn + FastAPI, one endpoint that only parses the
     order body into the exchange's ``OrderBody`` model), with the same signed requests;
   - ``rest``: ``POST /api/v1/orders``, signed (HMAC-SHA256 of timestamp + method + path +
     body, computed per request);
   - ``ws``: ``{"op": "order"}`` messages on ``/ws`` after a signed login, ``K`` in flight per
     connection.

   Orders are post-only (GTX) limit buys 2-4% below the mark, spread over all symbols, sized a
   little above the minimum notional: they rest and never trade. A user may have at most
   ``max_open_orders`` (200) open per symbol, so each connection rotates over its ``U`` users
   and, when all are full, cancels one user's orders (``DELETE /api/v1/orders``): such
   cancel-alls are interleaved but neither timed nor counted. They are still work the server
   does inside the window, and more of it the faster a phase places orders, so by default
   each connection has users enough (12: room for 7,200 resting orders) that a run at this
   machine's rates needs none; the JSON counts them per phase. After each exchange phase an
   untimed cancel phase removes every resting order, so each phase starts from the same book.

The REST load generator is raw HTTP/1.1 over asyncio streams with keep-alive: one request in
flight per connection, request bytes built per order with a fresh signature, the answer read
from its status line and Content-Length. The websocket one is the ``websockets`` client. Each
phase runs a warm-up, then counts the orders answered within a fixed window of wall-clock time:
orders/s is that count over the window; latency is send-to-answer, p50 and p99 in ms. Errors
(non-2xx answers, websocket error replies, broken connections, timeouts) are counted in every
phase, warm-up and cancel phases included.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # every byte of this benchmark stays on the loopback
ORDERS_PATH = "/api/v1/orders"
DISCOUNTS = [Decimal("0.020") + Decimal("0.001") * i for i in range(21)]  # 2.0% .. 4.0% below
MAX_ORDERS_PER_PHASE = 2_000_000  # a bound on every load loop, beside its time limit
GRACE_S = 20.0  # after the window: time to drain in-flight requests before giving up
RAISED_LIMIT = 1_000_000_000  # requests a second and burst: out of reach
SETUP_TRIES = 10  # of an untimed request that was rate limited


# ----------------------------------------------------------------------------- plumbing


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def now_ms() -> str:
    return str(time.time_ns() // 1_000_000)


def signature(secret: bytes, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The exchange's signing scheme: hex HMAC-SHA256 of timestamp + METHOD + path + body."""
    payload = (timestamp + method + path).encode() + body
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Credentials:
    user: int
    api_key: str
    secret: bytes


class HttpError(Exception):
    pass


class HttpConnection:
    """HTTP/1.1 keep-alive over asyncio streams: one request at a time, prebuilt bytes in,
    (status, body) out. Enough for uvicorn's answers, which always carry Content-Length."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host_line = f"Host: {HOST}:{port}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        reader, writer = self.reader, self.writer
        if reader is None or writer is None:
            raise HttpError("connection not open")
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise HttpError(f"not an HTTP/1.1 answer: {head[:40]!r}")
        status = int(head[9:12])
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise HttpError("answer without Content-Length")
        end = head.index(b"\r\n", at + 2)
        body = await reader.readexactly(int(head[at + 17:end]))
        return status, body

    def request_bytes(self, method: str, path: str, body: bytes = b"",
                      headers: Sequence[tuple[str, str]] = ()) -> bytes:
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), self.host_line]
        if body:
            lines.append(b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body))
        lines.extend(f"{k}: {v}\r\n".encode() for k, v in headers)
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    def signed_bytes(self, cred: Credentials, method: str, path: str, body: bytes = b"") -> bytes:
        ts = now_ms()
        return self.request_bytes(method, path, body, (
            ("X-API-KEY", cred.api_key), ("X-TIMESTAMP", ts),
            ("X-SIGNATURE", signature(cred.secret, ts, method, path, body))))

    async def call(self, method: str, path: str, body: Any = None,
                   headers: Sequence[tuple[str, str]] = (),
                   cred: Credentials | None = None) -> tuple[int, Any]:
        """A JSON request for setup and cancel phases (not the timed path); a rate-limited
        one (429, with the shipped limits) is tried again a few times, a second apart."""
        data = b"" if body is None else json.dumps(body).encode()
        for attempt in range(SETUP_TRIES):
            raw = (self.signed_bytes(cred, method, path, data) if cred is not None
                   else self.request_bytes(method, path, data, headers))
            status, answer = await self.send(raw)
            if status != 429 or attempt == SETUP_TRIES - 1:
                break
            await asyncio.sleep(1.0)
        return status, json.loads(answer) if answer else None


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[HttpConnection]:
    """A fresh connection for setup and cancel phases (uvicorn drops idle ones after 5 s)."""
    conn = HttpConnection(port)
    try:
        await conn.open()
        yield conn
    finally:
        conn.close()


# ----------------------------------------------------------------------------- servers


class Server:
    """A server subprocess on 127.0.0.1, its output in a log file; stopped with SIGINT."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_ready(self, path: str, timeout_s: float = 60.0) -> None:
        """Until ``GET path`` answers (any status): the server is up."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            conn = HttpConnection(self.port)
            try:
                await conn.open()
                await asyncio.wait_for(conn.send(conn.request_bytes("GET", path)), 5)
                return
            except (OSError, HttpError, asyncio.IncompleteReadError, TimeoutError):
                pass
            finally:
                conn.close()
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux /proc), or None."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout_s: float = 20.0) -> int:
        """Ctrl-C, as a person would; killed if it has not stopped within the timeout."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        return self.proc.returncode


def server_options(settings: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` settings of ``ServerConfig``: true/false, integers, else strings."""
    options: dict[str, Any] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or not name.isidentifier():
            raise ValueError(f"--set wants FIELD=VALUE, not {setting!r}")
        value: Any = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        elif text.lstrip("-").isdigit():
            value = int(text)
        options[name] = value
    return options


def serve_exchange(argv: list[str]) -> int:
    """``paper-exchange serve`` as in ``exchange.cli.serve``, with the rate limits raised."""
    import logging

    import uvicorn

    from exchange.server.app import create_app
    from exchange.server.runtime import Exchange, ServerConfig

    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_api serve-exchange")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options: dict[str, Any] = {"rate_per_key": RAISED_LIMIT, "burst": RAISED_LIMIT}
    options.update(server_options(args.set))
    config = ServerConfig(host=HOST, port=args.port, data_dir=args.data_dir, **options)
    exchange = Exchange(config)
    print(f"paper-exchange (bench): serving {', '.join(exchange.instruments)} at "
          f"http://{HOST}:{args.port} with {options}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(create_app(exchange), host=HOST, port=args.port, log_level="warning")
    print("paper-exchange (bench): stopped", flush=True)
    return 0


# ----------------------------------------------------------------------------- orders


@dataclass
class Market:
    """One symbol's order bodies: GTX buys 2-4% below the mark, a little over min notional."""

    symbol: str
    max_open: int
    bodies: list[bytes]
    params: list[str]  # the same orders as JSON text, for websocket messages
    next: int = 0

    @classmethod
    def build(cls, info: dict[str, Any], mark: Decimal) -> Market:
        tick, step = Decimal(info["tick_size"]), Decimal(info["step_size"])
        min_qty, min_notional = Decimal(info["min_qty"]), Decimal(info["min_notional"])
        prices = [((mark * (1 - d)) / tick).to_integral_value(ROUND_FLOOR) * tick
                  for d in DISCOUNTS]
        qty = max(min_qty, (min_notional * Decimal("1.2") / min(prices) / step)
                  .to_integral_value(ROUND_CEILING) * step)
        params = [json.dumps({"symbol": info["symbol"], "side": "BUY", "type": "LIMIT",
                              "quantity": str(qty), "price": str(p), "time_in_force": "GTX"},
                             separators=(",", ":")) for p in prices]
        return cls(info["symbol"], int(info["max_open_orders"]),
                   [p.encode() for p in params], params)

    def take(self) -> int:
        self.next = (self.next + 1) % len(self.bodies)
        return self.next


class UserPool:
    """One connection's users and how many orders each has open per symbol."""

    def __init__(self, users: list[Credentials], markets: dict[str, Market],
                 limit_open: bool = True) -> None:
        self.users = users
        self.symbols = list(markets)
        self.limits = {s: m.max_open if limit_open else MAX_ORDERS_PER_PHASE
                       for s, m in markets.items()}
        self.open = [dict.fromkeys(self.symbols, 0) for _ in users]
        self.current = 0
        self._symbol = 0

    def take(self) -> tuple[int, str] | None:
        """Reserve room for one order: (user index, symbol), or None when every user is full
        (then cancel the orders of ``current`` and ``reset`` it)."""
        for _ in range(len(self.users)):
            counts = self.open[self.current]
            for _ in range(len(self.symbols)):
                symbol = self.symbols[self._symbol]
                self._symbol = (self._symbol + 1) % len(self.symbols)
                if counts[symbol] < self.limits[symbol]:
                    counts[symbol] += 1
                    return self.current, symbol
            self.current = (self.current + 1) % len(self.users)
        return None

    def release(self, user: int, symbol: str) -> None:
        self.open[user][symbol] -= 1

    def reset(self, user: int) -> None:
        self.open[user] = dict.fromkeys(self.symbols, 0)


@dataclass
class Window:
    start: float  # perf_counter: the warm-up ends, counting begins
    end: float  # counting ends; no order is sent after it


@dataclass
class Stats:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)  # of orders answered in the window
    accepted: int = 0  # orders the server took, warm-up included
    not_resting: int = 0  # accepted orders that traded or expired (should be 0)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    cancel_alls: int = 0  # interleaved, untimed
    canceled: int = 0
    client_cpu_s: float | None = None
    server_cpu_s: float | None = None

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])

    def answered(self, t0: float, t1: float, window: Window) -> None:
        if window.start <= t1 <= window.end:
            self.latencies.append(t1 - t0)

    def check_order(self, result: Any) -> bool:
        """Whether an order answer shows the order resting, untouched."""
        self.accepted += 1
        if isinstance(result, dict) and result.get("status") == "NEW" \
                and not result.get("fills"):
            return True
        self.not_resting += 1
        return False

    def figures(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(q: float) -> float:
            return round(lat[min(n - 1, int(q * n))] * 1000, 2) if n else 0.0

        out: dict[str, Any] = {"orders_per_s": round(n / self.seconds, 1),
                               "p50_ms": pct(0.50), "p99_ms": pct(0.99), "orders": n,
                               "errors": self.errors}
        if self.client_cpu_s is not None:
            out["client_cpu_pct"] = round(100 * self.client_cpu_s / self.seconds)
        if self.server_cpu_s is not None:
            out["server_cpu_pct"] = round(100 * self.server_cpu_s / self.seconds)
            if n:  # what one order costs the server, less sensitive to a busy machine
                out["server_cpu_us_per_order"] = round(1e6 * self.server_cpu_s / n)
        return out


async def measure_cpu(stats: Stats, window: Window, server: Server) -> None:
    """CPU used within the window by this process (the load generator) and the server."""
    await asyncio.sleep(max(0.0, window.start - time.perf_counter()))
    c0, s0 = time.process_time(), server.cpu_seconds()
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    c1, s1 = time.process_time(), server.cpu_seconds()
    stats.client_cpu_s = c1 - c0
    if s0 is not None and s1 is not None:
        stats.server_cpu_s = s1 - s0


async def cancel_all(conn: HttpConnection, cred: Credentials, symbols: list[str],
                     stats: Stats) -> int:
    canceled = 0
    for symbol in symbols:
        status, answer = await conn.call("DELETE", f"{ORDERS_PATH}?symbol={symbol}", cred=cred)
        if status != 200:
            stats.error(f"cancel-all {symbol}: {status} {answer}")
            continue
        canceled += len(answer.get("canceled", []))
    stats.canceled += canceled
    return canceled


# ----------------------------------------------------------------------------- REST load


async def rest_worker(conn: HttpConnection, pool: UserPool, markets: dict[str, Market],
                      window: Window, stats: Stats, check: bool, cap: int) -> None:
    perf = time.perf_counter
    sent = 0
    while sent < cap and perf() < window.end:
        slot = pool.take()
        if slot is None:  # every user of this connection has its fill: make room, untimed
            await cancel_all(conn, pool.users[pool.current], pool.symbols, stats)
            pool.reset(pool.current)
            stats.cancel_alls += 1
            continue
        user, symbol = slot
        body = markets[symbol].bodies[markets[symbol].take()]
        raw = conn.signed_bytes(pool.users[user], "POST", ORDERS_PATH, body)
        t0 = perf()
        status, answer = await conn.send(raw)
        t1 = perf()
        sent += 1
        if status != 200:
            pool.release(user, symbol)
            stats.error(f"{status} {answer[:200]!r}")
            continue
        if check and not stats.check_order(json.loads(answer)):
            pool.release(user, symbol)
        stats.answered(t0, t1, window)


async def run_rest(name: str, server: Server, pools: list[UserPool], markets: dict[str, Market],
                   warmup: float, seconds: float, check: bool) -> Stats:
    stats = Stats(name, seconds)
    conns = [HttpConnection(server.port) for _ in pools]
    cpu: asyncio.Task[None] | None = None
    try:
        await asyncio.gather(*(c.open() for c in conns))
        start = time.perf_counter() + warmup
        window = Window(start, start + seconds)
        cap = MAX_ORDERS_PER_PHASE // len(conns)
        cpu = asyncio.create_task(measure_cpu(stats, window, server))
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time()
                                          + warmup + seconds + GRACE_S):
                results = await asyncio.gather(
                    *(rest_worker(c, p, markets, window, stats, check, cap)
                      for c, p in zip(conns, pools, strict=True)), return_exceptions=True)
        except TimeoutError:
            results = [TimeoutError("phase did not finish in time")]
        for r in results:
            if isinstance(r, BaseException):
                stats.error(f"connection: {r!r}")
        await cpu
    finally:
        for c in conns:
            c.close()
        if cpu is not None and not cpu.done():
            cpu.cancel()
    return stats


# ----------------------------------------------------------------------------- websocket load


async def ws_worker(port: int, pool: UserPool, markets: dict[str, Market], window: Window,
                    stats: Stats, inflight: int, cap: int) -> None:
    from websockets.asyncio.client import connect

    perf = time.perf_counter
    permits = asyncio.Semaphore(inflight)
    pending: dict[int, tuple[float, int, str]] = {}
    logins: dict[int, asyncio.Future[Any]] = {}
    closed = False

    async with connect(f"ws://{HOST}:{port}/ws", compression=None, max_queue=None,
                       open_timeout=10, close_timeout=5) as ws:

        async def receive() -> None:
            nonlocal closed
            try:
                await answers()
            finally:  # the connection is gone: wake the sender up, it stops
                closed = True
                for _ in range(inflight):
                    permits.release()

        async def answers() -> None:
            async for raw in ws:
                t1 = perf()
                if not isinstance(raw, str) or not raw.startswith('{"id"'):
                    continue  # the user stream: this user's order events
                message = json.loads(raw)
                mid = message.get("id")
                if mid in logins:
                    logins.pop(mid).set_result(message)
                    continue
                entry = pending.pop(mid, None)
                if entry is None:
                    continue
                t0, user, symbol = entry
                permits.release()
                if "error" in message:
                    pool.release(user, symbol)
                    stats.error(f"ws {message['error']}")
                    continue
                if not stats.check_order(message.get("result")):
                    pool.release(user, symbol)
                stats.answered(t0, t1, window)

        async def login(mid: int, cred: Credentials) -> None:
            ts = now_ms()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            logins[mid] = future
            await ws.send(json.dumps({"op": "login", "id": mid, "api_key": cred.api_key,
                                      "timestamp": ts,
                                      "signature": signature(cred.secret, ts, "GET", "/ws", b"")}))
            answer = await asyncio.wait_for(future, 10)
            if "result" not in answer:
                raise RuntimeError(f"login failed: {answer}")

        receiver = asyncio.create_task(receive())
        try:
            logged_in, mid, sent = -1, 0, 0
            while sent < cap and perf() < window.end and not closed:
                await permits.acquire()
                if closed:
                    break
                slot = pool.take()
                if slot is None:  # all users full: wait for the answers, make room, untimed
                    for _ in range(inflight - 1):
                        await permits.acquire()
                    async with connected(port) as rest:
                        await cancel_all(rest, pool.users[pool.current], pool.symbols, stats)
                    pool.reset(pool.current)
                    stats.cancel_alls += 1
                    for _ in range(inflight):
                        permits.release()
                    continue
                user, symbol = slot
                mid += 1
                if user != logged_in:
                    await login(-mid, pool.users[user])
                    logged_in = user
                market = markets[symbol]
                params = market.params[market.take()]
                pending[mid] = (perf(), user, symbol)
                await ws.send(f'{{"op":"order","id":{mid},"params":{params}}}')
                sent += 1
            # the last answers: every permit back means nothing is in flight
            for _ in range(inflight):
                await permits.acquire()
        finally:
            for _ in pending:
                stats.error("ws: no answer")
            if not receiver.done():
                receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver  # raises what broke the connection, if anything did


async def run_ws(server: Server, pools: list[UserPool], markets: dict[str, Market],
                 warmup: float, seconds: float, inflight: int) -> Stats:
    stats = Stats("ws", seconds)
    start = time.perf_counter() + warmup
    window = Window(start, start + seconds)
    cap = MAX_ORDERS_PER_PHASE // len(pools)
    cpu = asyncio.create_task(measure_cpu(stats, window, server))
    try:
        async with asyncio.timeout_at(asyncio.get_running_loop().time()
                                      + warmup + seconds + GRACE_S):
            results = await asyncio.gather(
                *(ws_worker(server.port, p, markets, window, stats, inflight, cap)
                  for p in pools), return_exceptions=True)
    except TimeoutError:
        results = [TimeoutError("phase did not finish in time")]
    finally:
        if not cpu.done():
            await asyncio.wait([cpu], timeout=warmup + seconds + 1)
    for r in results:
        if isinstance(r, BaseException):
            stats.error(f"connection: {r!r}")
    return stats


# ----------------------------------------------------------------------------- the run


async def setup_markets(conn: HttpConnection) -> dict[str, Market]:
    status, infos = await conn.call("GET", "/api/v1/instruments")
    if status != 200:
        raise RuntimeError(f"instruments: {status} {infos}")
    markets = {}
    for info in infos:
        status, prices = await conn.call("GET", f"/api/v1/prices?symbol={info['symbol']}")
        if status != 200 or not prices.get("mark"):
            raise RuntimeError(f"prices of {info['symbol']}: {status} {prices}")
        markets[info["symbol"]] = Market.build(info, Decimal(prices["mark"]))
    return markets


async def create_users(conn: HttpConnection, admin_key: str, count: int) -> list[Credentials]:
    users = []
    for i in range(count):
        status, answer = await conn.call("POST", "/api/v1/admin/users",
                                         {"name": f"bench{i}", "deposit": "100000"},
                                         headers=(("X-ADMIN-KEY", admin_key),))
        if status != 200:
            raise RuntimeError(f"creating a user: {status} {answer}")
        users.append(Credentials(answer["user"], answer["api_key"], answer["secret"].encode()))
    return users


async def cancel_phase(conn: HttpConnection, pools: list[UserPool], stats: Stats) -> int:
    """Untimed: every user's resting orders canceled, so the next phase starts clean."""
    canceled = 0
    async with asyncio.timeout(120):
        for pool in pools:
            for i, cred in enumerate(pool.users):
                canceled += await cancel_all(conn, cred, pool.symbols, stats)
                pool.reset(i)
    return canceled


def show(stats: Stats) -> None:
    f = stats.figures()
    cpu = "".join(f", {who} CPU {f[k]}%" for who, k in (("server", "server_cpu_pct"),
                                                      ("client", "client_cpu_pct")) if k in f)
    if "server_cpu_us_per_order" in f:
        cpu += f", {f['server_cpu_us_per_order']} us server CPU/order"
    print(f"  {stats.name:>4}: {f['orders_per_s']:>8.1f} orders/s, p50 {f['p50_ms']:.2f} ms, "
          f"p99 {f['p99_ms']:.2f} ms ({f['orders']} orders in {stats.seconds:g} s{cpu}; "
          f"errors {stats.errors})", flush=True)
    for sample in stats.error_samples:
        print(f"        error: {sample}", flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        argv = ([sys.executable, "-m", "exchange", "serve"] if args.default_limits
                else [sys.executable, "-m", "loadtests.bench_api", "serve-exchange"]
                + [f"--set={s}" for s in args.set])
        exchange = Server("exchange", [*argv, "--port", str(port), "--data-dir", str(data_dir)],
                          port, Path(tmp) / "exchange.log")
        bare_port = free_port()
        bare = Server("bare app", [sys.executable, "-m", "loadtests.bare_app",
                                   "--port", str(bare_port)], bare_port, Path(tmp) / "bare.log")
        housekeeping = Stats("setup", 1.0)
        try:
            exchange.start()
            await exchange.wait_ready("/api/v1/time")
            stack = uvicorn_stack()
            print(f"exchange: pid {exchange.pid}, port {port}, agents on, rate limits "
                  f"{'as shipped' if args.default_limits else 'raised'}"
                  f"{''.join(f', {s}' for s in args.set)}; uvicorn with "
                  f"{stack['uvicorn_loop']} and {stack['uvicorn_http']}", flush=True)
            admin_key = (data_dir / "admin.key").read_text().strip()
            async with connected(port) as conn:
                markets = await setup_markets(conn)
                users = await create_users(conn, admin_key,
                                           args.connections * args.users_per_connection)
            print(f"setup: {len(users)} users, symbols "
                  + ", ".join(f"{m.symbol} {json.loads(m.params[0])['quantity']} @ "
                              f"{json.loads(m.params[-1])['price']}..."
                              f"{json.loads(m.params[0])['price']}" for m in markets.values()),
                  flush=True)
            per = args.users_per_connection

            def pools(limit_open: bool = True) -> list[UserPool]:
                return [UserPool(users[i * per:(i + 1) * per], markets, limit_open)
                        for i in range(args.connections)]

            print(f"measuring: {args.warmup:g} s warm-up + {args.seconds:g} s per phase, "
                  f"{args.connections} connections, websocket {args.ws_inflight} in flight "
                  f"per connection", flush=True)
            bare.start()
            try:
                await bare.wait_ready("/docs")
                print(f"bare app: pid {bare.pid}, port {bare.port}", flush=True)
                bare_stats = await run_rest("bare", bare, pools(False), markets, args.warmup,
                                            args.seconds, check=False)
            finally:
                if bare.stop() != 0:
                    housekeeping.error(f"bare app exit {bare.proc and bare.proc.returncode}")
            show(bare_stats)

            rest_pools = pools()
            rest_stats = await run_rest("rest", exchange, rest_pools, markets, args.warmup,
                                        args.seconds, check=True)
            async with connected(port) as conn:
                await cancel_phase(conn, rest_pools, rest_stats)
                markets = await setup_markets(conn)  # the marks have moved a little
            show(rest_stats)

            ws_pools = pools()
            ws_stats = await run_ws(exchange, ws_pools, markets, args.warmup, args.seconds,
                                    args.ws_inflight)
            async with connected(port) as conn:
                await cancel_phase(conn, ws_pools, ws_stats)
            show(ws_stats)
        finally:
            code = exchange.stop()
            if bare.proc is not None and bare.proc.poll() is None:
                bare.stop()
        if code != 0:
            housekeeping.error(f"exchange exit code {code}: {exchange.log_tail(10)}")
        elif "Traceback" in exchange.log_tail(10_000):
            housekeeping.error(f"exchange logged a traceback: {exchange.log_tail(10)}")
        for sample in housekeeping.error_samples:
            print(f"  error: {sample}", flush=True)

    for stats in (rest_stats, ws_stats):
        if stats.canceled + stats.not_resting != stats.accepted:
            print(f"  note: {stats.name} accepted {stats.accepted} orders, canceled "
                  f"{stats.canceled}, {stats.not_resting} traded or expired", flush=True)
    b, r, w = bare_stats.figures(), rest_stats.figures(), ws_stats.figures()
    figures: dict[str, Any] = {}
    for prefix, f in (("rest", r), ("ws", w), ("bare", b)):
        figures[f"{prefix}_orders_per_s"] = f["orders_per_s"]
        figures[f"{prefix}_p50_ms"] = f["p50_ms"]
        figures[f"{prefix}_p99_ms"] = f["p99_ms"]
    figures["rest_vs_bare"] = round(r["orders_per_s"] / b["orders_per_s"], 3) \
        if b["orders_per_s"] else None
    figures["ws_vs_rest"] = round(w["orders_per_s"] / r["orders_per_s"], 3) \
        if r["orders_per_s"] else None
    figures["errors"] = (bare_stats.errors + rest_stats.errors + ws_stats.errors
                         + housekeeping.errors)
    figures.update({
        "connections": args.connections, "seconds": args.seconds, "warmup_s": args.warmup,
        "ws_inflight": args.ws_inflight, "users": len(users),
        "rest_orders": r["orders"], "ws_orders": w["orders"], "bare_orders": b["orders"],
        "not_resting": rest_stats.not_resting + ws_stats.not_resting,
        "rest_interleaved_cancel_alls": rest_stats.cancel_alls,
        "ws_interleaved_cancel_alls": ws_stats.cancel_alls,
        "canceled": rest_stats.canceled + ws_stats.canceled,
        "cancels": "untimed: a cancel phase after each exchange phase, plus interleaved "
                   "cancel-alls when a connection's users hit max_open_orders",
        "rate_limits": "as shipped" if args.default_limits else "raised",
        "server_settings": server_options(args.set),
        **uvicorn_stack(),
    })
    for prefix, f in (("rest", r), ("ws", w), ("bare", b)):
        for k in ("server_cpu_pct", "client_cpu_pct", "server_cpu_us_per_order"):
            if k in f:
                figures[f"{prefix}_{k}"] = f[k]
    return figures


def uvicorn_stack() -> dict[str, str]:
    """What ``uvicorn.run``'s "auto" picks in this environment (the servers run with it)."""
    import importlib.util

    def have(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    return {"uvicorn_loop": "uvloop" if have("uvloop") else "asyncio",
            "uvicorn_http": "httptools" if have("httptools") else "h11"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve-exchange"]:
        return serve_exchange(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m loadtests.bench_api",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="measured window of each phase (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="warm-up before each window (default 2)")
    parser.add_argument("--connections", type=int, default=16,
                        help="concurrent connections of each phase (default 16)")
    parser.add_argument("--ws-inflight", type=int, default=4,
                        help="websocket orders in flight per connection (default 4)")
    parser.add_argument("--users-per-connection", type=int, default=12,
                        help="users each connection rotates over (default 12)")
    parser.add_argument("--default-limits", action="store_true",
                        help="run `python -m exchange serve` as shipped, rate limits and all")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a ServerConfig field for the exchange, to see what a feature "
                             "costs, e.g. --set journal=false --set history=false "
                             "(repeatable)")
    args = parser.parse_args(argv)
    if args.default_limits and args.set:
        parser.error("--set needs the bench's own launcher: drop --default-limits")
    try:
        server_options(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    if not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--seconds must be in (0, 600] and --warmup in [0, 60]")
    if not 1 <= args.connections <= 512 or not 1 <= args.ws_inflight <= 256:
        parser.error("--connections must be 1 to 512 and --ws-inflight 1 to 256")
    if not 1 <= args.users_per_connection <= 16:
        parser.error("--users-per-connection must be 1 to 16")
    started = time.perf_counter()
    figures = asyncio.run(run(args))
    print(f"rest/bare {figures['rest_vs_bare']} (target >= 0.5), ws/rest "
          f"{figures['ws_vs_rest']} (target >= 2), errors {figures['errors']}, "
          f"run {time.perf_counter() - started:.1f} s", flush=True)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
