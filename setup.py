"""Build hook for the opt-in compiled core; the metadata lives in pyproject.toml.

By default this is a plain setuptools build: pure Python, no compiler, no mypy.

With ``PAPER_EXCHANGE_MYPYC=1`` the typed core modules below are compiled with mypyc into C
extensions (the .py files are installed beside them; an extension loads first). mypyc must be
importable at build time, so build without isolation, non-editable (an editable install would
leave the extensions in the source tree, where the pure form would load them too), in a
virtualenv that has mypy, sortedcontainers-stubs, setuptools and wheel: README.md, "Faster: the
compiled core", and .ci/compiled.
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules on the benchmarks' hot paths: order entry and matching, pre-trade risk,
# settlement, triggers, marks and funding, and the margin scans of liquidation (which call
# instruments' tier lookups and units' ceil_div millions of times: leaving either out cost
# 20-30% of exchange.bench). The enums of matching/orders and of errors (with ``Rejection``)
# too: not for their own code, but because compiled code reads a member of an enum compiled
# with it (``Side.BUY``, ``Code.UNKNOWN_ORDER``) as a C static, where an interpreted enum costs
# a module-dict lookup and a getattr at every use. Left out, measured to gain nothing: what
# holds only named tuples (matching/events, exchange/core/commands, events), and what is off
# the hot paths (adl, views). (commands.py cannot be compiled either: mypyc fails on its raw
# views at import.)
COMPILED = [
    "matching/book.py",
    "matching/orders.py",
    "matching/tuples.py",
    "exchange/core/errors.py",
    "exchange/core/venue.py",
    "exchange/core/accounts.py",
    "exchange/core/positions.py",
    "exchange/core/orders.py",
    "exchange/core/risk.py",
    "exchange/core/settlement.py",
    "exchange/core/triggers.py",
    "exchange/core/prices.py",
    "exchange/core/funding.py",
    "exchange/core/watch.py",
    "exchange/core/budgets.py",
    "exchange/core/liquidation.py",
    "exchange/core/instruments.py",
    "exchange/core/units.py",
]

if os.environ.get("PAPER_EXCHANGE_MYPYC") == "1":
    from mypyc.build import mypycify

    setup(ext_modules=mypycify(COMPILED, opt_level="3"))
else:
    setup()
