"""A seeded synthetic index: geometric Brownian motion with Poisson jumps and scripted crashes.

Every step the log price moves by

    (drift - volatility**2 / 2) * dt  +  volatility * sqrt(dt) * Z  (+ jump)  (+ crash share)

with ``dt`` the step in years of 365 days and ``Z`` a standard normal. The output is the price
rounded half-even to whole ticks; the internal state stays an exact ``Decimal`` price (34
digits), so rounding to ticks never accumulates.

Reproducibility is the point of this module: the same arguments give the same ticks, byte for
byte, on any machine. Hence no binary float anywhere (its last bit differs between platforms and
libm versions): the arithmetic is ``Decimal`` in a private context whose ``ln``, ``exp`` and
``sqrt`` are correctly rounded, and randomness comes only from the integer methods of seeded
``random.Random`` instances, whose Mersenne Twister stream is the same everywhere.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

MS_PER_DAY = 86_400_000
MS_PER_YEAR = 365 * MS_PER_DAY

# A private context, used explicitly: the global (thread-local) context can be changed by any
# caller, and results must not depend on who ran before us.
_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
                   traps=[InvalidOperation, DivisionByZero, Overflow])

_UNIFORM_BITS = 53
_TWO_53 = Decimal(2**_UNIFORM_BITS)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_MINUS_TWO = Decimal(-2)

_DURATION_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": MS_PER_DAY}
_UNITS = "ms, s, m, h or d"
_CRASH = re.compile(r"([+-]?[0-9]+(?:\.[0-9]+)?)%(?:/([0-9]+)(ms|s|m|h|d))?@([0-9]+)(ms|s|m|h|d)",
                    re.ASCII)
_CRASH_FORM = ("CHANGE%[/DURATION]@OFFSET, such as '-30%/5m@600s' (-30% over 5 minutes, starting "
               f"600 s after the feed starts); durations are whole numbers of {_UNITS}")


def _decimal(value: Decimal | int, name: str) -> Decimal:
    # A float here would smuggle a binary fraction into the walk (0.8 is not 0.8): refuse it.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal or an int, such as Decimal('0.8'), "
                        f"not {type(value).__name__} {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return result


@dataclass(frozen=True, slots=True)
class Crash:
    """A scripted move of ``change`` (``Decimal("-0.30")`` = -30%) spread evenly in log terms
    over ``over_ms`` starting at ``at_ms`` (a timestamp, same clock as the feed's ``start_ms``).

    It comes on top of the random walk: the walk keeps moving during the crash. The feed applies
    it in equal log parts over ``ceil(over_ms / step_ms)`` steps (at least one), the first being
    the step that leaves the first timestamp at or after ``at_ms``: the price given at that
    timestamp is still before the crash and, ``over_ms`` later (for ``over_ms`` a whole number
    of steps), the crash is complete. ``over_ms = 0`` is a gap within a single step.
    """

    at_ms: int
    change: Decimal
    over_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("at_ms", "over_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Crash.{name} must be an int of ms, not {value!r}")
        change = _decimal(self.change, "Crash.change")
        object.__setattr__(self, "change", change)
        if change <= -1:
            raise ValueError(f"a crash of {_CONTEXT.scaleb(change, 2)}% would take the price to "
                             "zero or below: use a change above -100%, such as Decimal('-0.30')")
        if self.over_ms < 0:
            raise ValueError(f"Crash.over_ms is {self.over_ms}: write 0 (a gap) or more")

    @classmethod
    def parse(cls, text: str, start_ms: int = 0) -> Crash:
        """``"-30%/5m@600s"``: -30% over 5 minutes, starting 600 s after ``start_ms``.

        The duration is optional (``"-10%@1h"`` is a gap of -10% one hour in). Bad text is a
        ``ValueError`` that shows the expected form.
        """
        if not isinstance(text, str):
            raise TypeError(f"a crash is text of the form {_CRASH_FORM}; got {text!r}")
        match = _CRASH.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"crash {text!r} is not of the form {_CRASH_FORM}")
        percent, over, over_unit, offset, offset_unit = match.groups()
        change = _CONTEXT.scaleb(Decimal(percent), -2)
        if change <= -1:
            raise ValueError(f"crash {text!r}: a change of {percent}% would take the price to "
                             "zero or below; use a change above -100%, such as '-30%'")
        over_ms = int(over) * _DURATION_MS[over_unit] if over else 0
        return cls(start_ms + int(offset) * _DURATION_MS[offset_unit], change, over_ms)


# ln((64 + j) / 64) for j in 0..63 and ln 2: the table that brings a logarithm's argument
# within 1/64 of 1, where its series converges in a handful of terms.
_LN_TABLE_BITS = 6
_LN_2 = _CONTEXT.ln(Decimal(2))
_LN_TABLE = tuple(_CONTEXT.ln(_CONTEXT.divide(Decimal((1 << _LN_TABLE_BITS) + j),
                                              Decimal(1 << _LN_TABLE_BITS)))
                  for j in range(1 << _LN_TABLE_BITS))
# Series terms below this (about 1e-40) no longer change a 34-digit sum of magnitude >= 1e-6.
_NEGLIGIBLE_EXPONENT = -40


def _ln_ratio(n: int, bits: int, ctx: Context) -> Decimal:
    """``ln(n / 2**bits)`` for an integer ``n >= 1``, to about 1e-33.

    ``Context.ln`` is correctly rounded and therefore slow (tens of microseconds), and the
    polar method needs one logarithm per pair of variates. This reduction uses only correctly
    rounded +, *, / (specified to the digit by the decimal standard, hence reproducible):
    ``n = top * 2**shift * q`` with ``top`` the leading 7 bits of ``n`` (a table entry) and
    ``q`` in [1, 1 + 1/64), then ``ln q = 2 atanh((q - 1) / (q + 1))`` as a series.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"_ln_ratio needs an integer n >= 1, got {n!r}")
    lead = _LN_TABLE_BITS + 1
    shift = n.bit_length() - lead
    if shift < 0:
        n <<= -shift
        bits -= shift
        shift = 0
    top = n >> shift
    base = top << shift
    y = ctx.divide(Decimal(n - base), Decimal(n + base))  # in [0, 1/129)
    y2 = ctx.multiply(y, y)
    series = power = y
    k = 1
    while True:
        power = ctx.multiply(power, y2)
        k += 2
        term = ctx.divide(power, Decimal(k))
        if not term or term.adjusted() < _NEGLIGIBLE_EXPONENT:
            break
        series = ctx.add(series, term)
    powers_of_two = ctx.multiply(Decimal(shift + _LN_TABLE_BITS - bits), _LN_2)
    return ctx.add(ctx.add(_LN_TABLE[top - (1 << _LN_TABLE_BITS)], powers_of_two),
                   ctx.add(series, series))


class _Normals:
    """Standard normal variates by Marsaglia's polar method, in Decimal.

    Uniforms are 53-bit integers, so the accept/reject test is exact integer arithmetic; only
    the accepted pair goes through ``ln`` and ``sqrt``. Each accepted pair gives two variates;
    the second is kept for the next call.
    """

    __slots__ = ("_ctx", "_rng", "_spare")

    def __init__(self, rng: random.Random, ctx: Context) -> None:
        self._rng = rng
        self._ctx = ctx
        self._spare: Decimal | None = None

    def next(self) -> Decimal:
        spare = self._spare
        if spare is not None:
            self._spare = None
            return spare
        bits = self._rng.getrandbits
        half = 1 << _UNIFORM_BITS
        unit_bits = 2 * _UNIFORM_BITS  # u**2 + v**2 == 1, scaled by (2**53)**2
        unit = 1 << unit_bits
        while True:
            # u, v uniform in (-1, 1), as integers scaled by 2**53.
            a = 2 * bits(_UNIFORM_BITS) - half
            b = 2 * bits(_UNIFORM_BITS) - half
            s = a * a + b * b
            if 0 < s < unit:
                break
        ctx = self._ctx
        # u * sqrt(-2 ln(s') / s') with s' = s / 2**106 and u = a / 2**53.
        minus_two_ln = ctx.multiply(_MINUS_TWO, _ln_ratio(s, unit_bits, ctx))
        factor = ctx.sqrt(ctx.divide(ctx.multiply(minus_two_ln, Decimal(unit)), Decimal(s)))
        factor = ctx.divide(factor, Decimal(half))
        self._spare = ctx.multiply(Decimal(b), factor)
        return ctx.multiply(Decimal(a), factor)


class SyntheticFeed:
    """An endless, seeded index feed: ``next()`` gives ``(ts_ms, price_ticks)``.

    The first call gives ``(start_ms, start_price_ticks)``; each later call advances one step of
    ``step_ms``. Rates are annualised (``volatility``, ``drift``: a year is 365 days);
    ``jump_rate`` is the expected number of jumps per day and ``jump_size`` the standard deviation
    of a jump's log size (jumps have mean zero in log terms). The price never goes below 1 tick.

    The diffusion and the jumps draw from separate generators, so turning jumps on or off leaves
    the diffusive path of a seed unchanged; crashes draw nothing.
    """

    __slots__ = ("_crashes", "_ctx", "_diffusion", "_drift_step", "_jump_bits", "_jump_scale",
                 "_jump_threshold", "_jumps", "_price", "_started", "_state", "_step", "_ts",
                 "_vol_step", "seed", "start_ms", "start_price_ticks", "step_ms")

    def __init__(self, start_price_ticks: int, seed: int, *,
                 volatility: Decimal = Decimal("0.8"), drift: Decimal = _ZERO,
                 jump_rate: Decimal = _ZERO, jump_size: Decimal = Decimal("0.02"),
                 start_ms: int = 0, step_ms: int = 1000, crashes: Sequence[Crash] = ()) -> None:
        for name, value in (("start_price_ticks", start_price_ticks), ("seed", seed),
                            ("start_ms", start_ms), ("step_ms", step_ms)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, not {type(value).__name__} {value!r}")
        if start_price_ticks < 1:
            raise ValueError(f"start_price_ticks is {start_price_ticks}: a price is at least "
                             "1 tick")
        if step_ms < 1:
            raise ValueError(f"step_ms is {step_ms}: write 1 or more (1000 = one second)")
        if seed < 0:
            # random.Random seeds with abs(seed): -5 would silently replay 5.
            raise ValueError(f"seed is {seed}: write 0 or more")
        volatility = _decimal(volatility, "volatility")
        drift = _decimal(drift, "drift")
        jump_rate = _decimal(jump_rate, "jump_rate")
        jump_size = _decimal(jump_size, "jump_size")
        for name, rate in (("volatility", volatility), ("jump_rate", jump_rate),
                           ("jump_size", jump_size)):
            if rate < 0:
                raise ValueError(f"{name} is {rate}: write 0 or more")

        # A copy per feed: contexts record flags as they compute, and feeds may run in threads.
        ctx = _CONTEXT.copy()
        self._ctx = ctx
        self.start_price_ticks = start_price_ticks
        self.seed = seed
        self.start_ms = start_ms
        self.step_ms = step_ms

        dt = ctx.divide(Decimal(step_ms), Decimal(MS_PER_YEAR))
        half_variance = ctx.divide(ctx.multiply(volatility, volatility), Decimal(2))
        self._drift_step = ctx.multiply(ctx.subtract(drift, half_variance), dt)
        self._vol_step = ctx.multiply(volatility, ctx.sqrt(dt))

        jump_probability = ctx.divide(ctx.multiply(jump_rate, Decimal(step_ms)),
                                      Decimal(MS_PER_DAY))
        if jump_probability > 1:
            raise ValueError(f"jump_rate {jump_rate} per day with steps of {step_ms} ms expects "
                             f"{jump_probability} jumps per step; at most one can happen in a "
                             "step: lower jump_rate or step_ms")
        # A jump happens when a 53-bit uniform integer falls below this.
        self._jump_threshold = ctx.multiply(jump_probability, _TWO_53)
        self._jump_scale = jump_size
        self._jump_bits = _UNIFORM_BITS if jump_rate > 0 else 0

        self._diffusion = _Normals(random.Random(seed), ctx)
        # A string seed goes through SHA-512 (the same on every platform): a second stream
        # independent of the first.
        jump_rng = random.Random(f"jumps:{seed}")
        self._jumps = (jump_rng, _Normals(jump_rng, ctx))

        self._crashes = tuple(self._crash_steps(c, ctx) for c in crashes)
        self._state = Decimal(start_price_ticks)
        self._price = start_price_ticks
        self._ts = start_ms
        self._step = 0
        self._started = False

    def _crash_steps(self, crash: Crash, ctx: Context) -> tuple[int, int, Decimal]:
        """(first step, end step, log change per step) of a crash; step k goes from
        ``start_ms + k * step_ms`` to the next timestamp."""
        if not isinstance(crash, Crash):
            raise TypeError(f"crashes must be Crash values, such as Crash.parse('-30%/5m@600s'), "
                            f"not {crash!r}")
        if crash.at_ms < self.start_ms:
            raise ValueError(f"a crash at {crash.at_ms} ms is before the feed starts at "
                             f"{self.start_ms} ms: move it later (Crash.parse(text, start_ms) "
                             "counts from the start)")
        first = -((self.start_ms - crash.at_ms) // self.step_ms)  # ceil division
        steps = max(1, -(-crash.over_ms // self.step_ms))
        total = ctx.ln(ctx.add(_ONE, crash.change))
        return first, first + steps, ctx.divide(total, Decimal(steps))

    @property
    def ts(self) -> int:
        """The timestamp of the last value given (``start_ms`` before the first)."""
        return self._ts

    @property
    def price_ticks(self) -> int:
        """The last price given, in ticks (``start_price_ticks`` before the first)."""
        return self._price

    def next(self) -> tuple[int, int]:
        """Advance one step (the first call gives the start) and return ``(ts, price_ticks)``."""
        if not self._started:
            self._started = True
            return self._ts, self._price
        ctx = self._ctx
        step = self._step
        move = ctx.add(self._drift_step, ctx.multiply(self._vol_step, self._diffusion.next()))
        if self._jump_bits:
            rng, normals = self._jumps
            if Decimal(rng.getrandbits(self._jump_bits)) < self._jump_threshold:
                move = ctx.add(move, ctx.multiply(self._jump_scale, normals.next()))
        for first, end, per_step in self._crashes:
            if first <= step < end:
                move = ctx.add(move, per_step)
        # The state is the exact price, moved by exp(move): exp of a small number is several
        # times cheaper than exp of a log price. It never goes below 1 tick: less than a tick
        # has no meaning here, and a state far below would leave the price stuck at 1 tick.
        state = ctx.multiply(self._state, ctx.exp(move))
        if state < 1:
            state = _ONE
        self._state = state
        self._step = step + 1
        self._ts = self.start_ms + self._step * self.step_ms
        self._price = int(ctx.to_integral_value(state))
        return self._ts, self._price

    def __next__(self) -> tuple[int, int]:
        return self.next()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self
