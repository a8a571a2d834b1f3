"""Managed prompts over `SQLStore`'s engine: prompts, immutable versions, environments (SQLite and PostgreSQL).

Kept out of `SQLStore` (one object per concern): `PromptStore(store)` shares the store's engine. Versions are
never updated or deleted; deploying (or rolling back) moves an environment's pointer and bumps its `revision`,
whose sum over the table is the change counter serving processes poll (`pipeline/prompts.py`).
"""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .base import Conflict, NotFound
from .schema_prompts import prompt_environments as envs
from .schema_prompts import prompt_versions as versions
from .schema_prompts import prompts
from .sql_errors import unavailable_on_db_error

_ALPHABET = string.ascii_lowercase + string.digits
PRODUCTION = "production"


def new_prompt_id() -> str:
    """Six lowercase alphanumerics, Helicone's shape (e.g. `abc123`)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(6))


@dataclass(frozen=True, slots=True)
class PromptVersion:
    id: str
    prompt_id: str
    number: int
    body: dict[str, Any]
    created_at: int


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    org_id: str
    name: str | None
    created_at: int
    environments: dict[str, str] = field(default_factory=dict)  # environment → version id
    versions: list[PromptVersion] = field(default_factory=list)  # oldest first (only from `get`)


def _version(r: Any) -> PromptVersion:
    return PromptVersion(r.id, r.prompt_id, r.number, orjson.loads(r.body), r.created_at)


class PromptStore:
    max_prompts = 1000  # per organisation: any gateway key may create prompts (Helicone's REST paths)
    max_versions = 1000  # per prompt

    def __init__(self, store: Any) -> None:
        self.engine = store.engine

    async def create(
        self, org_id: str, prompt_id: str | None, name: str | None, body: dict[str, Any], now: int
    ) -> tuple[str, PromptVersion]:
        """A new prompt with its first version, deployed to production. Conflict when the id is taken."""
        for _ in range(5 if prompt_id is None else 1):
            pid = prompt_id or new_prompt_id()
            try:
                with unavailable_on_db_error():
                    async with self.engine.begin() as conn:
                        n = (
                            await conn.execute(
                                select(func.count()).select_from(prompts).where(prompts.c.org_id == org_id)
                            )
                        ).scalar_one()
                        if n >= self.max_prompts:
                            raise Conflict(f"The organisation has {n} prompts, the most allowed.")
                        await conn.execute(
                            insert(prompts).values(org_id=org_id, id=pid, name=name, created_at=now)
                        )
                        v = await self._add_version(conn, org_id, pid, body, now)
                        await self._point(conn, org_id, pid, PRODUCTION, v.id, now)
                return pid, v
            except IntegrityError:
                if prompt_id is not None:
                    raise Conflict(f"A prompt with id {prompt_id!r} already exists.") from None
        raise Conflict("Could not find a free prompt id; try again.")

    async def add_version(self, org_id: str, prompt_id: str, body: dict[str, Any], now: int) -> PromptVersion:
        for _ in range(3):  # two writers racing for the same number: the loser takes the next one
            try:
                with unavailable_on_db_error():
                    async with self.engine.begin() as conn:
                        await self._require(conn, org_id, prompt_id)
                        return await self._add_version(conn, org_id, prompt_id, body, now)
            except IntegrityError:
                continue
        raise Conflict(f"Prompt {prompt_id!r} is being changed concurrently; try again.")

    async def deploy(self, org_id: str, prompt_id: str, environment: str, version_id: str, now: int) -> None:
        """Point `environment` at `version_id` (deploy or roll back). NotFound for an unknown prompt or version."""
        try:
            await self._deploy(org_id, prompt_id, environment, version_id, now)
        except IntegrityError:  # two first deploys of one environment at once: the loser's pointer is not set
            raise Conflict(
                f"Environment {environment!r} of prompt {prompt_id!r} was deployed concurrently; try again."
            ) from None

    async def _deploy(self, org_id: str, prompt_id: str, environment: str, version_id: str, now: int) -> None:
        with unavailable_on_db_error():
            async with self.engine.begin() as conn:
                await self._require(conn, org_id, prompt_id)
                found = (
                    await conn.execute(
                        select(versions.c.id).where(
                            (versions.c.id == version_id)
                            & (versions.c.org_id == org_id)
                            & (versions.c.prompt_id == prompt_id)
                        )
                    )
                ).first()
                if found is None:
                    raise NotFound(f"Prompt {prompt_id!r} has no version {version_id!r}.")
                await self._point(conn, org_id, prompt_id, environment, version_id, now)

    async def list(self, org_id: str) -> list[Prompt]:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(prompts)
                        .where(prompts.c.org_id == org_id)
                        .order_by(prompts.c.created_at, prompts.c.id)
                    )
                ).all()
                pointers = (await conn.execute(select(envs).where(envs.c.org_id == org_id))).all()
        by_prompt: dict[str, dict[str, str]] = {}
        for p in pointers:
            by_prompt.setdefault(p.prompt_id, {})[p.name] = p.version_id
        return [Prompt(r.id, r.org_id, r.name, r.created_at, by_prompt.get(r.id, {})) for r in rows]

    async def get(self, org_id: str, prompt_id: str) -> Prompt | None:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                r = (
                    await conn.execute(
                        select(prompts).where((prompts.c.org_id == org_id) & (prompts.c.id == prompt_id))
                    )
                ).first()
                if r is None:
                    return None
                vs = (
                    await conn.execute(
                        select(versions)
                        .where((versions.c.org_id == org_id) & (versions.c.prompt_id == prompt_id))
                        .order_by(versions.c.number)
                    )
                ).all()
                ps = (
                    await conn.execute(
                        select(envs)
                        .where((envs.c.org_id == org_id) & (envs.c.prompt_id == prompt_id))
                        .order_by(envs.c.name)
                    )
                ).all()
        return Prompt(
            r.id,
            r.org_id,
            r.name,
            r.created_at,
            {p.name: p.version_id for p in ps},
            [_version(v) for v in vs],
        )

    async def version(self, org_id: str, prompt_id: str, version_id: str) -> PromptVersion | None:
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                r = (
                    await conn.execute(
                        select(versions).where(
                            (versions.c.id == version_id)
                            & (versions.c.org_id == org_id)
                            & (versions.c.prompt_id == prompt_id)
                        )
                    )
                ).first()
        return _version(r) if r else None

    async def resolve(self, org_id: str, prompt_id: str, environment: str) -> PromptVersion | None:
        """The version `environment` points at (None: no such prompt or environment)."""
        q = (
            select(versions)
            .join(envs, (envs.c.version_id == versions.c.id))
            .where((envs.c.org_id == org_id) & (envs.c.prompt_id == prompt_id) & (envs.c.name == environment))
        )
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                r = (await conn.execute(q)).first()
        return _version(r) if r else None

    async def revision(self) -> int:
        """Grows with every deploy anywhere: cached resolutions older than a change are dropped."""
        with unavailable_on_db_error():
            async with self.engine.connect() as conn:
                return int(
                    (await conn.execute(select(func.coalesce(func.sum(envs.c.revision), 0)))).scalar_one()
                )

    # -- inside a transaction ------------------------------------------------------------------------------

    async def _require(self, conn: Any, org_id: str, prompt_id: str) -> None:
        r = (
            await conn.execute(
                select(prompts.c.id).where((prompts.c.org_id == org_id) & (prompts.c.id == prompt_id))
            )
        ).first()
        if r is None:
            raise NotFound(f"No prompt {prompt_id!r}.")

    async def _add_version(
        self, conn: Any, org_id: str, prompt_id: str, body: dict[str, Any], now: int
    ) -> PromptVersion:
        last = (
            await conn.execute(
                select(func.max(versions.c.number)).where(
                    (versions.c.org_id == org_id) & (versions.c.prompt_id == prompt_id)
                )
            )
        ).scalar()
        if (last or 0) >= self.max_versions:
            raise Conflict(f"Prompt {prompt_id!r} has {last} versions, the most allowed.")
        v = PromptVersion(str(uuid.uuid4()), prompt_id, (last or 0) + 1, body, now)
        await conn.execute(
            insert(versions).values(
                id=v.id,
                org_id=org_id,
                prompt_id=prompt_id,
                number=v.number,
                body=orjson.dumps(body).decode(),
                created_at=now,
            )
        )
        return v

    async def _point(
        self, conn: Any, org_id: str, prompt_id: str, environment: str, version_id: str, now: int
    ) -> None:
        where = (envs.c.org_id == org_id) & (envs.c.prompt_id == prompt_id) & (envs.c.name == environment)
        n = (
            await conn.execute(
                update(envs)
                .where(where)
                .values(version_id=version_id, revision=envs.c.revision + 1, updated_at=now)
            )
        ).rowcount
        if not n:  # a concurrent first deploy of the same environment fails the transaction (IntegrityError)
            await conn.execute(
                insert(envs).values(
                    org_id=org_id,
                    prompt_id=prompt_id,
                    name=environment,
                    version_id=version_id,
                    revision=1,
                    updated_at=now,
                )
            )
