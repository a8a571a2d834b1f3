"""What every admin operation shares: the strict input model base and its parser, the translation of store errors
into answers, paging, URL checks, and field-list JSON views.

Every validation failure becomes a 400 `GatewayError` whose message (and `param`) names the field, e.g.
`limits[0].window_seconds: Input should be less than or equal to 31536000`; both front ends reject the same input
with the same message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from ..errors import GatewayError, bad_request
from ..stores.base import Conflict, NotFound, StoreUnavailable

MAX_PAGE = 1000
MAX_URL_CHARS = 2048

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class Body(BaseModel):
    """Unknown fields are errors (a typo must not silently do nothing); no lax coercion of "yes" to True."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate `data` into `model`, or raise a 400 naming the first bad field."""
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    nul = _nul_at(data, ())
    if nul is not None:  # PostgreSQL text cannot store NUL: a 400 here, not a 500 from the store
        field = loc_name(nul)
        raise bad_request(f"{field}: must not contain NUL (U+0000) characters", param=field or None)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = loc_name(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = (
                f"unknown field (accepted: {', '.join(model.model_fields)})"
                if len(err["loc"]) == 1
                else "unknown field"
            )
        raise bad_request(f"{field}: {msg}" if field else msg, param=field or None) from None


def _nul_at(value: Any, loc: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Where the first NUL character sits in a parsed JSON value (a key or a string), or None."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            found = (*loc, k) if "\x00" in k else _nul_at(v, (*loc, k))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _nul_at(v, (*loc, i))
            if found is not None:
                return found
    return None


def loc_name(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path: `limits[0].window_seconds`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_http_url(v: str) -> str:
    """An absolute http(s) URL without credentials in it (a pydantic validator: raises ValueError)."""
    if len(v) > MAX_URL_CHARS:
        raise ValueError(f"at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(v)
        credentials = parts.username or parts.password
    except ValueError:
        raise ValueError("must be an absolute http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if credentials:
        raise ValueError("must not carry credentials")
    return v


def not_found(what: str) -> GatewayError:
    return GatewayError(404, what, code="not_found")


@contextlib.contextmanager
def store_errors(what: str = "") -> Iterator[None]:
    """Translate the store's exceptions into answers a caller can act on: unknown org or key → 404, duplicate →
    409, the store's own input checks → 400, store down → 503."""
    try:
        yield
    except NotFound as e:
        raise not_found(str(e) or f"{what} not found") from None
    except Conflict as e:
        raise GatewayError(409, str(e), code="conflict") from None
    except ValueError as e:  # the store's own input checks (e.g. an amount below one micro-dollar)
        raise bad_request(str(e)) from None
    except StoreUnavailable:
        raise GatewayError(
            503, "The gateway's store is unavailable; try again shortly.", code="store_unavailable"
        ) from None


def page(limit: Any, offset: Any) -> tuple[int, int]:
    """Validated (limit, offset) for a listing; accepts the strings of a query string or CLI argument."""
    out = []
    for name, value, default, lo, hi in (
        ("limit", limit, 100, 1, MAX_PAGE),
        ("offset", offset, 0, 0, None),
    ):
        if value is None or value == "":
            out.append(default)
            continue
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise bad_request(f"{name}: must be an integer", param=name) from None
        if n < lo or (hi is not None and n > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise bad_request(f"{name}: must be {bound}", param=name)
        out.append(n)
    return out[0], out[1]


def fields_json(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The JSON view of a stored object: exactly the listed attributes (a new column is never shown by accident)."""
    return {name: getattr(obj, name) for name in names}
