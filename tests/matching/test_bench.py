"""The benchmark is a command whose last line is JSON: check its shape, not its speed."""

from __future__ import annotations

import json

import pytest

from matching import bench


def test_bench_prints_its_figures_as_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--commands", "3000", "--seed", "3", "--resting", "500"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = json.loads(last)
    for key in ("commands", "seconds", "commands_per_s", "p50_us", "p99_us", "peak_rss_mb"):
        assert key in figures
    assert figures["commands"] == 3000 and figures["resting_before"] == 500
    assert figures["p50_us"] <= figures["p99_us"]


def test_bench_stream_is_seeded() -> None:
    first = [c for chunk in bench.stream(2000, 5, 1) for c in chunk]
    again = [c for chunk in bench.stream(2000, 5, 1) for c in chunk]
    other = [c for chunk in bench.stream(2000, 6, 1) for c in chunk]
    assert first == again and first != other
    kinds = [c[0] for c in first]
    assert 0.5 < kinds.count(bench.LIMIT) / len(kinds) < 0.7
