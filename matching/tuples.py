"""Named tuples built fast from compiled code.

Calling a ``NamedTuple`` class runs the ``__new__`` that ``collections.namedtuple`` writes in
Python: under the compiled build (mypyc) each event then costs an interpreted call, about 290
ns for fifteen fields. ``new(Cls, a, b, ...)`` builds the same tuple with ``tuple.__new__``, in
about 200 ns, and mypy still checks the arguments against ``Cls``'s fields (``ParamSpec``).
The book and the venue build their events with it; elsewhere, call the class. In pure Python it
is ``operator.call``: there the class's own way is the fast one.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from types import FunctionType
from typing import Any, Final, ParamSpec, TypeVar, cast

P = ParamSpec("P")
T = TypeVar("T")

_TUPLE_NEW: Final = tuple.__new__
# Each class's number of fields, read once: a dict lookup by the class is cheaper than the
# class attribute's.
_FIELD_COUNTS: Final[dict[object, int]] = {}


def new(cls: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``cls(*args, **kwargs)`` for a named tuple class ``cls``, fast when every field is given
    by position (keywords, or fields left to their defaults, take the class's own way)."""
    fields = _FIELD_COUNTS.get(cls)
    if fields is None:
        fields = _FIELD_COUNTS[cls] = len(cast(Any, cls)._fields)
    if kwargs or len(args) != fields:
        return cls(*args, **kwargs)
    return cast(T, _TUPLE_NEW(cast(Any, cls), args))


if isinstance(new, FunctionType):
    # Interpreted, the function above is one more Python call per event: calling the class
    # through operator.call (in C) costs less. (Compiled, ``new`` is a native function.)
    new = operator.call  # type: ignore[assignment]
