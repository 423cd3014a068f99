"""How a long-running exchange process sets Python's cyclic garbage collector.

The venue keeps a large heap of long-lived small objects (books, orders, accounts,
projections), which Python's collector, at its default thresholds, walks every few thousand
allocations: about 6% of the server's time under ``loadtests.bench_api``, in pauses of up to
100 ms (measured with gc.callbacks), and about as much of ``exchange.bench``'s. Almost
everything the venue allocates per command is freed by reference counting, so collecting
seldom loses little. The server and the venue benchmark both run with this setting.
"""

from __future__ import annotations

import gc

# Allocations between young-generation collections (Python's default: 700).
GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """Fewer cyclic garbage collections: the young generation every 50,000 allocations."""
    gc.set_threshold(GC_THRESHOLD, 20, 10)
