"""The sequencer's journal group commit: answers wait for the disk, and commands that arrive
close together share one write and fsync."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from exchange.core.commands import Deposit
from exchange.server.runtime import Exchange, ServerConfig
from exchange.store.journal import Journal


def started(data_dir: Path, name: str) -> tuple[Exchange, int]:
    """An exchange with its journal flusher running (call inside the event loop), no agents
    and no history database, and a user of ``name``."""
    ex = Exchange(ServerConfig(data_dir=data_dir, market_makers=False, noise_traders=False,
                               history=False))
    ex.start(clock=False)
    return ex, ex.create_user(name)["user"]


def test_commands_arriving_over_a_few_loop_passes_share_one_fsync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []  # the records each write brought the journal to
    real_write = Journal.write_and_sync

    def counting_write(self: Journal, data: bytes) -> None:
        real_write(self, data)
        writes.append(data.count(b"\n"))

    monkeypatch.setattr(Journal, "write_and_sync", counting_write)

    async def scenario() -> None:
        ex, user = started(tmp_path, "alice")
        await ex.durable()
        writes.clear()

        async def deposit(passes: int) -> None:
            # As requests read from their sockets in consecutive loop passes are.
            for _ in range(passes):
                await asyncio.sleep(0)
            ex.apply(lambda ts: Deposit(ts, user, 100))
            assert ex.journal is not None
            record = ex.journal.appended
            await ex.durable()
            assert ex.journal.synced >= record  # answered only once its record is on disk

        await asyncio.wait_for(asyncio.gather(*(deposit(i % 3) for i in range(30))), 10)
        assert ex.journal is not None and ex.journal.synced == ex.journal.appended
        await ex.stop()

    asyncio.run(scenario())
    # Every deposit is on disk, in one write and fsync rather than one for each loop pass.
    assert sum(writes) == 30
    assert len(writes) == 1, writes


def test_a_lone_command_is_answered_once_on_disk(tmp_path: Path) -> None:
    async def scenario() -> int:
        ex, user = started(tmp_path, "bob")
        ex.apply(lambda ts: Deposit(ts, user, 100))
        journal = ex.journal
        assert journal is not None and journal.synced < journal.appended
        await asyncio.wait_for(ex.durable(), 10)
        synced = journal.synced
        assert synced == journal.appended
        await ex.stop()
        return synced

    records = asyncio.run(scenario())
    assert len((tmp_path / "journal.log").read_bytes().splitlines()) >= records
