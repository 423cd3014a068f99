"""The history tables: written from the event stream, kept across restarts, rebuilt from the
journal, on SQLite by default and on PostgreSQL when one is reachable."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import Session, SQLModel, create_engine, func, select

from exchange.store.db import open_database
from exchange.store.tables import (
    ApiKeyRow,
    FillRow,
    FundingPaymentRow,
    InstrumentRow,
    InsuranceRow,
    KlineRow,
    LiquidationRow,
    OrderRow,
    TransferRow,
    UserRow,
)
from tests.exchange.store import test_recovery

COUNTED = (UserRow, ApiKeyRow, OrderRow, FillRow, FundingPaymentRow, LiquidationRow,
           InsuranceRow, TransferRow, KlineRow)


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with Session(engine) as session:
        out = {t.__tablename__: session.exec(select(func.count()).select_from(t)).one()
               for t in COUNTED}
    engine.dispose()
    return out


def run_session(data_dir: Path, url: str | None) -> None:
    if url is not None:
        os.environ["DATABASE_URL"] = url
    try:
        test_recovery.session(data_dir)
    finally:
        os.environ.pop("DATABASE_URL", None)


def check_history(data_dir: Path, url: str) -> None:
    run_session(data_dir, url if not url.startswith("sqlite") else None)
    seen = counts(url)
    assert seen["users"] == 2 and seen["api_keys"] == 2
    assert seen["fills"] > 0 and seen["funding_payments"] > 0
    assert seen["liquidations"] > 0 and seen["transfers"] >= 2
    assert seen["klines"] >= 6  # a bar for each interval at least
    engine = create_engine(url)
    with Session(engine) as session:
        configs = {r.symbol: json.loads(r.config) for r in session.exec(select(InstrumentRow))}
        assert configs["BTCUSDT"]["tick_size"] == "0.10"
        assert configs["BTCUSDT"]["tiers"][0][3] == 125
        statuses = set(session.exec(select(OrderRow.status)).all())
        assert "FILLED" in statuses
        gambler = session.exec(select(UserRow).where(UserRow.name == "gambler")).one()
        kinds = set(session.exec(select(LiquidationRow.kind).where(
            LiquidationRow.account == gambler.id)).all())
        assert "LiquidationStarted" in kinds
    engine.dispose()
    # A restart replays nothing twice; a lost database is rebuilt from the journal.
    keys: list[dict[str, object]] = []
    if not url.startswith("sqlite"):
        os.environ["DATABASE_URL"] = url
    try:
        test_recovery.restart(data_dir, keys)
        assert counts(url) == seen
        for snap in data_dir.glob("snapshot-*.pickle"):
            snap.unlink()
        if url.startswith("sqlite"):
            (data_dir / "exchange.db").unlink()
            for extra in data_dir.glob("exchange.db-*"):
                extra.unlink()
        else:
            engine = create_engine(url)
            with engine.begin() as conn:
                for table in reversed(SQLModel.metadata.sorted_tables):
                    conn.execute(text(f'DELETE FROM "{table.name}"'))
            engine.dispose()
        test_recovery.restart(data_dir, keys)
        assert counts(url) == seen
    finally:
        os.environ.pop("DATABASE_URL", None)


def test_history_on_sqlite(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    check_history(data_dir, f"sqlite:///{data_dir / 'exchange.db'}")
    engine = create_engine(f"sqlite:///{data_dir / 'exchange.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    """The alembic history creates exactly the tables the code declares, and running it again
    on an existing database changes nothing (an upgrade keeps the data)."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = open_database(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, name) VALUES (1, 'kept')"))
    engine.dispose()
    engine = open_database(url)  # migrates again: a no-op
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM users")).scalar() == "kept"
    engine.dispose()


def postgres_url() -> str | None:
    """A PostgreSQL server to test against: PAPER_EXCHANGE_TEST_POSTGRES (a URL), else a local
    server reachable as the current user through the default socket."""
    url = os.environ.get("PAPER_EXCHANGE_TEST_POSTGRES")
    if url:
        return url
    try:
        subprocess.run(["psql", "-Atc", "select 1", "postgres"], check=True,
                       capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return "postgresql+psycopg:///postgres"


@pytest.fixture
def pg_database() -> Iterator[str]:
    base = postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL server reachable: set PAPER_EXCHANGE_TEST_POSTGRES to a "
                    "postgresql+psycopg:// URL (.ci/run starts one)")
    name = f"px_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_history_on_postgresql(tmp_path: Path, pg_database: str) -> None:
    check_history(tmp_path / "data", pg_database)


def test_a_bar_that_closes_between_writes_is_kept(tmp_path: Path) -> None:
    # Found on PostgreSQL, where a test's session crossed a minute boundary: two trades a
    # minute apart in one batch used to write only the second minute's bar.
    from exchange.config import load_instruments
    from exchange.core.events import Traded
    from exchange.store.history import History
    from matching import Side

    history = History(open_database(f"sqlite:///{tmp_path / 'h.db'}"), load_instruments())
    minute = 60_000
    t0 = 1_700_000_040_000 - 1_700_000_040_000 % minute
    history.add([Traded(1, t0 + 59_000, "BTCUSDT", 1, 650_000, 3, Side.BUY, 1, 2),
                 Traded(2, t0 + minute, "BTCUSDT", 2, 650_010, 4, Side.SELL, 3, 4)])
    rows, _ = history.take()
    bars = sorted((r["open_time"], r["volume"], r["close"]) for r in rows[KlineRow]
                  if r["interval"] == "1m")
    assert bars == [(t0, "0.003", "65000.00"), (t0 + minute, "0.004", "65001.00")]
