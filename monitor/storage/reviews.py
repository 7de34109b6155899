"""Triage of matches: an analyst marks an item's matches in a watchlist reviewed or
dismissed, with a note; who and when are kept for every change.

The current state is one ``match_reviews`` row per (item, watchlist), absent
while the match is open; every change is appended to ``match_review_changes``
and never rewritten, so an overwritten note or an earlier state is not lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage._sql import chunks
from monitor.storage.schema import MatchReview, MatchReviewChange, WatchMatch

#: The states a match can be set to; ``open`` removes the review.
STATES: Final = ("reviewed", "dismissed", "open")
#: The ``review=`` filters of the match lists.
FILTERS: Final = ("all", "open", "reviewed", "dismissed")


@dataclass(frozen=True, slots=True)
class Review:
    item_id: int
    watchlist: str
    state: str  # reviewed | dismissed (| open, in a history)
    note: str | None
    by: str
    at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "item_id": self.item_id,
            "watchlist": self.watchlist,
            "state": self.state,
            "note": self.note,
            "by": self.by,
            "at": self.at.isoformat(),
        }


def check_state(state: str) -> str:
    if state not in STATES:
        raise ValueError(f"unknown review state {state!r}: use one of {', '.join(STATES)}")
    return state


def _review(row: MatchReview | MatchReviewChange) -> Review:
    return Review(row.item_id, row.watchlist, row.state, row.note, row.changed_by, row.changed_at)


def reviews_for(session: Session, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], Review]:
    """The current reviews of the (item id, watchlist) pairs ``keys`` (open ones absent)."""
    found: dict[tuple[int, str], Review] = {}
    for chunk in chunks(list(dict.fromkeys(keys)), 200):
        rows = session.scalars(
            select(MatchReview).where(
                tuple_(MatchReview.item_id, MatchReview.watchlist).in_(list(chunk))
            )
        )
        for row in rows:
            found[(row.item_id, row.watchlist)] = _review(row)
    return found


class ReviewRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def set(
        self,
        item_id: int,
        watchlist: str,
        state: str,
        *,
        by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> Review:
        """Mark ``item_id``'s matches in ``watchlist`` ``state`` (reviewed, dismissed, or
        open again), by ``by``.

        ``note=None`` keeps the note as it is, ``""`` removes it.  Returns the
        change as recorded.  Raises :class:`LookupError` when the item has no
        match in that watchlist (nothing to triage), :class:`ValueError` on a
        bad state or an empty ``by``."""
        check_state(state)
        if not by.strip():
            raise ValueError("a review needs who made it (by=)")
        at = now or datetime.now(UTC)
        with self._sessions.begin() as session:
            matched = session.scalar(
                select(WatchMatch.id)
                .where(WatchMatch.item_id == item_id, WatchMatch.watchlist == watchlist)
                .limit(1)
            )
            if matched is None:
                raise LookupError(
                    f"item {item_id} has no match in watchlist {watchlist!r}: nothing to review"
                )
            current = session.get(MatchReview, (item_id, watchlist), with_for_update=True)
            if note is None:
                note = current.note if current is not None else None
            elif not note.strip():
                note = None
            if state == "open":
                session.execute(
                    delete(MatchReview).where(
                        MatchReview.item_id == item_id, MatchReview.watchlist == watchlist
                    )
                )
            elif current is None:
                session.add(
                    MatchReview(
                        item_id=item_id,
                        watchlist=watchlist,
                        state=state,
                        note=note,
                        changed_by=by,
                        changed_at=at,
                    )
                )
            else:
                current.state, current.note = state, note
                current.changed_by, current.changed_at = by, at
            change = MatchReviewChange(
                item_id=item_id,
                watchlist=watchlist,
                state=state,
                note=note,
                changed_by=by,
                changed_at=at,
            )
            session.add(change)
            session.flush()
            return _review(change)

    def get(self, item_id: int, watchlist: str) -> Review | None:
        """The current review; None while the match is open (never triaged, or reopened)."""
        with self._sessions() as session:
            row = session.get(MatchReview, (item_id, watchlist))
            return _review(row) if row is not None else None

    def many(self, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], Review]:
        """The current reviews of many (item id, watchlist) pairs; open ones are absent."""
        with self._sessions() as session:
            return reviews_for(session, keys)

    def history(self, item_id: int, watchlist: str) -> list[Review]:
        """Every change, oldest first, ``open`` for a reopening."""
        with self._sessions() as session:
            rows = session.scalars(
                select(MatchReviewChange)
                .where(
                    MatchReviewChange.item_id == item_id,
                    MatchReviewChange.watchlist == watchlist,
                )
                .order_by(MatchReviewChange.id)
            )
            return [_review(r) for r in rows]
