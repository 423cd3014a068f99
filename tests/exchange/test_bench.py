"""The venue benchmark is a command whose last line is JSON: check its shape, not its speed."""

from __future__ import annotations

import json

import pytest

from exchange import bench


def test_bench_prints_its_figures_as_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--commands", "3000", "--accounts", "50", "--seed", "2"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("commands", "commands_per_s", "p99_us", "peak_rss_mb"):
        assert key in figures
    assert figures["commands"] == 3000 and figures["accounts"] == 50
    assert figures["conservation_gap"] == 0
    # The stream is mostly accepted work, not a flood of rejections.
    assert figures["rejected"] < figures["commands"] * 0.4
