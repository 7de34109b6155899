"""The storage handle: an engine, a session factory and one repository per domain."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import sessionmaker

from monitor.config import Settings
from monitor.storage import engine as engine_module
from monitor.storage.alerts import AlertRepository
from monitor.storage.config_version import ConfigVersionRepository
from monitor.storage.dedup import DedupPolicy
from monitor.storage.digests import DigestRepository
from monitor.storage.entries import EntryRepository
from monitor.storage.feeds import FeedRepository
from monitor.storage.items import ItemRepository
from monitor.storage.matches import MatchRepository
from monitor.storage.retention import RetentionRepository
from monitor.storage.reviews import ReviewRepository
from monitor.storage.search import SearchRepository
from monitor.storage.stats import StatsRepository
from monitor.storage.workers import WorkerRepository


class Store:
    """Open with :meth:`open`; ``store.feeds``, ``.items``, ``.matches`` and ``.entries``
    do the work."""

    def __init__(self, url: str, dedup: DedupPolicy | None = None) -> None:
        self.url = url
        self.engine = engine_module.make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.feeds = FeedRepository(self._sessions)
        self.items = ItemRepository(self._sessions, dedup)
        self.matches = MatchRepository(self._sessions)
        self.reviews = ReviewRepository(self._sessions)
        self.alerts = AlertRepository(self._sessions)
        self.digests = DigestRepository(self._sessions)
        self.entries = EntryRepository(self._sessions)
        self.stats = StatsRepository(self._sessions)  # /healthz and /metrics
        self.config_version = ConfigVersionRepository(self._sessions, self.feeds)
        self.retention = RetentionRepository(self._sessions)
        self.search = SearchRepository(self._sessions)
        self.workers = WorkerRepository(self._sessions)

    @classmethod
    def open(cls, url: str, migrate: bool = True, dedup: DedupPolicy | None = None) -> Store:
        store = cls(url, dedup)
        if migrate:
            store.upgrade()
        return store

    @classmethod
    def from_settings(cls, settings: Settings, migrate: bool = True) -> Store:
        """The store ``feeds.yaml`` describes, with its ``dedup:`` policy."""
        policy = DedupPolicy(
            threshold=settings.dedup.near_duplicate_threshold,
            min_words=settings.dedup.min_words,
        )
        return cls.open(settings.database_url, migrate=migrate, dedup=policy)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        engine_module.upgrade(self.engine, revision)

    def downgrade(self, revision: str) -> None:
        engine_module.downgrade(self.engine, revision)

    def current_revision(self) -> str | None:
        return engine_module.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_transient(error: BaseException) -> bool:
    """True when ``error`` says the database is unreachable or busy, not that a row is wrong:
    the work is to be done again later, not recorded as failed."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    )
