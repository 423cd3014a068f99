import asyncio

import pytest

from exchange.server.outbox import Outbox


def test_messages_leave_in_the_order_they_came() -> None:
    async def scenario() -> list[int | None]:
        box: Outbox[int] = Outbox(10)
        for i in range(3):
            box.put(i)
        return [await box.get() for _ in range(3)]

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_a_waiting_writer_wakes_on_the_next_message() -> None:
    async def scenario() -> int | None:
        box: Outbox[int] = Outbox(10)
        taking = asyncio.create_task(box.get())
        await asyncio.sleep(0)
        assert not taking.done()
        box.put(7)
        return await asyncio.wait_for(taking, 1)

    assert asyncio.run(scenario()) == 7


def test_overflow_cuts_the_backlog_and_ends_with_close() -> None:
    async def scenario() -> list[int | None]:
        box: Outbox[int] = Outbox(3)
        for i in range(10):
            box.put(i)
        assert box.overflowed
        assert len(box) == 3  # never more than the limit
        return [await box.get() for _ in range(3)]

    # The oldest message made room for the order to close; nothing after it was kept.
    assert asyncio.run(scenario()) == [1, 2, None]


def test_a_canceled_writer_leaves_the_outbox_usable() -> None:
    async def scenario() -> int | None:
        box: Outbox[int] = Outbox(2)
        taking = asyncio.create_task(box.get())
        await asyncio.sleep(0)
        taking.cancel()
        await asyncio.gather(taking, return_exceptions=True)
        box.put(1)  # no waiter left to wake: must not fail
        return await box.get()

    assert asyncio.run(scenario()) == 1


def test_an_outbox_holds_at_least_one_message() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Outbox(0)
