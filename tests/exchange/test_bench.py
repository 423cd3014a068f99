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


def test_by_kind_accounts_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--commands", "2000", "--accounts", "30", "--by-kind"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    kinds = figures["by_kind"]
    assert sum(k["commands"] for k in kinds.values()) == 2000
    assert sum(k["commands"] for name, k in kinds.items()
               if name.endswith("/rejected")) == figures["rejected"]
    assert "LIMIT/GTC" in kinds and "SetMarkPrice" in kinds
    assert abs(sum(k["share_pct"] for k in kinds.values()) - 100) < 1
    shares = [k["share_pct"] for k in kinds.values()]
    assert shares == sorted(shares, reverse=True)


def test_by_kind_is_off_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--commands", "500", "--accounts", "10"]) == 0
    assert "by_kind" not in json.loads(capsys.readouterr().out.strip().splitlines()[-1])
