"""Index-price feeds: the only seeded randomness of the exchange, outside its deterministic core.

A feed yields ``(ts_ms, price_ticks)`` pairs; the driver (``exchange.sim``) or the server turns
them into ``SetIndexPrice`` commands. ``SyntheticFeed`` walks a seeded geometric Brownian
motion with jumps and scripted ``Crash``-es; ``CsvReplayFeed`` replays recorded prices, checked
line by line (``FeedError``). ``exchange.feeds.sample`` holds the packaged BTCUSDT sample.
"""

from exchange.feeds.replay import CsvReplayFeed, FeedError
from exchange.feeds.synthetic import Crash, SyntheticFeed

__all__ = ["Crash", "CsvReplayFeed", "FeedError", "SyntheticFeed"]
