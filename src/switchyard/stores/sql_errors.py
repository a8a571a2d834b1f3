"""Which database failures a caller may retry (StoreUnavailable) and which are answers (Conflict, NotFound)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError, IntegrityError

from .base import StoreUnavailable


@contextlib.contextmanager
def unavailable_on_db_error() -> Iterator[None]:
    """Turn a lost connection or a failing server into StoreUnavailable, so the gateway can answer 503 and retry
    later. A constraint violation (IntegrityError) is a fact about the data, not an outage: it passes through for
    the caller to turn into Conflict."""
    try:
        yield
    except IntegrityError:
        raise
    except (OSError, DBAPIError) as e:
        raise StoreUnavailable(str(e)) from None
