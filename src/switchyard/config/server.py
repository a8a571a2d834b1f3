"""The serving process: listener and request caps, the database, the request log and what it keeps."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from .base import Strict


class ServerSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=256)
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    graceful_shutdown_seconds: float = Field(30.0, ge=0)
    # Request line + headers of one request, in bytes; over it: 431 and the connection is closed.
    max_header_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Time for a request's headers to arrive (from the first byte, or from the connection for a silent one): 408.
    header_timeout_seconds: float = Field(30.0, gt=0)
    # Time to receive a whole request body once the gateway starts reading it: 408 (connection closed).
    body_timeout_seconds: float = Field(30.0, gt=0)
    # Per process. Connections over the cap get 503 + Retry-After at once; requests over the in-flight cap get
    # 503 + Retry-After in the caller's error shape (health and metrics are exempt).
    max_connections: int = Field(2048, ge=1)
    max_in_flight: int = Field(1024, ge=1)


class DatabaseSettings(Strict):
    url: str | None = None  # default: sqlite:///$SWITCHYARD_HOME/switchyard.db
    # PostgreSQL only: the schema to use (created by `migrate` if missing), so several deployments can share one database.
    schema_name: str | None = Field(None, alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(sqlite|postgres(ql)?)(\+\w+)?://", v):
            raise ValueError("must start with sqlite:// or postgresql://")
        return v


class LogSettings(Strict):
    # Records held unstored (in memory or spilled) before the newest go to the replay queue.
    queue_size: int = Field(20_000, ge=10)
    # Records held in memory at most: beyond it, batches already in a write-ahead file are read back from it when
    # their turn comes (observe/sink_spill.py), so a writer that falls behind does not grow the process.
    memory_records: int = Field(1_000, ge=10)
    batch_size: int = Field(500, ge=1)
    # How often queued records are written ahead to the spool and inserted: a SIGKILL loses at most the records
    # answered in the last interval (observe/sink.py; bench/sigkill_loss.py measures it).
    flush_interval_ms: int = Field(50, ge=1)
    # How long written-ahead records may wait for a full batch (batch_size) before they are inserted anyway: an
    # insert costs mostly per batch, so fuller batches cost less per row; rows become queryable this much later.
    insert_delay_ms: int = Field(250, ge=0)
    # Write every batch to a spool file (no fsync) before inserting it, so a killed process loses nothing older
    # than flush_interval_ms. false: records wait in memory until inserted (a SIGKILL loses all of them).
    write_ahead: bool = True
    spool_dir: str | None = None  # default: $SWITCHYARD_HOME/spool
    store_bodies: bool = True
    # Bodies longer than this (UTF-8 bytes) are cut to it, with a "[truncated ...]" marker, before they are logged.
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # Requests (with properties, feedback, scores), sessions and rollups older than this many days are deleted in
    # the background in small batches (stores/retention.py). 0: keep everything.
    retention_days: int = Field(0, ge=0)


class ResponsesSettings(Strict):
    # Responses API answers of bridged providers (Claude, Gemini, ...) are kept this many days, per organisation,
    # so `previous_response_id` and `item_reference` work as on OpenAI (pipeline/responses_state.py).
    # 0: nothing is kept and such requests get a 400. `store: false` on a request keeps nothing either way.
    retention_days: int = Field(30, ge=0, le=3650)
