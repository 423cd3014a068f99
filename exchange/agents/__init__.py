"""Built-in liquidity: agents that trade from their own accounts through the same command path
as users. Each is a deterministic function of the venue's state and its own seeded state:
``agent.setup_commands(now)`` once, then ``agent.step(venue, now)`` whenever the caller likes;
the caller applies the commands returned."""

from exchange.agents.base import Agent
from exchange.agents.market_maker import (
    Ladder,
    MarketMaker,
    MarketMakerConfig,
    Quote,
    build_ladder,
    default_config,
)
from exchange.agents.noise import NoiseConfig, NoiseTrader

__all__ = ["Agent", "Ladder", "MarketMaker", "MarketMakerConfig", "NoiseConfig", "NoiseTrader",
           "Quote", "build_ladder", "default_config"]
