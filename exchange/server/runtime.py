"""The running exchange: the venue and everything the shell runs beside it.

``Exchange.apply`` is the one path into ``Venue.apply``: HTTP and websocket requests, the
index feeds, the built-in agents and the clock all call it from the asyncio loop's thread, so
the loop is the sequencer (DESIGN.md rule 1). It stamps each command with the wall clock (never
earlier than the previous command), applies it, feeds the projections and publishes the
events to subscribers (websocket connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange.config import load_instruments
from exchange.core.commands import Command, CreateAccount, Deposit, SetIndexPrice, Tick
from exchange.core.events import Event, Rejected
from exchange.core.instruments import Instrument
from exchange.core.venue import STATE_FORMAT, Venue
from exchange.feeds.synthetic import SyntheticFeed
from exchange.gc_tuning import tune_gc
from exchange.server import limits
from exchange.server.auth import (
    ApiKey,
    KeyStore,
    Permission,
    RateLimiter,
    load_or_create_admin_key,
)
from exchange.server.projections import Projections
from exchange.store import snapshot as snapshots
from exchange.store.codec import decode_command, encode_command
from exchange.store.db import database_url, open_database
from exchange.store.history import History
from exchange.store.journal import Journal

log = logging.getLogger("paper_exchange")

# Where the synthetic indexes start (USDT), for the default instruments; others start at 100.
START_PRICES = {"BTCUSDT": "65000", "ETHUSDT": "3200", "SOLUSDT": "150"}
# Agents trade from accounts far above users' ids.
AGENT_ACCOUNT_BASE = 1_000_000_000
# Loop passes the journal's group commit waits before it writes (see _flush_forever).
GATHER_PASSES = 2


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("exchange-data")
    instruments_path: Path | None = None
    seed: int = 1
    tick_ms: int = 1_000  # index feed cadence
    faucet: bool = True  # self-service deposits of play money
    faucet_max_usdt: int = 1_000_000
    reset: bool = True  # self-service account reset
    reset_usdt: int = 10_000  # the wallet a reset starts again with, unless told otherwise
    signup: bool = True  # self-service sign-up
    market_makers: bool = True
    noise_traders: bool = True
    rate_per_key: int = limits.RATE_PER_S  # requests a second, per key and per IP
    burst: int = limits.BURST
    ws_queue_limit: int = 10_000  # messages a websocket may fall behind before it is closed
    journal: bool = True  # durability: off only to measure what it costs
    database_url: str | None = None  # history tables; default: DATABASE_URL, else SQLite
    history: bool = True  # write the history tables
    snapshot_every: int = 100_000  # journal records between snapshots
    volatility: Decimal = Decimal("0.6")  # annualised, for the synthetic indexes
    extra: dict[str, Any] = field(default_factory=dict)


def restamp(command: Any) -> Callable[[int], Command]:
    """An agent's command, to be stamped with the sequencer's time."""

    def make(ts: int) -> Command:
        stamped: Command = command._replace(ts=ts)
        return stamped

    return make


def index_price(symbol: str, price: int) -> Callable[[int], Command]:
    def make(ts: int) -> Command:
        return SetIndexPrice(ts, symbol, price)

    return make


class Exchange:
    """The venue and the shell around it. State survives restarts through the journal (every
    accepted command and every new user or key, written before the answer leaves) and
    periodic snapshots; on start, the latest snapshot is loaded and the journal after it
    replayed, which gives the state before the stop exactly (compare ``venue.digest()``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.instruments: dict[str, Instrument] = load_instruments(config.instruments_path)
        self.venue = Venue(self.instruments)
        self.projections = Projections(self.instruments)
        self.keys = KeyStore()
        self.admin_key, self.admin_key_path = load_or_create_admin_key(config.data_dir)
        self.limiter = RateLimiter(config.rate_per_key, config.burst)
        self.subscribers: list[Callable[[list[Event]], None]] = []
        self.last_ts = 0
        self.agents: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._unpublished: list[list[Event]] = []
        self._durable_waiters: list[tuple[int, asyncio.Future[None]]] = []
        # Set when the journal has records to flush: the flusher wakes at once, no polling.
        self._flush_due = asyncio.Event()
        self._since_snapshot = 0
        self.journal: Journal | None = Journal(config.data_dir) if config.journal else None
        self.history: History | None = None
        if config.history:
            url = database_url(config.data_dir, config.database_url)
            self.history = History(open_database(url), self.instruments)
            self.history.record_instruments(time.time_ns() // 1_000_000)
            self.subscribers.append(self.history.add)
        self._history_task: asyncio.Task[None] | None = None
        self._history_write: asyncio.Future[None] | None = None
        recovered = self._recover()
        # The state as recovered, before the agents act again: equal to the one at the stop.
        self.recovered_digest = self.venue.digest()
        self.feeds = {
            symbol: SyntheticFeed(
                self._start_price(symbol, inst), config.seed * 1_000 + i + recovered,
                volatility=config.volatility, step_ms=config.tick_ms)
            for i, (symbol, inst) in enumerate(sorted(self.instruments.items()))}
        self._start_agents(fresh=recovered == 0)
        log.info("state digest %s after %d journal records", self.venue.digest(),
                 self.journal.appended if self.journal else 0)

    def _start_price(self, symbol: str, inst: Instrument) -> int:
        """Where the index starts: where it stood (after a restart) or the default."""
        index = self.venue.markets[symbol].index
        return index if index is not None else inst.parse_price(START_PRICES.get(symbol, "100"))

    # ---------------------------------------------------------------- the sequencer path

    def now_ms(self) -> int:
        return max(self.last_ts, time.time_ns() // 1_000_000)

    def apply(self, make: Callable[[int], Command]) -> list[Event]:
        """Stamp, apply, journal and publish one command; ``make`` builds it from the time.

        With the journal on, the events are published once the record is on disk (the
        flusher does it); the caller awaits ``durable()`` before acknowledging.
        """
        ts = self.now_ms()
        self.last_ts = ts
        command = make(ts)
        events = self.venue.apply(command)
        if events and type(events[0]) is not Rejected:
            self.projections.apply(events)
            if self.journal is not None:
                self.journal.append(encode_command(command))
                self._flush_due.set()
                self._unpublished.append(events)
                self._since_snapshot += 1
            else:
                self._publish(events)
        return events

    def _publish(self, events: list[Event]) -> None:
        for publish in list(self.subscribers):
            publish(events)

    async def durable(self) -> None:
        """Wait until everything applied so far is on disk (group commit)."""
        journal = self.journal
        if journal is None or journal.synced >= journal.appended:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._durable_waiters.append((journal.appended, future))
        self._flush_due.set()  # records appended by other paths (users, keys) wait no longer
        await future

    async def _flush_forever(self) -> None:
        """The group commit: whatever accumulated goes to disk in one write and one fsync,
        then its waiters are answered and its events published."""
        journal = self.journal
        assert journal is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._flush_due.wait()
            # Let the loop run twice before writing: requests already read from their sockets
            # (one pass creates their tasks, the next runs them up to ``durable``) join this
            # fsync instead of each paying for one of their own. An fsync costs about as much
            # CPU as handling an order; unbatched, REST order entry fsynced once per order.
            for _ in range(GATHER_PASSES):
                await asyncio.sleep(0)
            self._flush_due.clear()
            if not journal.pending():
                continue
            data, upto = journal.take()
            ready = self._unpublished
            self._unpublished = []
            await loop.run_in_executor(None, journal.write_and_sync, data)
            journal.synced = upto
            for events in ready:
                self._publish(events)
            still: list[tuple[int, asyncio.Future[None]]] = []
            for position, future in self._durable_waiters:
                if position <= upto:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((position, future))
            self._durable_waiters = still
            if self._since_snapshot >= self.config.snapshot_every:
                self.snapshot()

    def sync(self) -> None:
        """Flush the journal now, synchronously (startup, shutdown, tests)."""
        if self.journal is not None:
            self.journal.sync()
            ready, self._unpublished = self._unpublished, []
            for events in ready:
                self._publish(events)

    # ---------------------------------------------------------------- recovery

    def _state(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "venue": self.venue, "projections": self.projections,
                "keys": self.keys, "last_ts": self.last_ts}

    def snapshot(self) -> None:
        if self.journal is None:
            return
        self.sync()
        snapshots.write(self.config.data_dir, self.journal.appended, self._state())
        self._since_snapshot = 0

    def _recover(self) -> int:
        """Load the latest snapshot and replay the journal after it; returns the number of
        journal records the state now includes."""
        journal = self.journal
        if journal is None or not journal.recovered:
            return 0
        start = 0
        found = snapshots.latest(self.config.data_dir)
        written = found[1].get("format") if found and isinstance(found[1], dict) else None
        if found is not None and written != STATE_FORMAT:
            # Written by a version whose state has another shape: the journal holds it all.
            log.warning("snapshot of state format %s, not %s: replaying the journal from its "
                        "start", written, STATE_FORMAT)
            found = None
        if found is not None and found[0] <= len(journal.recovered):
            start, state = found
            self.venue = state["venue"]
            self.projections = state["projections"]
            self.keys = state["keys"]
            self.last_ts = state["last_ts"]
        for record in journal.recovered[start:]:
            self.replay(record)
        if journal.torn:
            log.warning("recovered %d whole journal records; the torn tail was dropped",
                        len(journal.recovered))
        log.info("recovered from %s: snapshot at record %d, %d records replayed",
                 self.config.data_dir, start, len(journal.recovered) - start)
        return len(journal.recovered)

    def replay(self, record: Any) -> None:
        """Apply one journal record as it was applied the first time."""
        if record[0] == "User":
            _, user_id, name = record
            user = self.keys.create_user(name)
            assert user.user_id == user_id, "users are numbered in journal order"
            if self.history is not None:
                self.history.add_user(user_id, name)
            return
        if record[0] == "Key":
            _, api_key, secret, user_id, permissions = record
            self.keys.add(ApiKey(api_key, secret, user_id,
                                 frozenset(Permission(p) for p in permissions)))
            if self.history is not None:
                self.history.add_key(api_key, secret, user_id, permissions)
            return
        command = decode_command(record)
        events = self.venue.apply(command)
        if events and type(events[0]) is Rejected:
            raise RuntimeError(f"journal replay diverged at {record}: {events[0]}")
        self.projections.apply(events)
        if self.history is not None:
            self.history.add(events)  # rows already in the database are skipped
        self.last_ts = max(self.last_ts, command.ts)

    # ---------------------------------------------------------------- background work

    def _start_agents(self, fresh: bool) -> None:
        """The built-in agents. On a fresh start: the first index prices, then the agents'
        accounts; after a restart their accounts exist and they take over their orders."""
        if fresh:
            for symbol, feed in sorted(self.feeds.items()):
                self.apply(index_price(symbol, feed.price_ticks))
        if not (self.config.market_makers or self.config.noise_traders):
            return
        from exchange.agents import MarketMaker, NoiseTrader, default_config

        account = AGENT_ACCOUNT_BASE
        if self.config.market_makers:
            for symbol in sorted(self.instruments):
                # Sized from the default start price, not today's: a restarted maker has the
                # same ladder as before and finds its resting orders already in place.
                inst = self.instruments[symbol]
                config = default_config(inst, inst.parse_price(START_PRICES.get(symbol, "100")))
                maker = MarketMaker(account, symbol, config)
                self.agents.append(maker)
                account += 1
        if self.config.noise_traders:
            self.agents.append(NoiseTrader(account, sorted(self.instruments),
                                           seed=self.config.seed))
        for agent in self.agents:
            if fresh or agent.account not in self.venue.accounts:
                for command in agent.setup_commands(self.now_ms()):
                    self.apply(restamp(command))
        if fresh:
            # Quote at once on a first start; after a restart the state stays exactly as it
            # was stopped until the clock's next beat.
            self.step_agents()
        self.sync()

    def step_agents(self) -> None:
        for agent in self.agents:
            for command in agent.step(self.venue, self.now_ms()):
                self.apply(restamp(command))

    def tick(self) -> None:
        """One beat of the clock: new index prices, funding when due, agents requote."""
        for symbol, feed in sorted(self.feeds.items()):
            _, price = feed.next()
            self.apply(index_price(symbol, price))
        self.apply(lambda ts: Tick(ts))
        self.step_agents()

    async def run(self) -> None:
        interval = self.config.tick_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                self.tick()
            except Exception:  # the beat must go on; the failure is logged with its trace
                log.exception("clock tick failed")

    def start(self, clock: bool = True) -> None:
        tune_gc()
        loop = asyncio.get_running_loop()
        if clock:
            self._task = loop.create_task(self.run())
        if self.journal is not None:
            self._flusher = loop.create_task(self._flush_forever())
        if self.history is not None:
            self._history_task = loop.create_task(self._write_history_forever())

    async def _write_history_forever(self) -> None:
        """Batches of history rows, written in a worker thread: the database never holds up
        the sequencer."""
        history = self.history
        assert history is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.2)
            if history.pending():
                batch = history.take()
                self._history_write = loop.run_in_executor(None, history.write, *batch)
                try:
                    await asyncio.shield(self._history_write)
                except asyncio.CancelledError:
                    raise  # stop() waits for the write still running in its thread
                except Exception:  # a database hiccup must not stop trading: logged, retried
                    log.exception("writing the history tables failed; retrying the batch")
                    history.put_back(*batch)
                self._history_write = None

    async def stop(self) -> None:
        for task in (self._task, self._flusher, self._history_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._history_write is not None:
            # A batch already in a worker thread finishes before the last one is written:
            # two writers at once would race (and a reader right after stop would miss rows).
            with contextlib.suppress(Exception):
                await self._history_write
        self._task = self._flusher = self._history_task = None
        self.close()

    def close(self) -> None:
        """Flush, snapshot and close the journal (a clean stop restarts from the snapshot),
        and write the last history rows."""
        if self.journal is not None:
            self.sync()
        if self.history is not None:
            self.history.flush()
        if self.journal is not None:
            self.snapshot()
            self.journal.close()
            self.journal = None
            log.info("state digest %s at stop", self.venue.digest())

    # ---------------------------------------------------------------- users

    def create_user(self, name: str, deposit_atoms: int = 0) -> dict[str, Any]:
        user = self.keys.create_user(name)
        key = self.keys.create_key(user.user_id,
                                   frozenset({Permission.READ, Permission.TRADE}))
        if self.journal is not None:
            self.journal.append(json.dumps(["User", user.user_id, name]))
            self.journal.append(json.dumps(["Key", key.api_key, key.secret, user.user_id,
                                            sorted(key.permissions)]))
        if self.history is not None:
            self.history.add_user(user.user_id, name)
            self.history.add_key(key.api_key, key.secret, user.user_id, key.permissions)
        self.apply(lambda ts: CreateAccount(ts, user.user_id))
        if deposit_atoms:
            self.apply(lambda ts: Deposit(ts, user.user_id, deposit_atoms))
        return {"user": user.user_id, "name": name, "api_key": key.api_key,
                "secret": key.secret}
