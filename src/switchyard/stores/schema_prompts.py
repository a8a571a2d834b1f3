"""Managed prompts (migration 0008), on the one `schema.metadata`.

A prompt has a short id unique within its organisation; its versions are immutable (a full chat body as JSON);
an environment (`production`, `staging`, `development`, or any name) points at one version. `revision` on an
environment row grows with every deploy, so the sum over all rows is a change counter other processes poll.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from .schema import metadata

prompts = Table(
    "prompts",
    metadata,
    Column("org_id", String(36), nullable=False),
    Column("id", String(64), nullable=False),
    Column("name", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("org_id", "id"),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column("id", String(36), primary_key=True),  # a UUID, unique across organisations
    Column("org_id", String(36), nullable=False),
    Column("prompt_id", String(64), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, ... within the prompt
    Column("body", Text, nullable=False),  # JSON object: the chat body
    Column("created_at", BigInteger, nullable=False),
    Index("ix_prompt_versions_prompt", "org_id", "prompt_id", "number", unique=True),
)

prompt_environments = Table(
    "prompt_environments",
    metadata,
    Column("org_id", String(36), nullable=False),
    Column("prompt_id", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("version_id", String(36), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    PrimaryKeyConstraint("org_id", "prompt_id", "name"),
)
