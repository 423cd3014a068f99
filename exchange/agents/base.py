"""What every built-in agent is: a deterministic function of the venue's state and its own
seeded state, returning commands.

An agent never applies a command itself and reads no clock. The caller (the server, or the
simulated-time driver) creates and funds the agent's account by applying
``agent.setup_commands(now)`` once, then at each moment ``now`` applies whatever
``agent.step(venue, now)`` returns, in order, through the same sequencer path as users'
commands. The agent's account is an ordinary one: its PnL is its own, and it can be
liquidated like anyone's.
"""

from __future__ import annotations

from typing import Protocol

from exchange.core.commands import Command
from exchange.core.venue import Venue


class Agent(Protocol):
    account: int

    def setup_commands(self, now: int) -> list[Command]:
        """Create and fund the agent's account (apply once, before the first step)."""
        ...

    def step(self, venue: Venue, now: int) -> list[Command]:
        """The commands to apply now, stamped ``now``; read-only on ``venue``."""
        ...


def check_positive(name: str, value: object, minimum: int = 1) -> None:
    """Configs hold plain ints (no bool, no float): say which field is wrong and why."""
    if type(value) is not int or value < minimum:
        raise ValueError(f"{name} must be an int of at least {minimum}, not {value!r}")
