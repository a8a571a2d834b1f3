"""Which database failures a caller may retry (StoreUnavailable) and which are answers (Conflict, NotFound)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .base import StoreUnavailable

# What a store call raises when the database cannot serve it now: a lost or refused connection, a failing server
# (DBAPIError), or every pooled connection busy past the pool's timeout (PoolTimeout: not a DBAPIError, so it used
# to escape as a 500 under load).
DB_OUTAGE: tuple[type[Exception], ...] = (OSError, DBAPIError, PoolTimeout)
STORE_DOWN: tuple[type[Exception], ...] = (StoreUnavailable, *DB_OUTAGE)  # the same, once wrapped or not


@contextlib.contextmanager
def unavailable_on_db_error() -> Iterator[None]:
    """Turn a lost connection or a failing server into StoreUnavailable, so the gateway can answer 503 and retry
    later. A constraint violation (IntegrityError) is a fact about the data, not an outage: it passes through for
    the caller to turn into Conflict."""
    try:
        yield
    except IntegrityError:
        raise
    except DB_OUTAGE as e:
        raise StoreUnavailable(str(e) or type(e).__name__) from None
