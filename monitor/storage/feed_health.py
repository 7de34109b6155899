"""Feed health for the web console: when each feed's items arrived, for a chart per day.

``FeedRepository.health`` and ``details`` already say each feed's state and
history; what the console adds is *items per day*.  Days are the user's days
(their zone comes from the browser), which SQL cannot group by portably, so
this returns the arrival times of the last few days and the console buckets
them (monitor.web.views.day_buckets).  One row per item and feed, only within
the window: a few thousand rows a day at the loads monitor is built for.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from monitor.storage.schema import Feed, FeedItem


class FeedHealthQueries:
    """Over a store's engine (``FeedHealthQueries(store.engine)``): read-only."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine)

    def arrivals(self, since: datetime, feed: str | None = None) -> dict[str, list[datetime]]:
        """Feed name -> when each of its items was first seen since ``since``, oldest
        first (an item carried by two feeds counts for both)."""
        query = (
            select(Feed.name, FeedItem.first_seen_at)
            .join(Feed, Feed.id == FeedItem.feed_id)
            .where(FeedItem.first_seen_at >= since)
            .order_by(FeedItem.first_seen_at)
        )
        if feed is not None:
            query = query.where(Feed.name == feed)
        found: defaultdict[str, list[datetime]] = defaultdict(list)
        with self._sessions() as session:
            for name, seen in session.execute(query):
                found[name].append(seen)
        return dict(found)
