"""The SQL store: one implementation for SQLite (embedded default, WAL) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .base import Conflict, GatewayKey, NotFound, Org, StoreUnavailable
from .dialect_insert import insert_for
from .log_writer_sqlite import SqliteLogWriter
from .schema import gateway_keys, organizations
from .sql_credits import CreditsMixin
from .sql_errors import DB_OUTAGE
from .sql_meta import MetaMixin
from .sql_provider_keys import ProviderKeysMixin
from .sql_requests import RequestLogMixin
from .sql_settings import SettingsMixin, bump_revision, key_of, org_of

_MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def alembic_config() -> Any:
    """Alembic's configuration for the migration scripts here (imports Alembic)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


@functools.cache
def head_revisions() -> frozenset[str]:
    """The migration scripts' head revision ids, read from their `revision` / `down_revision` lines without
    importing Alembic (Alembic and Mako cost a serving process ~1 s of start-up and several MB it never uses when
    the database is already at head, which is every start but the first after an upgrade)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            v = ast.literal_eval(value)
            ids = {v} if isinstance(v, str) else set(v or ())
            (revisions if name == "revision" else parents).update(ids)
    return frozenset(revisions - parents)


def private_db_file(path: Path) -> None:
    """The database holds prompts and answers: its directory is created 0700 and the file 0600 before SQLite opens
    it (SQLite gives its -wal and -shm files the database file's mode); a file left 0644 by an older version is
    tightened."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)


def now_ms() -> int:
    return int(time.time() * 1000)


def async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class SQLStore(SettingsMixin, ProviderKeysMixin, CreditsMixin, MetaMixin, RequestLogMixin):
    """The whole store contract. Organisation/key settings and the revision counter, provider keys, and credits
    live in their mixins (sql_settings, sql_provider_keys, sql_credits), the request log in sql_requests;
    organisations and gateway keys are here."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        aurl = async_url(url)
        self.dialect = "sqlite" if aurl.startswith("sqlite") else "postgresql"
        kwargs: dict[str, Any] = {}
        self.sqlite_log: SqliteLogWriter | None = None  # the request log's writer on a database file
        if self.dialect == "sqlite":
            path = aurl.split("///", 1)[1] if "///" in aurl else ""
            if path and path != ":memory:":
                private_db_file(Path(path.split("?", 1)[0]))
                if "?" not in path and not path.startswith("file:"):
                    self.sqlite_log = SqliteLogWriter(path)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(aurl, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._insert = insert_for(self.dialect)

    def _now(self) -> int:
        return now_ms()  # looked up at call time, so tests can control the clock through this module

    # -- lifecycle -------------------------------------------------------------------------------
    async def at_head(self) -> bool:
        """Whether Alembic's version table names exactly the scripts' heads (plain SQL; a missing table: no)."""
        try:
            async with self.engine.connect() as conn:
                rows = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
        except DBAPIError:
            return False
        return frozenset(r[0] for r in rows) == head_revisions()

    async def migrate(self) -> None:
        """Bring the schema to head. Alembic is imported only when there is something to apply."""
        if await self.at_head():
            return
        from alembic import command

        cfg = alembic_config()
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Replicas starting together on a fresh database migrate one at a time (the lock ends with the
                # transaction); the others then find the schema at head and do nothing.
                await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7370020001)")
                if self.schema:
                    await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

            def run(sync_conn: Any) -> None:
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, "head")

            await conn.run_sync(run)

    async def close(self) -> None:
        if self.sqlite_log is not None:
            await self.sqlite_log.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(select(1))
        except DB_OUTAGE as e:
            raise StoreUnavailable(str(e)) from None

    # -- organisations ---------------------------------------------------------------------------
    async def create_org(self, name: str) -> Org:
        org = Org(id=str(uuid.uuid4()), name=name, created_at=now_ms())
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(organizations).values(
                        id=org.id, name=name, created_at=org.created_at, updated_at=org.created_at
                    )
                )
                await bump_revision(conn)
        except IntegrityError:
            raise Conflict(f"organisation {name!r} already exists") from None
        return org

    async def get_org_by_name(self, name: str) -> Org | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(organizations).where(organizations.c.name == name))).first()
        return org_of(row) if row else None

    async def get_org(self, org_id: str) -> Org | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(organizations).where(organizations.c.id == org_id))).first()
        return org_of(row) if row else None

    async def list_orgs(self) -> list[Org]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(organizations).order_by(organizations.c.created_at))).all()
        return [org_of(r) for r in rows]

    # -- gateway keys ----------------------------------------------------------------------------
    async def create_key(self, org_id: str, key_hash: str, prefix: str, name: str | None) -> GatewayKey:
        t = now_ms()
        key = GatewayKey(
            id=str(uuid.uuid4()), org_id=org_id, name=name, prefix=prefix, created_at=t, revoked_at=None
        )
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(gateway_keys).values(
                    id=key.id,
                    org_id=org_id,
                    name=name,
                    key_hash=key_hash,
                    prefix=prefix,
                    created_at=t,
                    revoked_at=None,
                    updated_at=t,
                )
            )
            await bump_revision(conn)
        return key

    async def find_key_by_hash(self, key_hash: str) -> GatewayKey | None:
        try:
            async with self.engine.connect() as conn:
                row = (
                    await conn.execute(select(gateway_keys).where(gateway_keys.c.key_hash == key_hash))
                ).first()
        except DB_OUTAGE as e:
            raise StoreUnavailable(str(e)) from None
        return key_of(row) if row else None

    async def list_keys(self, org_id: str | None = None) -> list[GatewayKey]:
        q = select(gateway_keys).order_by(gateway_keys.c.created_at)
        if org_id:
            q = q.where(gateway_keys.c.org_id == org_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [key_of(r) for r in rows]

    async def revoke_key(self, key_id: str) -> GatewayKey:
        t = now_ms()
        async with self.engine.begin() as conn:
            res = await conn.execute(
                update(gateway_keys)
                .where(gateway_keys.c.id == key_id)
                .where(gateway_keys.c.revoked_at.is_(None))
                .values(revoked_at=t, updated_at=t)
            )
            if res.rowcount:  # revoking a revoked key changes nothing, so the revision stays
                await bump_revision(conn)
            row = (await conn.execute(select(gateway_keys).where(gateway_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"no gateway key with id {key_id}")
        return key_of(row)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA case_sensitive_like=ON")  # `like` filters behave as on PostgreSQL
    cur.close()
