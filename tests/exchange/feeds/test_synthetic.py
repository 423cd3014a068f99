"""The synthetic feed: reproducible to the tick, GBM-shaped, with jumps and crashes."""

from __future__ import annotations

import io
import itertools
import random
import tokenize
from decimal import ROUND_DOWN, Context, Decimal, localcontext
from pathlib import Path

import pytest

from exchange.feeds.synthetic import MS_PER_DAY, Crash, SyntheticFeed, _ln_ratio, _Normals

CTX = Context(prec=34)


def take(feed: SyntheticFeed, n: int) -> list[tuple[int, int]]:
    return [feed.next() for _ in range(n)]


def prices(feed: SyntheticFeed, n: int) -> list[int]:
    return [ticks for _, ticks in take(feed, n)]


# ------------------------------------------------------------------ reproducibility


def test_a_seed_gives_these_ticks_on_every_machine() -> None:
    # Golden values: if these change, every recorded scenario and the packaged sample change.
    assert prices(SyntheticFeed(600_000, 1), 10) == [
        600000, 600026, 600142, 600278, 600264, 600219, 600111, 600109, 600192, 600059]
    feed = SyntheticFeed(600_000, 7, jump_rate=Decimal(100), step_ms=60_000,
                         crashes=[Crash.parse("-30%/5m@10m")])
    assert prices(feed, 20) == [
        600000, 600372, 600284, 599721, 599835, 603166, 603137, 602599, 602492, 601451, 601656,
        559817, 521330, 485709, 452342, 433015, 432697, 432749, 432473, 431771]


def test_same_seed_same_ticks_other_seed_other_ticks() -> None:
    assert take(SyntheticFeed(10_000, 42), 500) == take(SyntheticFeed(10_000, 42), 500)
    assert prices(SyntheticFeed(10_000, 42), 500) != prices(SyntheticFeed(10_000, 43), 500)


def test_the_global_decimal_context_changes_nothing() -> None:
    expected = prices(SyntheticFeed(600_000, 3, jump_rate=Decimal(50)), 300)
    with localcontext() as ctx:
        ctx.prec = 5
        ctx.rounding = ROUND_DOWN
        assert prices(SyntheticFeed(600_000, 3, jump_rate=Decimal(50)), 300) == expected


def test_the_global_random_generator_changes_nothing() -> None:
    random.seed(1)
    first = prices(SyntheticFeed(600_000, 3), 50)
    random.seed(2)
    assert prices(SyntheticFeed(600_000, 3), 50) == first


def test_turning_jumps_on_leaves_the_diffusion_alone() -> None:
    # Jumps draw from their own stream: a jump rate so low that no jump happens gives the
    # same path as no jumps at all.
    plain = prices(SyntheticFeed(600_000, 5), 1000)
    assert prices(SyntheticFeed(600_000, 5, jump_rate=Decimal("1E-12")), 1000) == plain


_BANNED_NAMES = {"float", "gauss", "uniform", "normalvariate", "lognormvariate", "expovariate",
                 "math", "perf_counter"}


@pytest.mark.parametrize("package", ["feeds", "sim"])
def test_no_binary_float_in_the_source(package: str) -> None:
    root = Path(__file__).resolve().parents[3] / "exchange" / package
    for path in sorted(root.glob("*.py")):
        tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
        for previous, token in itertools.pairwise(tokens):
            where = f"{path.name}:{token.start[0]}"
            if token.type == tokenize.NUMBER:
                text = token.string.lower()
                is_float = not text.startswith(("0x", "0o", "0b")) and any(
                    c in text for c in ".ej")
                assert not is_float, f"{where}: float literal {token.string}"
            if token.type == tokenize.NAME:
                assert token.string not in _BANNED_NAMES, f"{where}: {token.string}"
                assert not (previous.string == "." and token.string == "random"), (
                    f"{where}: random.random() draws a float")


# ------------------------------------------------------------------ shape of the walk


def test_first_value_is_the_start_then_one_step_each() -> None:
    feed = SyntheticFeed(123_456, 9, start_ms=1_000_000, step_ms=250)
    values = take(feed, 5)
    assert values[0] == (1_000_000, 123_456)
    assert [ts for ts, _ in values] == [1_000_000, 1_000_250, 1_000_500, 1_000_750, 1_001_000]
    assert (feed.ts, feed.price_ticks) == values[-1]
    assert iter(feed) is feed and next(feed)[0] == 1_001_250


def test_no_volatility_no_drift_is_a_flat_line() -> None:
    assert set(prices(SyntheticFeed(100_000, 1, volatility=Decimal(0)), 1000)) == {100_000}


def test_drift_alone_compounds_exactly() -> None:
    # One step a day for a year at 10% drift: 100,000 * e^0.1 = 110,517.09...
    feed = SyntheticFeed(100_000, 1, volatility=Decimal(0), drift=Decimal("0.1"),
                         step_ms=MS_PER_DAY)
    assert prices(feed, 366)[-1] == 110_517


def test_realised_volatility_matches_the_parameter() -> None:
    # A huge tick count makes rounding to ticks negligible; one step an hour for 6000 hours.
    n = 6000
    feed = SyntheticFeed(10**12, 11, volatility=Decimal("0.8"), step_ms=3_600_000)
    path = prices(feed, n + 1)
    returns = [CTX.ln(CTX.divide(Decimal(b), Decimal(a))) for a, b in itertools.pairwise(path)]
    mean = CTX.divide(sum(returns, Decimal(0)), Decimal(n))
    variance = CTX.divide(sum((CTX.multiply(r - mean, r - mean) for r in returns), Decimal(0)),
                          Decimal(n - 1))
    annualised = CTX.sqrt(CTX.multiply(variance, Decimal(365 * 24)))
    assert Decimal("0.76") < annualised < Decimal("0.84")
    # Drift zero: the log mean is -vol^2/2 per year, small against its noise; no runaway.
    assert abs(CTX.multiply(mean, Decimal(365 * 24))) < Decimal("0.5")


def test_jump_count_follows_the_rate() -> None:
    # No diffusion, no drift: the price moves only on jumps. 2 a day, hourly steps, 500 days.
    steps = 500 * 24
    feed = SyntheticFeed(10**9, 4, volatility=Decimal(0), jump_rate=Decimal(2),
                         jump_size=Decimal("0.05"), step_ms=3_600_000)
    path = prices(feed, steps + 1)
    jumps = sum(a != b for a, b in itertools.pairwise(path))
    assert 900 <= jumps <= 1100  # expected 1000, standard deviation about 30


def test_too_many_jumps_per_step_is_refused() -> None:
    with pytest.raises(ValueError, match="at most one can happen in a step"):
        SyntheticFeed(100, 1, jump_rate=Decimal(25), step_ms=3_600_000)


def test_the_price_never_goes_below_one_tick() -> None:
    feed = SyntheticFeed(5, 1, volatility=Decimal(0), crashes=[Crash(2000, Decimal("-0.9999"))])
    assert prices(feed, 6) == [5, 5, 5, 1, 1, 1]
    wild = SyntheticFeed(3, 2, volatility=Decimal(40), step_ms=3_600_000)
    assert min(prices(wild, 2000)) == 1


# ------------------------------------------------------------------ crashes


def test_a_crash_is_spread_geometrically_over_its_window() -> None:
    crash = Crash(at_ms=600_000, change=Decimal("-0.30"), over_ms=300_000)
    feed = SyntheticFeed(1_000_000, 1, volatility=Decimal(0), crashes=[crash])
    path = dict(take(feed, 1000))
    assert path[599_000] == path[600_000] == 1_000_000
    assert path[900_000] == path[999_000] == 700_000
    # Halfway through: sqrt(0.7) of the start = 836,660.03
    assert path[750_000] == 836_660
    moves = [path[t + 1000] * 10**6 // path[t] for t in range(600_000, 900_000, 1000)]
    # The same ratio every step, up to rounding to ticks (a tick is 1 ppm of the price here).
    assert max(moves) - min(moves) <= 2


def test_a_crash_between_steps_starts_at_the_next_step() -> None:
    feed = SyntheticFeed(1_000, 1, volatility=Decimal(0), step_ms=60_000,
                         crashes=[Crash(90_000, Decimal("-0.5"), 0)])
    assert prices(feed, 5) == [1_000, 1_000, 1_000, 500, 500]


def test_crashes_add_up_and_ride_on_the_walk() -> None:
    both = SyntheticFeed(1_000_000, 1, volatility=Decimal(0), crashes=[
        Crash(1000, Decimal("-0.5"), 0), Crash(1000, Decimal("1.0"), 0)])
    assert prices(both, 4) == [1_000_000] * 4
    walk = prices(SyntheticFeed(1_000_000, 8), 400)
    crashed = prices(SyntheticFeed(1_000_000, 8, crashes=[Crash.parse("-20%/1m@100s")]), 400)
    assert crashed[:101] == walk[:101]
    assert abs(crashed[-1] - walk[-1] * 8 // 10) <= 1


def test_crash_parse() -> None:
    assert Crash.parse("-30%/5m@600s") == Crash(600_000, Decimal("-0.30"), 300_000)
    assert Crash.parse("+12.5%@1h", start_ms=10) == Crash(3_600_010, Decimal("0.125"), 0)
    assert Crash.parse(" -5%/250ms@2d ") == Crash(2 * MS_PER_DAY, Decimal("-0.05"), 250)


@pytest.mark.parametrize("text", ["-30%", "-30/5m@600s", "-30%/5@600s", "-30%/5m@600",
                                  "-30%/5min@600s", "30 %@1s", "-3e1%@1s", "-30%/-5m@600s", ""])
def test_crash_parse_shows_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="CHANGE%\\[/DURATION\\]@OFFSET, such as '-30%/5m@600s'"):
        Crash.parse(text)


def test_a_crash_to_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="above -100%"):
        Crash.parse("-100%/1m@0s")
    with pytest.raises(ValueError, match="above -100%"):
        Crash(0, Decimal("-1.5"))


def test_a_crash_before_the_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before the feed starts"):
        SyntheticFeed(100, 1, start_ms=10_000, crashes=[Crash.parse("-10%@5s")])
    # Counted from the feed's start, the same text is fine.
    SyntheticFeed(100, 1, start_ms=10_000, crashes=[Crash.parse("-10%@5s", 10_000)])


# ------------------------------------------------------------------ arguments


def test_floats_are_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"Decimal\('0.8'\)"):
        SyntheticFeed(100, 1, volatility=0.8)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        SyntheticFeed(100.0, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start_price_ticks": 0}, "at least 1 tick"),
    ({"step_ms": 0}, "step_ms is 0"),
    ({"seed": -5}, "seed is -5"),
    ({"volatility": Decimal(-1)}, "volatility is -1"),
    ({"jump_size": Decimal("-0.1")}, "jump_size is -0.1"),
    ({"drift": Decimal("NaN")}, "finite"),
])
def test_bad_arguments_say_what_to_fix(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"start_price_ticks": 100, "seed": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        SyntheticFeed(**args)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the Decimal maths


def test_fast_logarithm_agrees_with_decimal_ln() -> None:
    rng = random.Random(0)
    for n in [1, 2, 3, 63, 64, 127, 128, 129, 2**106 - 1, *(rng.getrandbits(106) + 1
                                                          for _ in range(500))]:
        exact = CTX.ln(CTX.divide(Decimal(n), Decimal(2**106)))
        assert abs(_ln_ratio(n, 106, CTX) - exact) <= Decimal("1E-32"), n
    with pytest.raises(ValueError):
        _ln_ratio(0, 1, CTX)


def test_normals_have_mean_zero_and_variance_one() -> None:
    normals = _Normals(random.Random(12), CTX)
    n = 20_000
    draws = [normals.next() for _ in range(n)]
    mean = CTX.divide(sum(draws, Decimal(0)), Decimal(n))
    variance = CTX.divide(sum((CTX.multiply(z, z) for z in draws), Decimal(0)), Decimal(n))
    assert abs(mean) < Decimal("0.03")
    assert abs(variance - 1) < Decimal("0.04")
    beyond_two = sum(abs(z) > 2 for z in draws)
    assert 40 * n // 1000 < beyond_two < 51 * n // 1000  # P(|Z| > 2) = 4.55%
