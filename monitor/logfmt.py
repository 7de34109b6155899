"""Log lines as JSON objects (``service.log_format: json``), and naming feeds and items.

A log collector (journald, Loki, Elasticsearch) reads one JSON object a line
without a parser of our text format: ``time`` (UTC, ISO 8601), ``level``,
``logger``, ``message``, and ``feed`` / ``item`` when the call names them.

A call names them with :func:`about` (``log.info("...", extra=about(feed=name))``),
or by the convention the pipeline's messages already follow, ``"feed %r: ..."``
and ``"feed %r: item %d ..."``, which the formatter reads from the call's
arguments (never from the rendered text, which quotes feed-supplied strings).
This module imports nothing heavy: every command may use it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

FEED_FIELD = "feed"
ITEM_FIELD = "item"
_NAMED = re.compile(r"^feed %[rs](?:: item %[dsr])?")


def about(feed: str | None = None, item: int | str | None = None) -> dict[str, Any]:
    """The ``extra=`` of a log call about ``feed`` and/or ``item`` (an item id or URL)."""
    fields: dict[str, Any] = {}
    if feed is not None:
        fields[FEED_FIELD] = feed
    if item is not None:
        fields[ITEM_FIELD] = item
    return fields


def named(record: logging.LogRecord) -> dict[str, Any]:
    """The feed and item a record names: its ``extra=`` fields, else the message convention."""
    found: dict[str, Any] = {}
    for key in (FEED_FIELD, ITEM_FIELD):
        value = getattr(record, key, None)
        if value is not None:
            found[key] = value
    if found or not isinstance(record.msg, str) or not isinstance(record.args, tuple):
        return found
    match = _NAMED.match(record.msg)
    if match is None or not record.args or not isinstance(record.args[0], str):
        return found
    found[FEED_FIELD] = record.args[0]
    if ": item " in match.group() and len(record.args) > 1:
        item = record.args[1]
        if isinstance(item, int | str) and not isinstance(item, bool):
            found[ITEM_FIELD] = item
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(named(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # ASCII only: U+2028 and the like would split the line for tools that read lines
        return json.dumps(line, ensure_ascii=True, default=str)
