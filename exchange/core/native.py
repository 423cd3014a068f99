"""Hints for the compiled build (mypyc, see setup.py), inert in pure Python.

Snapshots pickle the venue, so its compiled classes must unpickle as pure Python ones do:
without calling ``__init__``, which takes arguments. ``mypyc_attr(serializable=True,
allow_interpreted_subclasses=True)`` does that (the second part because mypyc, without it, runs
no ``__init__`` at all for a serializable class built from interpreted code). A frozen
dataclass cannot take its state back that way: ``Instrument`` pickles as its arguments instead
(``__reduce__``).

mypyc reads the decorator when it compiles; at run time it is the identity, so the pure install
needs no ``mypy_extensions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*_names, **_values):
        return lambda cls: cls
