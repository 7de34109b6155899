"""The API's shared query parameters, checked once: a bad one is a 4xx naming it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query

from monitor.config import parse_duration

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_LANGUAGE = re.compile(r"^(none|[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)$")
MAX_PAGE = 200
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database


def check_cursor(cursor: str | None, decode: Callable[[str], tuple[Any, ...]]) -> None:
    """400 naming ``cursor`` unless ``decode`` (the list's own) reads it and its id fits."""
    if cursor is None:
        return
    try:
        position = decode(cursor)
    except ValueError as exc:
        raise bad("cursor", str(exc)) from None
    if not all(0 < p <= MAX_ID for p in position if isinstance(p, int)):
        raise bad("cursor", "not a cursor of this list: pass a previous page's next_cursor")


def bad(parameter: str, message: str, status: int = 400) -> HTTPException:
    return HTTPException(status_code=status, detail=f"query parameter {parameter!r}: {message}")


def parse_when(parameter: str, value: str | None, now: datetime | None = None) -> datetime | None:
    """An ISO date or datetime (UTC unless it says otherwise) or an age (7d, 12h)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DATE.match(value):
        try:
            when = datetime.fromisoformat(value)
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
        except ValueError:
            raise bad(parameter, f"{value!r} is not an ISO date such as 2026-01-31") from None
        except OverflowError:
            raise bad(parameter, f"{value!r} is out of the range of dates") from None
    try:
        seconds = parse_duration(value)
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    except (ValueError, OverflowError):
        raise bad(
            parameter, f"{value!r}: expected an ISO date (2026-01-31) or an age such as 7d or 12h"
        ) from None


@dataclass(frozen=True)
class Filters:
    """The filters every list takes."""

    feed: str | None
    language: str | None
    since: datetime | None
    until: datetime | None
    limit: int
    cursor: str | None


def filters(
    feed: Annotated[str | None, Query(description="only items this feed carried")] = None,
    language: Annotated[
        str | None, Query(description="ISO code (ar also takes ar-SA); none: unknown")
    ] = None,
    since: Annotated[str | None, Query(description="ISO date or age (7d)")] = None,
    until: Annotated[str | None, Query(description="ISO date or age, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="the next_cursor of the previous page")] = None,
) -> Filters:
    if language and not _LANGUAGE.match(language):
        raise bad("language", f"{language!r} is not a language code such as en, ar or pt-BR")
    start, end = parse_when("since", since), parse_when("until", until)
    if start and end and start >= end:
        raise bad("until", "must be later than since")
    return Filters(
        feed=feed or None,
        language=language or None,
        since=start,
        until=end,
        limit=limit,
        cursor=cursor or None,
    )


FiltersDep = Annotated[Filters, Depends(filters)]
