"""lemon24/reader's side of ``bench.poll_304``: run by the interpreter of ``bench/.envs/reader``.

Not imported by monitor (reader lives in its own virtualenv, never in .venv).

    python bench/reader_peer.py setup DB URLS.json   # add the feeds, first update (200s)
    python bench/reader_peer.py cycle DB             # one update_feeds(workers=10), timed

``scheduled=False``: every feed now, not only those reader schedules (it would skip
feeds updated in the last hour and do nothing).

Each prints one JSON line: seconds spent in ``update_feeds``, feeds, entries.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from reader import make_reader  # type: ignore[import-not-found, unused-ignore]

WORKERS = 10


def main(argv: list[str]) -> int:
    mode, db = argv[0], argv[1]
    reader: Any = make_reader(db)
    if mode == "setup":
        for url in json.loads(Path(argv[2]).read_text(encoding="utf-8")):
            reader.add_feed(url, exist_ok=True)
    started = time.perf_counter()
    reader.update_feeds(workers=WORKERS, scheduled=False)  # every feed, as `run --once` does
    seconds = time.perf_counter() - started
    feeds = list(reader.get_feeds())
    errors = sum(1 for f in feeds if f.last_exception is not None)
    entries = reader.get_entry_counts().total
    reader.close()
    print(
        json.dumps({"seconds": seconds, "feeds": len(feeds), "errors": errors, "entries": entries})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
