"""The history tables (SQLModel): what users and reports query, written from the event stream.

Prices, quantities and money are stored as the decimal strings the API shows (exact, any
size: some atom totals exceed a 64-bit integer); times as integer ms. The core never reads
these tables: they are projections, rebuilt from the journal if ever lost.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class UserRow(SQLModel, table=True):
    __tablename__ = "users"
    id: int = Field(sa_type=BigInteger, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=64)


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"
    api_key: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(sa_type=BigInteger, index=True)
    secret: str = Field(max_length=128)
    permissions: str = Field(max_length=64)  # comma-separated


class OrderRow(SQLModel, table=True):
    """One row per order, updated as the order lives: accepted, filled, canceled..."""

    __tablename__ = "orders"
    order_id: int = Field(sa_type=BigInteger, primary_key=True)
    account: int = Field(sa_type=BigInteger, index=True)
    symbol: str = Field(max_length=20)
    client_order_id: str = Field(max_length=40)
    side: str = Field(max_length=4)
    order_type: str = Field(max_length=24)
    time_in_force: str = Field(max_length=4)
    price: str | None = Field(default=None, max_length=40)
    stop_price: str | None = Field(default=None, max_length=40)
    quantity: str = Field(max_length=40)
    filled: str = Field(max_length=40)
    status: str = Field(max_length=20)
    reduce_only: bool
    created: int = Field(sa_type=BigInteger, index=True)
    updated: int = Field(sa_type=BigInteger)


class FillRow(SQLModel, table=True):
    __tablename__ = "fills"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True, unique=True)  # the event's seq
    ts: int = Field(sa_type=BigInteger, index=True)
    account: int = Field(sa_type=BigInteger, index=True)
    symbol: str = Field(max_length=20)
    order_id: int = Field(sa_type=BigInteger, index=True)
    trade_id: int = Field(sa_type=BigInteger)
    side: str = Field(max_length=4)
    price: str = Field(max_length=40)
    quantity: str = Field(max_length=40)
    maker: bool
    fee: str = Field(max_length=40)
    realized_pnl: str = Field(max_length=40)


class FundingPaymentRow(SQLModel, table=True):
    __tablename__ = "funding_payments"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True, unique=True)
    ts: int = Field(sa_type=BigInteger, index=True)
    account: int = Field(sa_type=BigInteger, index=True)
    symbol: str = Field(max_length=20)
    size: str = Field(max_length=40)
    amount: str = Field(max_length=40)
    rate: str = Field(max_length=20)


class LiquidationRow(SQLModel, table=True):
    """Liquidation steps and ADL fills, one row per event (``kind`` names it)."""

    __tablename__ = "liquidations"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True, unique=True)
    ts: int = Field(sa_type=BigInteger, index=True)
    kind: str = Field(max_length=32)
    account: int = Field(sa_type=BigInteger, index=True)
    symbol: str | None = Field(default=None, max_length=20)
    detail: str  # the event as JSON


class InsuranceRow(SQLModel, table=True):
    __tablename__ = "insurance_ledger"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True, unique=True)
    ts: int = Field(sa_type=BigInteger, index=True)
    symbol: str = Field(max_length=20)
    account: int = Field(sa_type=BigInteger)
    delta: str = Field(max_length=40)
    balance: str = Field(max_length=40)


class TransferRow(SQLModel, table=True):
    """Deposits and withdrawals."""

    __tablename__ = "transfers"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger, index=True, unique=True)
    ts: int = Field(sa_type=BigInteger, index=True)
    account: int = Field(sa_type=BigInteger, index=True)
    kind: str = Field(max_length=10)
    amount: str = Field(max_length=40)
    wallet: str = Field(max_length=40)


class KlineRow(SQLModel, table=True):
    __tablename__ = "klines"
    symbol: str = Field(primary_key=True, max_length=20)
    interval: str = Field(primary_key=True, max_length=4)
    open_time: int = Field(sa_type=BigInteger, primary_key=True)
    open: str = Field(max_length=40)
    high: str = Field(max_length=40)
    low: str = Field(max_length=40)
    close: str = Field(max_length=40)
    volume: str = Field(max_length=40)
    trades: int


class InstrumentRow(SQLModel, table=True):
    """The instruments a server ran with, as configured (one row a symbol, kept current)."""

    __tablename__ = "instruments"
    symbol: str = Field(primary_key=True, max_length=20)
    config: str  # the instrument's settings as JSON: tick, step, filters, fees, tiers
    updated: int = Field(sa_type=BigInteger)
