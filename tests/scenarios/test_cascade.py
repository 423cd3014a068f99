"""A liquidation cascade under simulated time (exchange.sim.cascade): what must hold."""

from __future__ import annotations

from exchange.sim.cascade import run_cascade


def test_crash_liquidates_everyone_past_100pct_and_conserves_money() -> None:
    report = run_cascade(traders=300, seed=7, crash="-30%/5m@60s", minutes=10)
    assert report.rejected_setup == 0
    assert report.index_end < report.index_start * 75 // 100  # the crash happened
    assert report.liquidations > 100  # a cascade, not a trickle
    assert report.left_past_100pct == 0, report.problems
    assert report.negative_wallets == 0, report.problems
    assert report.conservation_gap == 0
    # The fund moved exactly by what the liquidations put in and took out, never below zero.
    assert report.fund_after - report.fund_before == report.fund_deltas
    assert report.fund_min >= 0
    # The thin book could not absorb it all: the rest was deleveraged.
    assert report.adl_fills > 0


def test_a_deep_book_absorbs_a_milder_drop_without_adl() -> None:
    report = run_cascade(traders=100, seed=3, crash="-3%/5m@60s", minutes=10,
                         ladder_lots=50_000)
    assert report.liquidations > 0 and report.liquidation_fills > 0
    assert report.left_past_100pct == 0 and report.negative_wallets == 0
    assert report.conservation_gap == 0
    assert report.adl_fills == 0


def test_same_seed_same_cascade() -> None:
    assert run_cascade(traders=80, seed=11).as_dict() == run_cascade(traders=80, seed=11).as_dict()
