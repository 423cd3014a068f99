"""The journal's format, its torn tails, and the command codec."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.core.commands import PlaceOrder, ResetAccount, SetMarginMode, Tick
from exchange.core.orders import MarginMode, OrderType, WorkingType
from exchange.store.codec import CodecError, decode_command, encode_command
from exchange.store.journal import Journal, line_for, read
from matching import SelfTradePrevention, Side, TimeInForce


def test_commands_round_trip_exactly() -> None:
    commands = [
        PlaceOrder(5, 1, "BTCUSDT", Side.SELL, OrderType.STOP, 12, 100_000, TimeInForce.GTX,
                   True, False, 99_000, WorkingType.MARK_PRICE, None, None, "c-1",
                   SelfTradePrevention.EXPIRE_BOTH),
        SetMarginMode(6, 2, "ETHUSDT", MarginMode.ISOLATED),
        Tick(7),
        ResetAccount(8, 3, 10_000 * 10**8),
    ]
    for command in commands:
        import json

        back = decode_command(json.loads(encode_command(command)))
        assert back == command and type(back) is type(command)
        assert [type(a) for a in back] == [type(a) for a in command]


@pytest.mark.parametrize("record", [["Nope", []], ["Tick", [1, 2]], ["Tick"], 5,
                                    ["PlaceOrder", [1] * 16]])
def test_bad_records_are_codec_errors(record: object) -> None:
    with pytest.raises(CodecError):
        decode_command(record)


def test_group_commit_and_reading_back(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    for i in range(5):
        assert j.append(f"[{i}]") == i + 1
    assert j.synced == 0 and j.pending()
    j.sync()
    assert j.synced == 5 and not j.pending()
    j.close()
    again = Journal(tmp_path)
    assert again.recovered == [[0], [1], [2], [3], [4]] and not again.torn
    again.close()


@pytest.mark.parametrize("tail", [b"0000", b"deadbeef [5", line_for("[5]")[:-1],
                                  b"00000000 [5]\n", b"\x00\x00\x00"])
def test_a_torn_tail_is_dropped_and_cut(tmp_path: Path, tail: bytes) -> None:
    j = Journal(tmp_path)
    for i in range(3):
        j.append(f"[{i}]")
    j.close()
    path = tmp_path / "journal.log"
    whole = path.read_bytes()
    path.write_bytes(whole + tail)
    found = read(path)
    assert found.records == [[0], [1], [2]] and found.torn and found.valid_bytes == len(whole)
    j = Journal(tmp_path)  # cuts the tail, then appends after the last whole record
    assert j.torn and len(j.recovered) == 3
    j.append("[3]")
    j.close()
    assert read(path).records == [[0], [1], [2], [3]] and not read(path).torn
