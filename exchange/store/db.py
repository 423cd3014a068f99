"""The history database: SQLite in the data directory by default, PostgreSQL when
``DATABASE_URL`` says so (``postgresql+psycopg://user:pass@host/db``). The schema is brought
to the current version with alembic at start, so an upgrade keeps an existing database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def database_url(data_dir: Path, url: str | None = None) -> str:
    return url or os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'exchange.db'}"


def open_database(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            # WAL: readers never block the writer; NORMAL sync is durable enough for a
            # projection the journal can rebuild.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    migrate(engine)
    return engine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
