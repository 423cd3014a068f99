"""The simulated clock: integer milliseconds that move only when told, and never backwards.

Under simulated time nothing waits: the driver advances the clock and stamps each command with
``now``, so a simulated day takes as long as its commands take to apply.
"""

from __future__ import annotations


def _ms(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of ms, not {type(value).__name__} {value!r}")
    return value


class SimClock:
    """Simulated time in integer ms (UTC epoch), starting at ``start_ms``."""

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = _ms(start_ms, "start_ms")

    @property
    def now(self) -> int:
        return self._now

    def advance(self, ms: int) -> int:
        """Move ``ms >= 0`` forward; return the new ``now``."""
        if _ms(ms, "ms") < 0:
            raise ValueError(f"cannot advance by {ms} ms: time never goes backwards; "
                             "give 0 or more")
        self._now += ms
        return self._now

    def advance_to(self, ts: int) -> int:
        """Move to ``ts``, which must not be before ``now``; return it."""
        if _ms(ts, "ts") < self._now:
            raise ValueError(f"cannot go back to {ts} from {self._now}: time never goes "
                             f"backwards; give a ts of {self._now} or later")
        self._now = ts
        return ts

    def __repr__(self) -> str:
        return f"SimClock(now={self._now})"
