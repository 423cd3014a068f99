"""The simulated clock and the driver: what it feeds the venue, in what order, at what time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from exchange.config import load_instruments
from exchange.core.commands import Command, CreateAccount, Deposit, SetIndexPrice, Tick
from exchange.core.errors import Code
from exchange.core.events import Deposited, Event, Rejected
from exchange.core.venue import Venue
from exchange.feeds import CsvReplayFeed, SyntheticFeed
from exchange.sim import Driver, DriverStats, SimClock
from exchange.sim import driver as driver_module
from exchange.sim.driver import DEMO_START_MS, demo_feeds, demo_setup

DAY_MS = 86_400_000


class Recorder:
    """A venue stand-in that records commands; it rejects what ``reject`` names."""

    def __init__(self, reject: tuple[type, ...] = ()) -> None:
        self.commands: list[Command] = []
        self.reject = reject

    def apply(self, command: Command) -> list[Event]:
        self.commands.append(command)
        name = type(command).__name__
        if isinstance(command, self.reject):
            return [Rejected(0, command.ts, name, None, Code.INVALID_FLAGS, "no")]
        return [Deposited(len(self.commands), command.ts, 0, 0, 0)]


# ------------------------------------------------------------------ the clock


def test_clock_moves_forward_only() -> None:
    clock = SimClock(1000)
    assert clock.now == 1000
    assert clock.advance(500) == 1500 and clock.now == 1500
    assert clock.advance(0) == 1500
    assert clock.advance_to(1500) == 1500
    assert clock.advance_to(9000) == 9000
    with pytest.raises(ValueError, match="never goes backwards; give a ts of 9000 or later"):
        clock.advance_to(8999)
    with pytest.raises(ValueError, match="never goes backwards; give 0 or more"):
        clock.advance(-1)
    assert clock.now == 9000
    assert repr(clock) == "SimClock(now=9000)"
    assert SimClock().now == 0


def test_clock_wants_integer_ms() -> None:
    with pytest.raises(TypeError, match="int of ms"):
        SimClock(True)
    with pytest.raises(TypeError, match="int of ms"):
        SimClock(0).advance("5")  # type: ignore[arg-type]


# ------------------------------------------------------------------ stepping


def test_each_step_sets_index_prices_in_symbol_order_at_now() -> None:
    venue = Recorder()
    feeds = {"SOLUSDT": [(0, 30), (1000, 31)], "BTCUSDT": [(0, 10), (1000, 11)],
             "ETHUSDT": [(0, 20), (1000, 21)]}
    stats = Driver(venue, feeds).run_until(2000)
    assert venue.commands == [
        SetIndexPrice(0, "BTCUSDT", 10), SetIndexPrice(0, "ETHUSDT", 20),
        SetIndexPrice(0, "SOLUSDT", 30),
        SetIndexPrice(1000, "BTCUSDT", 11), SetIndexPrice(1000, "ETHUSDT", 21),
        SetIndexPrice(1000, "SOLUSDT", 31)]
    assert (stats.steps, stats.commands, stats.index_updates, stats.ticks) == (2, 6, 6, 0)
    assert (stats.start_ms, stats.end_ms, stats.simulated_ms) == (0, 2000, 2000)


def test_a_step_without_an_update_ticks() -> None:
    venue = Recorder()
    driver = Driver(venue, {"BTCUSDT": [(0, 10), (3000, 11)]})
    stats = driver.run_until(5000)
    assert venue.commands == [SetIndexPrice(0, "BTCUSDT", 10), Tick(1000), Tick(2000),
                              SetIndexPrice(3000, "BTCUSDT", 11), Tick(4000)]
    assert (stats.index_updates, stats.ticks) == (2, 3)
    # An exhausted feed leaves time running on ticks.
    driver.run_until(7000)
    assert venue.commands[-2:] == [Tick(5000), Tick(6000)]


def test_values_between_steps_wait_and_the_newest_due_wins() -> None:
    venue = Recorder()
    feed = [(0, 1), (200, 2), (700, 3), (1500, 4), (2999, 5), (3000, 6)]
    stats = Driver(venue, {"X": feed}).run_until(4000)
    assert venue.commands == [SetIndexPrice(0, "X", 1), SetIndexPrice(1000, "X", 3),
                              SetIndexPrice(2000, "X", 4), SetIndexPrice(3000, "X", 6)]
    assert stats.coalesced == 2  # 2 (replaced by 3) and 5 (replaced by 6)


def test_start_defaults_to_the_earliest_feed_value() -> None:
    venue = Recorder()
    driver = Driver(venue, {"A": [(5000, 1)], "B": [(3000, 2), (4000, 3)]})
    assert driver.now == 3000
    driver.run_until(6000)
    assert venue.commands == [SetIndexPrice(3000, "B", 2), SetIndexPrice(4000, "B", 3),
                              SetIndexPrice(5000, "A", 1)]
    # Values before an explicit start are due at once; only the newest is applied.
    venue = Recorder()
    Driver(venue, {"A": [(0, 1), (10, 2)]}, start_ms=500).run_until(1500)
    assert venue.commands == [SetIndexPrice(500, "A", 2)]
    with pytest.raises(ValueError, match="give start_ms"):
        Driver(Recorder(), {"A": []})
    assert Driver(Recorder(), {}, start_ms=7).now == 7


def test_runs_chain_without_gaps_and_check_their_end() -> None:
    venue = Recorder()
    driver = Driver(venue, {}, start_ms=1000, tick_ms=250)
    assert driver.run_until(2000).steps == 4
    assert driver.now == 2000
    assert driver.run_until(2000).steps == 0
    assert driver.run_until(3000).steps == 4
    assert [c.ts for c in venue.commands] == list(range(1000, 3000, 250))
    with pytest.raises(ValueError, match="not a whole number of 250 ms ticks after now "
                                         r"\(3000\): use 3000 or 3250"):
        driver.run_until(3100)
    with pytest.raises(ValueError, match="before now"):
        driver.run_until(2750)
    with pytest.raises(ValueError, match="tick_ms"):
        Driver(venue, {}, start_ms=0, tick_ms=0)


def test_on_step_sees_each_step_and_submits_at_now() -> None:
    venue = Recorder(reject=(Tick,))
    seen: list[tuple[int, list[Event]]] = []
    driver: Driver

    def on_step(now: int, events: list[Event]) -> None:
        seen.append((now, events))
        if now == 1000:
            driver.submit(lambda ts: CreateAccount(ts, 7))

    driver = Driver(venue, {"A": [(0, 5)]}, on_step=on_step)
    stats = driver.run_until(3000)
    assert [now for now, _ in seen] == [0, 1000, 2000]
    assert [len(events) for _, events in seen] == [1, 1, 1]
    assert venue.commands == [SetIndexPrice(0, "A", 5), Tick(1000), CreateAccount(1000, 7),
                              Tick(2000)]
    assert (stats.commands, stats.submitted, stats.events) == (4, 1, 4)
    assert (stats.rejected, dict(stats.rejected_by_command)) == (2, {"Tick": 2})
    assert driver.submit(lambda ts: Deposit(ts, 7, 1)) != []
    assert venue.commands[-1] == Deposit(3000, 7, 1)


def test_a_bad_feed_value_stops_the_run_naming_the_feed() -> None:
    with pytest.raises(ValueError, match="the B feed gave"):
        Driver(Recorder(), {"B": [(0, 0)]})
    with pytest.raises(ValueError, match="the B feed gave"):
        Driver(Recorder(), {"B": [(0, "1.5")]})  # type: ignore[list-item]
    driver = Driver(Recorder(), {"B": [(0, 1), (5000, 2), (4000, 3)]})
    with pytest.raises(ValueError, match="the B feed went back in time, from 5000 to 4000"):
        driver.run_until(6000)


def test_feeds_are_read_lazily() -> None:
    pulled: list[int] = []

    def endless() -> Iterator[tuple[int, int]]:
        ts = 0
        while True:
            pulled.append(ts)
            yield ts, 1
            ts += 1000

    Driver(Recorder(), {"A": endless()}).run_until(3000)
    assert pulled == [0, 1000, 2000, 3000]  # one value read ahead, no more


def test_stats_as_json_figures() -> None:
    stats = DriverStats(0, 86_400_000, 86_400, 10, 12, 8, 2, 0, 0, 1, {"Tick": 1}, 2_500_000_000)
    figures = stats.as_dict()
    assert figures["simulated_s"] == 86_400 and figures["wall_ms"] == 2_500
    assert figures["speedup"] == 34_560
    assert json.loads(json.dumps(figures)) == figures


# ------------------------------------------------------------------ a real venue


def test_a_simulated_day_through_the_venue() -> None:
    instruments = load_instruments()
    venue = Venue(instruments)
    setup = demo_setup(venue, instruments)
    assert not [e for e in setup if type(e) is Rejected]
    open_orders = len(venue.orders)
    assert open_orders == 24  # 4 levels a side, 3 symbols
    feeds = demo_feeds(instruments, seed=3)
    driver = Driver(venue, feeds, start_ms=DEMO_START_MS)
    began = time.perf_counter_ns()
    stats = driver.run_until(DEMO_START_MS + DAY_MS)
    wall_ms = (time.perf_counter_ns() - began) // 1_000_000
    print(f"\none simulated day (3 symbols, 1 s ticks): {wall_ms} ms wall, "
          f"{stats.commands} commands, {stats.events} events, {stats.rejected} rejected")
    assert stats.steps == 86_400
    assert driver.now == DEMO_START_MS + DAY_MS
    assert stats.index_updates == 3 * 86_400 and stats.commands == 3 * 86_400
    assert venue.conservation_gap() == 0


def test_the_feeds_replay_the_same_day() -> None:
    # Two drivers over the same seed give the venue the very same commands.
    def commands() -> list[Command]:
        venue = Recorder()
        feeds = demo_feeds(load_instruments(), seed=5)
        Driver(venue, feeds, start_ms=DEMO_START_MS).run_until(DEMO_START_MS + 600_000)
        return venue.commands

    assert commands() == commands()


def test_replay_and_synthetic_feeds_mix() -> None:
    venue = Recorder()
    replay = CsvReplayFeed.from_text("timestamp,price\n0,1.0\n2000,1.5\n", load_instruments()[
        "BTCUSDT"].tick_size)
    driver = Driver(venue, {"BTCUSDT": replay, "ETHUSDT": SyntheticFeed(100, 1)})
    driver.run_until(3000)
    assert [c for c in venue.commands if getattr(c, "symbol", None) == "BTCUSDT"] == [
        SetIndexPrice(0, "BTCUSDT", 10), SetIndexPrice(2000, "BTCUSDT", 15)]
    assert len(venue.commands) == 5


# ------------------------------------------------------------------ the command


def test_the_command_prints_its_figures_as_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert driver_module.main(["--days", "0.01", "--seed", "2"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["simulated_s"] == 864 and figures["steps"] == 864
    for key in ("wall_ms", "commands", "events", "rejected", "rejected_by_command",
                "conservation_gap", "setup_rejected"):
        assert key in figures
    assert figures["symbols"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


@pytest.mark.parametrize("days", ["x", "0", "-1", "nan", "1e-9"])
def test_the_command_refuses_bad_days(days: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        driver_module.main(["--days", days])
    assert "days" in capsys.readouterr().err


def test_python_dash_m_runs_without_warnings() -> None:
    result = subprocess.run([sys.executable, "-W", "error", "-m", "exchange.sim.driver",
                             "--days", "0.005"], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["steps"] == 432


def test_the_command_wants_whole_steps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        driver_module.main(["--days", "0.001"])
    assert "--days is 86400 ms, not a whole number of 1000 ms steps" in capsys.readouterr().err
