"""The declarative base, its naming convention, and column types shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, MetaData, bindparam, inspect, text, types
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, registry
from sqlalchemy.sql.elements import TextClause

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(types.TypeDecorator):
    """Stores naive UTC, hands back aware UTC, refuses naive input (a naive value is a bug)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def insert_unless_taken(session: Session, obj, *unique: str) -> bool:
    """INSERT a new object's row unless another row holds the same `unique` columns (a unique
    constraint): one statement, where a savepoint around an ORM insert takes three and a read
    before it a fourth. Returns True with `obj` persistent in `session` (its id set, as if
    flushed); False when the row exists, writing nothing.

    Every column attribute of `obj` is written: the ones it was not given take their column's
    plain default, or NULL. Relationships are not: give foreign keys as ids. On PostgreSQL an uncommitted row with the same key makes this wait
    for that transaction, then answer by its outcome."""
    mapper = inspect(type(obj))
    table = mapper.local_table
    given = inspect(obj).dict
    values = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if prop.key in given:
            value = given[prop.key]
        else:
            value = column.default.arg if column.default is not None and column.default.is_scalar else None
            setattr(obj, prop.key, value)
        if not (column.primary_key and value is None):
            values[column.key] = value
    statement = _on_conflict(table, tuple(values), unique, session.get_bind().dialect)
    row = session.execute(statement, values).first()
    if row is None:
        return False
    for column, value in zip(table.primary_key, row, strict=True):
        setattr(obj, mapper.get_property_by_column(column).key, value)
    make_transient_to_detached(obj)
    session.add(obj)
    return True


def add_or_insert(session: Session, table, values: dict, unique: tuple[str, ...], add: tuple[str, ...]) -> None:
    """INSERT `values` as a new row of `table`; where a row holds the same `unique` columns, add
    the `add` columns of `values` to that row's instead (counters kept in SQL, never read first)."""
    session.execute(_on_conflict(table, tuple(values), unique, session.get_bind().dialect, add=add), values)


_ON_CONFLICT: dict[tuple, TextClause] = {}


def _on_conflict(table, columns: tuple[str, ...], unique: tuple[str, ...], dialect, *, add: tuple[str, ...] | None = None):
    """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING the primary key, or, with `add`, DO
    UPDATE SET each of those columns to its sum with the new row's. Textual SQL with typed
    parameters, built once per table, columns and dialect: the dialects' own ON CONFLICT inserts
    (SQLAlchemy 2.0) have no cache key, so every execution compiled them again. PostgreSQL and
    SQLite (3.35+) both read this syntax."""
    cache_key = (table, columns, unique, add, dialect.name)
    if cache_key in _ON_CONFLICT:
        return _ON_CONFLICT[cache_key]
    quote = dialect.identifier_preparer.quote
    name = quote(table.name)
    names = ", ".join(quote(table.c[column].name) for column in columns)
    params = ", ".join(f":{column}" for column in columns)
    target = ", ".join(quote(table.c[column].name) for column in unique)
    sql = f"INSERT INTO {name} ({names}) VALUES ({params}) ON CONFLICT ({target}) "
    if add is None:
        sql += "DO NOTHING RETURNING " + ", ".join(quote(column.name) for column in table.primary_key)
    else:
        added = (quote(table.c[column].name) for column in add)
        sql += "DO UPDATE SET " + ", ".join(f"{column} = {name}.{column} + excluded.{column}" for column in added)
    statement = text(sql).bindparams(*(bindparam(column, type_=table.c[column].type) for column in columns))
    if add is None:
        statement = statement.columns(*table.primary_key)
    return _ON_CONFLICT.setdefault(cache_key, statement)


SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_LOCK_WAIT_SECONDS = 50.0  # in all, before a request gives up (gunicorn's timeout is 60 s)


def configure_sqlite(engine, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, lock_wait_seconds: float = SQLITE_LOCK_WAIT_SECONDS) -> None:
    """Real transactions on SQLite: pysqlite's implicit BEGIN breaks SAVEPOINT, so emit our own.

    BEGIN IMMEDIATE takes the write lock up front: with a deferred BEGIN, two transactions that
    both read and then write make SQLite fail one at once ("database is locked") instead of
    waiting. Writers queue behind busy_timeout; WAL keeps readers of committed data unblocked.
    So the one statement that can meet the lock is the BEGIN, and it is retried (nothing has
    happened yet) when another writer held the lock longer than the busy timeout: a page load
    during a long sync waits instead of answering 500. Foreign keys are enforced."""
    import logging
    import sqlite3
    import time

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        cursor = connection.connection.dbapi_connection.cursor()
        deadline = time.monotonic() + lock_wait_seconds
        try:
            while True:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                    logging.getLogger(__name__).info("SQLite write lock held for over %d ms; waiting on", busy_timeout_ms)
                    time.sleep(0.01)
        finally:
            cursor.close()
