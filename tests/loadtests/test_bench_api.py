"""The API benchmark is a command whose last line is JSON: check its shape, not its speed.

It starts a real exchange (agents on) and the bare FastAPI app on 127.0.0.1 and runs each phase
for a second and a half; every order must be answered without an error and rest untouched.
"""

from __future__ import annotations

import json

import pytest

from loadtests import bench_api

REQUIRED = (
    "rest_orders_per_s", "rest_p50_ms", "rest_p99_ms",
    "ws_orders_per_s", "ws_p50_ms", "ws_p99_ms",
    "bare_orders_per_s", "bare_p50_ms", "bare_p99_ms",
    "rest_vs_bare", "ws_vs_rest", "errors", "connections", "seconds",
)


def test_bench_api_prints_its_figures_as_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    # One user per connection: the websocket phase fills it and exercises the interleaved
    # cancel-all too.
    assert bench_api.main(["--seconds", "1.5", "--warmup", "0.5", "--connections", "2",
                           "--users-per-connection", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    missing = [k for k in REQUIRED if k not in figures]
    assert not missing, missing
    assert figures["errors"] == 0, "\n".join(lines)
    assert figures["connections"] == 2 and figures["seconds"] == 1.5
    for phase in ("rest", "ws", "bare"):
        assert figures[f"{phase}_orders"] > 0
        assert 0 < figures[f"{phase}_p50_ms"] <= figures[f"{phase}_p99_ms"]
    assert figures["not_resting"] == 0  # post-only orders far from the touch never trade
