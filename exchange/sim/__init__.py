"""Simulated time: the clock and the driver that steps feeds and the venue under it.

``SimClock`` and ``Driver`` (with ``DriverStats``) are the public face. The driver module is
imported on first use, so that ``python -m exchange.sim.driver`` does not find it imported
already by its own package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exchange.sim.clock import SimClock

if TYPE_CHECKING:
    from exchange.sim.driver import Driver, DriverStats

__all__ = ["Driver", "DriverStats", "SimClock"]


def __getattr__(name: str) -> Any:
    if name in ("Driver", "DriverStats"):
        from exchange.sim import driver

        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
