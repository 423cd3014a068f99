"""Mark price (MECHANICS.md): median of the funding basis, the 5-minute mid basis and last."""

from __future__ import annotations

from exchange.core.prices import BASIS_SAMPLES, PriceState, round_div

INTERVAL = 8 * 3_600_000


def state(index: int = 100_000) -> PriceState:
    s = PriceState()
    s.index = index
    return s


def test_round_div_rounds_halves_away_from_zero() -> None:
    assert [round_div(n, 2) for n in (-3, -1, 1, 3, 4)] == [-2, -1, 1, 2, 2]
    assert round_div(7, -2) == -4


def test_without_trades_or_book_the_mark_is_the_funding_basis_mean() -> None:
    s = state()
    # P1 = 100,000 x (1 + 0.01% x 4h/8h) = 100,005; P2 = index (no samples) = 100,000.
    assert s.compute_mark(10_000, INTERVAL // 2, INTERVAL) == round_div(100_005 + 100_000, 2)


def test_mid_basis_moving_average_and_median_with_last() -> None:
    s = state()
    for second in range(10):
        s.sample_basis(second * 1000, 100_010, 100_020)  # mid 100,015: basis +15
    assert len(s.basis) == 10
    # P1 = 100,005, P2 = 100,015: no trade yet -> their mean.
    assert s.compute_mark(10_000, INTERVAL // 2, INTERVAL) == 100_010
    s.last = 100_100
    assert s.compute_mark(10_000, INTERVAL // 2, INTERVAL) == 100_015  # the median
    s.last = 99_000
    assert s.compute_mark(10_000, INTERVAL // 2, INTERVAL) == 100_005


def test_one_sample_a_second_over_five_minutes() -> None:
    s = state()
    s.sample_basis(1_000, 100_000, 100_002)
    s.sample_basis(1_500, 100_100, 100_102)  # same second: ignored
    assert list(s.basis) == [2]
    for second in range(2, 2 + BASIS_SAMPLES):
        s.sample_basis(second * 1000, 100_000, 100_004)
    assert len(s.basis) == BASIS_SAMPLES and s.basis[0] == 4
    assert s.basis_sum == 4 * BASIS_SAMPLES
    s.sample_basis(10**9, None, 100_004)  # one-sided book: no sample
    assert len(s.basis) == BASIS_SAMPLES and s.basis_sum == 4 * BASIS_SAMPLES


def test_a_manipulated_last_price_cannot_drag_the_mark() -> None:
    s = state()
    s.last = 50_000  # a 50% print on a thin book
    assert s.compute_mark(10_000, 0, INTERVAL) == 100_000
