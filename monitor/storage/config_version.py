"""Which version of ``feeds.yaml`` the database follows, so that workers agree.

Several workers share one database, each with a ``feeds.yaml`` of its own.  Each
one syncing its file into the feeds table would let a worker with an old file
switch off the feeds a newer file added, and the next one switch them on again.
So the database records the version it follows (table ``service_state``, key
``config_version``), and a worker syncs its feeds only when its file is that
version or newer; an older one says so once and polls what the database lists.

A version is the file's content hash plus an ordering key: ``(config_version:,
modification time)``.  A file without ``config_version:`` counts as number 0,
so once an operator numbers the files, unnumbered copies are older; equal
numbers are ordered by modification time, so editing a numbered file without
bumping the number still takes effect.  Same content is always in agreement.

The check and the record are one compare-and-set: on PostgreSQL the row is
locked (``SELECT ... FOR UPDATE``) for the whole sync, so two workers cannot
interleave; SQLite has one writer at a time, which serialises them already.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.storage._sql import insert_ignore
from monitor.storage.schema import Feed, ServiceState

if TYPE_CHECKING:
    from monitor.storage.feeds import FeedRepository

log = logging.getLogger(__name__)
KEY = "config_version"


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """One version of a configuration file: what it holds and where it stands in order."""

    digest: str  # sha256 of the file's bytes
    number: int | None  # its top-level config_version:, if any
    modified_ns: int  # its modification time, nanoseconds since the epoch
    path: str = ""

    @classmethod
    def of_file(cls, path: Path, number: int | None, data: bytes | None = None) -> ConfigVersion:
        """The version of ``path`` (``data``: its bytes, when the caller has read them)."""
        stat = path.stat()
        content = path.read_bytes() if data is None else data
        return cls(hashlib.sha256(content).hexdigest(), number, stat.st_mtime_ns, str(path))

    @property
    def key(self) -> tuple[int, int]:
        return (self.number or 0, self.modified_ns)

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.modified_ns / 1e9, UTC)

    def describe(self) -> str:
        number = f"config_version {self.number}, " if self.number is not None else ""
        return f"{number}modified {self.modified:%Y-%m-%d %H:%M:%S} UTC"

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "number": self.number,
            "modified_ns": self.modified_ns,
            "path": self.path,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ConfigVersion | None:
        if not value.get("digest"):
            return None
        return cls(
            str(value["digest"]),
            value.get("number"),
            int(value.get("modified_ns") or 0),
            str(value.get("path") or ""),
        )


@dataclass(frozen=True, slots=True)
class Followed:
    """The version the database follows, and who recorded it when."""

    version: ConfigVersion
    updated_at: datetime
    updated_by: str | None


class Verdict(Enum):
    SYNCED = "synced"  # this version is the database's now; the feeds were synced
    CURRENT = "current"  # this worker already synced this very content: nothing to do
    OLDER = "older"  # the database follows a newer version: not synced


@dataclass(frozen=True, slots=True)
class FollowResult:
    verdict: Verdict
    before: Followed | None  # what the database followed before

    @property
    def synced(self) -> bool:
        return self.verdict is Verdict.SYNCED


def decide(mine: ConfigVersion, theirs: Followed | None, worker: str) -> Verdict:
    """Whether ``worker`` with version ``mine`` may sync over ``theirs`` (pure)."""
    if theirs is None:
        return Verdict.SYNCED
    if mine.digest == theirs.version.digest:
        return Verdict.CURRENT if theirs.updated_by == worker else Verdict.SYNCED
    return Verdict.OLDER if mine.key < theirs.version.key else Verdict.SYNCED


class ConfigVersionRepository:
    """The configuration version the database follows (``store.config_version``)."""

    def __init__(self, sessions: sessionmaker[Session], feeds: FeedRepository) -> None:
        self._sessions = sessions
        self._feeds = feeds
        self._refused: set[tuple[str, str]] = set()  # (mine, theirs): warned already

    def current(self) -> Followed | None:
        with self._sessions() as session:
            row = session.get(ServiceState, KEY)
            return _followed(row)

    def sync_feeds(
        self,
        settings: Settings,
        owner: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> FollowResult:
        """Sync ``settings.feeds`` into the feeds table through the version gate: only when
        this feeds.yaml is the version the database follows or newer (recorded then).
        Every command that syncs the feeds goes through here, so none undoes a newer file;
        ``owner`` is the worker (this process by default)."""
        from monitor.workers import worker_id

        now = clock or (lambda: datetime.now(UTC))
        try:
            version = ConfigVersion.of_file(settings.config_path, settings.config_version)
        except OSError:  # the file is gone: its version is unknown, so it counts as the oldest
            version = ConfigVersion("", settings.config_version, 0, str(settings.config_path))
        return self.follow(
            version,
            owner or worker_id(),
            now(),
            lambda: self._feeds.sync(settings.feeds, now()),
        )

    def follow(
        self, version: ConfigVersion, worker: str, now: datetime, sync: Callable[[], None]
    ) -> FollowResult:
        """Run ``sync`` (the feeds' sync) and record ``version`` as the database's, unless
        the database follows a newer one (then warn, once per pair of versions)."""
        with self._sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            if postgres:  # a row to lock, even on the first sync of all
                session.execute(
                    insert_ignore(session, ServiceState).values(
                        key=KEY, value={}, updated_at=now, updated_by=None
                    )
                )
            query = select(ServiceState).where(ServiceState.key == KEY)
            row = session.scalars(query.with_for_update() if postgres else query).one_or_none()
            before = _followed(row)
            verdict = decide(version, before, worker)
            if verdict is Verdict.OLDER and before is not None:
                self._warn_older(version, before)
            if verdict is not Verdict.SYNCED:
                return FollowResult(verdict, before)
            if postgres:  # the row stays locked while the feeds are synced
                sync()
                _record(session, row, version, worker, now)
                return FollowResult(verdict, before)
        sync()  # SQLite: one writer at a time; the check above and this are not interleaved
        with self._sessions.begin() as session:
            _record(session, session.get(ServiceState, KEY), version, worker, now)
        return FollowResult(verdict, before)

    def bring_forward(self, intervals: Mapping[str, int], now: datetime) -> list[str]:
        """Feeds whose interval a reload shortened (name -> new seconds): their next poll,
        scheduled with the old interval, is brought forward to the last poll plus the new
        one (or now), so the shorter interval takes effect at once, not after the old one
        ran out.  Returns the names of the feeds moved."""
        if not intervals:
            return []
        moved: list[str] = []
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(Feed).where(Feed.name.in_(list(intervals)), Feed.active.is_(True))
            )
            for feed in rows:
                if feed.next_fetch_at is None or feed.last_fetched_at is None:
                    continue
                due = max(now, feed.last_fetched_at + timedelta(seconds=intervals[feed.name]))
                if due < feed.next_fetch_at:
                    feed.next_fetch_at = due
                    moved.append(feed.name)
        return moved

    def _warn_older(self, version: ConfigVersion, before: Followed) -> None:
        pair = (version.digest, before.version.digest)
        if pair in self._refused:
            return
        self._refused.add(pair)
        log.warning(
            "feeds.yaml here (%s, %s) is older than the version the database follows "
            "(%s), written by %s at %s; not syncing feeds, polling the feeds the database "
            "lists; update this file (copy the newer one, or raise its config_version:)",
            version.path,
            version.describe(),
            before.version.describe(),
            before.updated_by or "an unknown worker",
            f"{before.updated_at:%Y-%m-%d %H:%M:%S} UTC",
        )


def _followed(row: ServiceState | None) -> Followed | None:
    if row is None:
        return None
    version = ConfigVersion.from_json(row.value or {})
    if version is None:
        return None
    at = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return Followed(version, at, row.updated_by)


def _record(
    session: Session, row: ServiceState | None, version: ConfigVersion, worker: str, now: datetime
) -> None:
    if row is None:
        session.add(
            ServiceState(key=KEY, value=version.to_json(), updated_at=now, updated_by=worker)
        )
        return
    row.value = version.to_json()
    row.updated_at = now
    row.updated_by = worker[:200]
