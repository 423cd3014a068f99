"""The journal: every state change, appended before its acknowledgement leaves the server.

One record a line: ``crc32-hex space json newline``. A torn last write (a line without its
newline, or whose checksum does not match) ends the readable journal: recovery stops at the
last whole record, says so, and cuts the file there before appending again.

Group commit: ``append`` only buffers; ``sync`` writes everything buffered with one write and
one fsync, so many commands share the cost of one flush. The server awaits ``durable`` before
it answers a request, and publishes events to websockets only once they are on disk.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("paper_exchange")

FILE_NAME = "journal.log"


@dataclass
class ReadResult:
    records: list[Any]
    valid_bytes: int  # the length of the whole records at the start of the file
    torn: bool  # bytes after the last whole record were dropped


def line_for(payload: str) -> bytes:
    data = payload.encode()
    return b"%08x %s\n" % (zlib.crc32(data), data)


def read(path: Path) -> ReadResult:
    """Every whole record, stopping at the first torn or corrupt one."""
    if not path.exists():
        return ReadResult([], 0, False)
    raw = path.read_bytes()
    records: list[Any] = []
    offset = 0
    while offset < len(raw):
        end = raw.find(b"\n", offset)
        if end < 0:
            break  # the last write was cut short
        line = raw[offset:end]
        crc, _, data = line.partition(b" ")
        try:
            if len(crc) != 8 or int(crc, 16) != zlib.crc32(data):
                break
            records.append(json.loads(data))
        except ValueError:
            break
        offset = end + 1
    return ReadResult(records, offset, offset < len(raw))


class Journal:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / FILE_NAME
        found = read(self.path)
        if found.torn:
            log.warning("journal %s ends with a torn or corrupt record after %d whole records "
                        "(byte %d): recovering up to there and cutting the rest",
                        self.path, len(found.records), found.valid_bytes)
        self.recovered = found.records
        self.torn = found.torn
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.ftruncate(fd, found.valid_bytes)
        os.lseek(fd, found.valid_bytes, os.SEEK_SET)
        self._fd = fd
        self._buffer: list[bytes] = []
        self.appended = len(found.records)  # records handed to append, ever
        self.synced = self.appended  # records known to be on disk

    def append(self, payload: str) -> int:
        """Buffer one record; returns its number (1-based) for ``durable``."""
        self._buffer.append(line_for(payload))
        self.appended += 1
        return self.appended

    def pending(self) -> bool:
        return bool(self._buffer)

    def take(self) -> tuple[bytes, int]:
        """The buffered bytes and the record count they bring the journal to."""
        data = b"".join(self._buffer)
        self._buffer.clear()
        return data, self.appended

    def write_and_sync(self, data: bytes) -> None:
        """Write and fsync (may run in a worker thread: it touches only the descriptor)."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def sync(self) -> None:
        """Write what is buffered and wait for the disk (the synchronous path)."""
        if self._buffer:
            data, upto = self.take()
            self.write_and_sync(data)
            self.synced = upto

    def close(self) -> None:
        self.sync()
        os.close(self._fd)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.recovered)
