"""CSV and JSON lines exports of a match list or a search, streamed page by page.

The first page is read before the response starts, so a bad parameter is still
a clean 4xx; the rest follow the cursor while the body streams.  CSV cells that
a spreadsheet would run as a formula get a leading apostrophe (as ``monitor
items export --spreadsheet`` does: a CSV from the console is opened in Excel);
JSON lines stay exact, for programs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi.responses import StreamingResponse

from monitor.cli.items import spreadsheet_safe

BATCH = 500  # rows read per page while exporting
MAX_ROWS = 100_000  # an export stops here (the last line says so in JSON lines)

MATCH_FIELDS = (
    "item_id", "watchlist", "title", "url", "feeds", "language", "published_at", "matched_at",
    "rules", "hits", "snippet", "state", "reviewed_by", "reviewed_at", "note",
)  # fmt: skip
SEARCH_FIELDS = (
    "id", "title", "url", "feeds", "language", "published_at", "hits", "snippet",
)  # fmt: skip
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _pages(
    first: Any, more: Callable[[str], Any], rows: Callable[[Any], list[Any]]
) -> Iterator[Any]:
    page, sent = first, 0
    while True:
        for row in rows(page):
            if sent >= MAX_ROWS:
                return
            yield row
            sent += 1
        if not page.next_cursor:
            return
        page = more(page.next_cursor)


def match_row(summary: Any) -> dict[str, Any]:
    row: dict[str, Any] = summary.as_dict()
    review = row.pop("review") or {}
    row.pop("spans", None)
    row["reviewed_by"], row["reviewed_at"] = review.get("by"), review.get("at")
    row["note"] = review.get("note")
    return row


def search_row(hit: Any) -> dict[str, Any]:
    item = hit.item
    return {
        "id": item.id,
        "title": item.title,
        "url": item.url,
        "feeds": list(item.feeds),
        "language": item.language,
        "published_at": item.published_at.isoformat() if item.published_at else None,
        "hits": hit.hits,
        "snippet": hit.snippet,
    }


def csv_lines(rows: Iterable[dict[str, Any]], fields: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        flat = {
            key: spreadsheet_safe("; ".join(v) if isinstance(v, list) else v)
            for key, v in row.items()
        }
        writer.writerow(flat)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def _response(
    format: str, rows: Iterable[dict[str, Any]], fields: tuple[str, ...], name: str
) -> StreamingResponse:
    lines = csv_lines(rows, fields) if format == "csv" else jsonl_lines(rows)
    safe_name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60] or "export"
    return StreamingResponse(
        lines,
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{safe_name}.{format}"'},
    )


def match_export(
    format: str, first: Any, more: Callable[[str], Any], name: str
) -> StreamingResponse:
    rows = (match_row(s) for s in _pages(first, more, lambda p: p.rows))
    return _response(format, rows, MATCH_FIELDS, name)


def search_export(format: str, first: Any, more: Callable[[str], Any]) -> StreamingResponse:
    rows = (search_row(h) for h in _pages(first, more, lambda p: p.hits))
    return _response(format, rows, SEARCH_FIELDS, "search")
