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
from exchange.core.venue import Venue
from exchange.feeds.synthetic import SyntheticFeed
from exchange.server.auth import KeyStore, RateLimiter, load_or_create_admin_key
from exchange.server.projections import Projections

log = logging.getLogger("paper_exchange")

# Where the synthetic indexes start (USDT), for the default instruments; others start at 100.
START_PRICES = {"BTCUSDT": "65000", "ETHUSDT": "3200", "SOLUSDT": "150"}
# Agents trade from accounts far above users' ids.
AGENT_ACCOUNT_BASE = 1_000_000_000


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
    signup: bool = True  # self-service sign-up
    market_makers: bool = True
    noise_traders: bool = True
    rate_per_key: int = 50  # requests a second, per key and per IP
    burst: int = 100
    ws_queue_limit: int = 10_000  # messages a websocket may fall behind before it is closed
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
        self.deposited: dict[int, int] = {}  # faucet money given to each account (atoms)
        self.feeds = {
            symbol: SyntheticFeed(inst.parse_price(START_PRICES.get(symbol, "100")),
                                  config.seed * 1_000 + i, volatility=config.volatility,
                                  step_ms=config.tick_ms)
            for i, (symbol, inst) in enumerate(sorted(self.instruments.items()))}
        self.agents: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        self._start_agents()

    # ---------------------------------------------------------------- the sequencer path

    def now_ms(self) -> int:
        return max(self.last_ts, time.time_ns() // 1_000_000)

    def apply(self, make: Callable[[int], Command]) -> list[Event]:
        """Stamp, apply and publish one command; ``make`` builds it from the timestamp."""
        ts = self.now_ms()
        self.last_ts = ts
        events = self.venue.apply(make(ts))
        if events and type(events[0]) is not Rejected:
            self.projections.apply(events)
            for publish in list(self.subscribers):
                publish(events)
        return events

    # ---------------------------------------------------------------- background work

    def _start_agents(self) -> None:
        """The first index prices, then the built-in agents' accounts and quotes."""
        for symbol, feed in sorted(self.feeds.items()):
            self.apply(index_price(symbol, feed.price_ticks))
        if not (self.config.market_makers or self.config.noise_traders):
            return
        from exchange.agents import MarketMaker, NoiseTrader, default_config

        account = AGENT_ACCOUNT_BASE
        if self.config.market_makers:
            for symbol in sorted(self.instruments):
                config = default_config(self.instruments[symbol],
                                        self.feeds[symbol].price_ticks)
                maker = MarketMaker(account, symbol, config)
                self.agents.append(maker)
                account += 1
        if self.config.noise_traders:
            self.agents.append(NoiseTrader(account, sorted(self.instruments),
                                           seed=self.config.seed))
        for agent in self.agents:
            for command in agent.setup_commands(self.now_ms()):
                self.apply(restamp(command))
        self.step_agents()

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

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # ---------------------------------------------------------------- users

    def create_user(self, name: str, deposit_atoms: int = 0) -> dict[str, Any]:
        from exchange.server.auth import Permission

        user = self.keys.create_user(name)
        key = self.keys.create_key(user.user_id,
                                   frozenset({Permission.READ, Permission.TRADE}))
        self.apply(lambda ts: CreateAccount(ts, user.user_id))
        if deposit_atoms:
            self.apply(lambda ts: Deposit(ts, user.user_id, deposit_atoms))
        return {"user": user.user_id, "name": name, "api_key": key.api_key,
                "secret": key.secret}
