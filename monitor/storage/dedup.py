"""Deduplication in the database: exact text copies, near-duplicate clusters, revisions.

Called by :class:`monitor.storage.items.ItemRepository` inside the
transaction that stores an item, so the checks and the insert see the same
state.  The similarity arithmetic is pure and lives in
:mod:`monitor.pipeline.sketch`; this module only reads and writes rows.

* **Exact copy**: a new URL whose normalised text hash is already stored (and
  whose text is long enough to mean something) is not a new item; the feed is
  linked to the stored one, with the new URL recorded as the entry's URL.
* **Near duplicate**: the new item's LSH band keys are probed in
  ``sketch_bands`` (primary-key lookups, independent of the table's size);
  the candidates sharing the most keys are checked on their signatures.
  Texts under ``min_words`` words are neither matched nor indexed: short
  teasers that share an outlet's paywall notice look alike by accident.  The
  new item joins the best match's cluster, ``duplicate_of`` naming that match;
  otherwise it starts its own.
* **Revision**: the same canonical URL with a different text hash replaces the
  item's text, keeping the previous text in ``item_revisions``.

Several workers may share one PostgreSQL: :func:`serialise_writers` makes
their item-storing transactions take turns (a transaction-scoped advisory
lock), so two copies of one story stored at the same instant still see each
other and land in one cluster.  Storing is a few milliseconds an item against
tens for extraction, so the turns cost the workers little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from monitor.pipeline.sketch import SKETCH_VERSION, Candidate, Sketch, best_match
from monitor.pipeline.types import ItemDraft
from monitor.storage.schema import Item, ItemRevision, ItemSketch, SketchBand


@dataclass(frozen=True, slots=True)
class DedupPolicy:
    """``dedup:`` settings as the storage layer needs them."""

    threshold: float = 0.5
    min_words: int = 40


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new item goes: its cluster, and the item it copies (if any)."""

    cluster_id: int | None
    duplicate_of: int | None
    similarity: float | None


MAX_CANDIDATES = 32
WRITER_LOCK = 0x6D6F6E69746F72  # "monitor": the advisory lock key of item-storing transactions
_TAKE_WRITER_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=WRITER_LOCK)


def serialise_writers(session: Session) -> None:
    """Wait for other workers' item-storing transactions to commit (PostgreSQL).

    Called first in a transaction that stores items; the lock is released at
    its commit or rollback.  Under READ COMMITTED every later statement of the
    transaction sees what the previous holder stored.  SQLite needs nothing:
    it has one writer at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_TAKE_WRITER_LOCK)


# Built once: the hot path only binds parameters (SQLAlchemy's compiled cache is hit
# without re-building statements and their cache keys for every item).
_SAME_TEXT = (
    select(Item.id).where(Item.content_hash == bindparam("hash")).order_by(Item.id).limit(1)
)
_SHARED = func.count().label("shared")
_RANKED = (
    select(SketchBand.item_id, _SHARED)
    .where(
        SketchBand.bucket.in_(bindparam("keys", expanding=True)),
        SketchBand.item_id != bindparam("exclude"),
    )
    .group_by(SketchBand.item_id)
    .order_by(_SHARED.desc(), SketchBand.item_id)
    .limit(MAX_CANDIDATES)
)
_SIGNATURES = (
    select(ItemSketch.item_id, Item.cluster_id, ItemSketch.signature)
    .join(Item, Item.id == ItemSketch.item_id)
    .where(
        ItemSketch.item_id.in_(bindparam("ids", expanding=True)),
        ItemSketch.version == SKETCH_VERSION,
    )
)
_ASSIGN = (
    update(Item)
    .where(Item.id == bindparam("item_id"))
    .values(
        cluster_id=bindparam("cluster_id"),
        duplicate_of=bindparam("duplicate_of"),
        similarity=bindparam("similarity"),
    )
)


def exact_copy(session: Session, draft: ItemDraft, policy: DedupPolicy) -> int | None:
    """The stored item with the same normalised text, if the text is an article's.

    A feed's description is not: a video channel gives every entry the same
    boilerplate, and different entries must not be merged by it however long
    it is; nor are texts under ``min_words``."""
    if not draft.content_hash or draft.word_count < policy.min_words:
        return None
    if draft.extraction_method in ("feed-summary", "none"):
        return None
    return session.connection().scalar(_SAME_TEXT, {"hash": draft.content_hash})


def candidates(session: Session, sketch: Sketch, exclude: int | None = None) -> list[Candidate]:
    """Stored items sharing band keys with ``sketch``, those sharing the most first.

    A copy of a story shares most of its 32 band keys (about 32 * J**4); an
    unrelated article from an outlet with a long fixed footer shares one or
    two.  Ranking by shared keys in SQL and verifying only the best
    :data:`MAX_CANDIDATES` keeps the Python side of a lookup bounded however
    many items carry the same footer."""
    conn = session.connection()  # Core execution: no ORM overhead on the hot path
    keys = {"keys": list(sketch.bands), "exclude": -1 if exclude is None else exclude}
    ids = [item_id for item_id, _ in conn.execute(_RANKED, keys)]
    if not ids:
        return []
    rows = conn.execute(_SIGNATURES, {"ids": ids})
    return [Candidate(item_id, cluster_id, bytes(sig)) for item_id, cluster_id, sig in rows]


def place(
    session: Session, sketch: Sketch | None, policy: DedupPolicy, exclude: int | None = None
) -> Placement:
    """The cluster a text belongs to, from the stored sketches that resemble it."""
    if sketch is None or sketch.words < policy.min_words:
        return Placement(None, None, None)
    found = best_match(sketch, candidates(session, sketch, exclude), policy.threshold)
    if found is None:
        return Placement(None, None, None)
    match, score = found
    return Placement(match.cluster_id or match.item_id, match.item_id, score)


def save_sketch(
    session: Session,
    item_id: int,
    sketch: Sketch | None,
    policy: DedupPolicy,
    replace: bool = False,
) -> None:
    """Index ``sketch`` for ``item_id`` (texts under ``min_words`` are not indexed);
    ``replace`` drops the item's previous sketch first (a revision)."""
    conn = session.connection()
    if replace:
        conn.execute(delete(SketchBand).where(SketchBand.item_id == item_id))
        conn.execute(delete(ItemSketch).where(ItemSketch.item_id == item_id))
    if sketch is None or sketch.words < policy.min_words:
        return
    conn.execute(
        insert(ItemSketch),
        [{"item_id": item_id, "signature": sketch.signature, "version": SKETCH_VERSION}],
    )
    conn.execute(
        insert(SketchBand), [{"bucket": key, "item_id": item_id} for key in set(sketch.bands)]
    )


def assign(session: Session, item_id: int, placement: Placement) -> None:
    session.connection().execute(
        _ASSIGN,
        {
            "item_id": item_id,
            "cluster_id": placement.cluster_id or item_id,
            "duplicate_of": placement.duplicate_of,
            "similarity": placement.similarity,
        },
    )


def revise(
    session: Session, item_id: int, draft: ItemDraft, now: datetime, policy: DedupPolicy
) -> bool:
    """Replace a stored item's text by a changed one, keeping the old; False if unchanged.

    Only a page extraction revises a page extraction: a feed summary seen
    later is not a new version of the article."""
    item = session.get(Item, item_id, with_for_update=session.bind.dialect.name != "sqlite")  # type: ignore[union-attr]
    if item is None or not draft.text or draft.content_hash == item.content_hash:
        return False
    if item.extraction_method == "trafilatura" and draft.extraction_method != "trafilatura":
        return False
    session.add(
        ItemRevision(
            item_id=item.id,
            number=item.revision,
            title=item.title,
            text=item.text,
            content_hash=item.content_hash,
            word_count=item.word_count,
            extractor_version=item.extractor_version,
            fetched_at=item.fetched_at,
            replaced_at=now,
        )
    )
    item.revision += 1
    item.title = draft.title or item.title
    item.text = draft.text
    item.content_hash = draft.content_hash
    item.word_count = draft.word_count
    item.summary = draft.summary or item.summary
    item.updated_at = draft.updated_at or now
    item.extraction_method = draft.extraction_method
    item.extractor_version = draft.extractor_version
    item.field_sources = draft.field_sources
    item.fetched_at = now
    session.flush()
    save_sketch(session, item.id, draft.sketch, policy, replace=True)
    if item.cluster_id == item.id or item.cluster_id is None:
        return True  # a representative keeps its cluster; its copies still point at it
    assign(session, item.id, place(session, draft.sketch, policy, exclude=item.id))
    return True


def cluster_members(session: Session, cluster_ids: Sequence[int]) -> dict[int, list[int]]:
    members: dict[int, list[int]] = {}
    if not cluster_ids:
        return members
    rows = session.execute(
        select(Item.cluster_id, Item.id).where(Item.cluster_id.in_(cluster_ids)).order_by(Item.id)
    )
    for cluster_id, item_id in rows:
        if cluster_id is not None:
            members.setdefault(cluster_id, []).append(item_id)
    return members
