"""Re-extraction of stored pages, for when trafilatura or its settings improve.

The stored item stands in for the feed entry, so fields the page does not
provide keep the values they had.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from monitor.config import Settings
from monitor.pipeline.assemble import assemble
from monitor.pipeline.extract import EXTRACTOR_VERSION, decompress, extract_page
from monitor.pipeline.types import Extraction
from monitor.pool import make_pool, worker_count
from monitor.storage import Store
from monitor.storage.items import StoredPage


def _extract(page: StoredPage) -> tuple[StoredPage, Extraction]:
    return page, extract_page(decompress(page.html_z), page.url, page.charset, keep_raw=False)


def reextract(
    settings: Settings, store: Store, ids: Sequence[int] | None = None, everything: bool = False
) -> tuple[int, int]:
    """Re-extract the given items, all items, or those from an older extractor.

    Returns ``(changed, processed)``.
    """
    not_version = None if (ids or everything) else EXTRACTOR_VERSION
    pages = store.items.pages(ids=ids, not_version=not_version)
    changed = processed = 0
    with make_pool(worker_count(settings.extract.workers)) as pool:
        for page, extraction in pool.map(_extract, pages, chunksize=4):
            item = store.items.get(page.item_id)
            if item is None:
                continue
            entry = item.as_entry()
            draft = assemble(
                entry,
                None,
                extraction,
                feed_title=item.site_name,
                feed_language=item.language,
                full_text=True,
                now=datetime.now(UTC),
                future_skew=timedelta(seconds=settings.extract.future_skew),
            )
            processed += 1
            changed += store.items.update_extraction(page.item_id, draft)
    return changed, processed
