"""A websocket connection's bounded queue of outgoing messages.

The sequencer puts and never waits; the connection's writer task takes. A client that falls
``limit`` messages behind is not waited for: its backlog is cut and the writer is told to
close the connection. ``asyncio.Queue`` did the same job with more per message (it keeps a
count for ``join`` and looks up its loop on each wait), which showed in the websocket order
path, where every order sends two messages (the answer and the user-stream update).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Outbox(Generic[T]):
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"an outbox holds at least one message, not {limit}")
        self.limit = limit
        self.overflowed = False
        self._items: deque[T | None] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        """Queue ``item``; on overflow, drop the oldest and queue the order to close instead.
        After an overflow nothing more is queued."""
        if self.overflowed:
            return
        items = self._items
        if len(items) >= self.limit:
            self.overflowed = True
            items.popleft()
            items.append(None)
        else:
            items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> T | None:
        """The next message, waiting for one; None means: close the connection."""
        items = self._items
        while not items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return items.popleft()
