from __future__ import annotations

import pytest

from exchange.cli import main


def test_demo_prints_a_book_and_trades(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--orders", "300", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "bid" in out and "ask" in out and "trades" in out


def test_bad_arguments_exit_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--orders", "0"])
    assert exc.value.code == 2
