"""Snapshots of the whole state, so that recovery replays only the journal after the latest.

A snapshot is the pickled state (the venue, users and keys, the projections) with the number
of journal records it includes, written to a temporary file, fsynced and renamed into place,
so that a crash while writing one leaves the previous one whole. Pickle is used because the
file is the server's own (in its data directory, owner-only) and must restore every object,
sorted containers included, exactly; it is never read from anywhere else.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

PREFIX = "snapshot-"
SUFFIX = ".pickle"
KEEP = 2


def write(data_dir: Path, records: int, state: Any) -> Path:
    path = data_dir / f"{PREFIX}{records:012d}{SUFFIX}"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        pickle.dump((records, state), f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in sorted(data_dir.glob(f"{PREFIX}*{SUFFIX}"))[:-KEEP]:
        old.unlink()
    return path


def latest(data_dir: Path) -> tuple[int, Any] | None:
    """The newest readable snapshot as (records, state), or None."""
    for path in sorted(data_dir.glob(f"{PREFIX}*{SUFFIX}"), reverse=True):
        try:
            with path.open("rb") as f:
                records, state = pickle.load(f)
            return int(records), state
        except Exception:
            # A damaged snapshot, or one the other form of the core wrote (pure Python and
            # the compiled build pickle differently): fall back to the one before, or to the
            # journal, which replays the same state.
            continue
    return None
