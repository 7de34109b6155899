"""What a poll did: per feed and for the whole run (the orchestrator's output)."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.pipeline.types import Outcome


@dataclass(slots=True)
class FeedReport:
    """What one poll of one feed did."""

    name: str
    outcome: Outcome = Outcome.OK
    status: int | None = None
    error: str | None = None
    entries: int = 0
    new: int = 0
    seen: int = 0
    linked: int = 0
    revised: int = 0
    duplicates: int = 0
    matched: int = 0
    page_failures: int = 0
    pages_pending: int = 0  # stored with the feed's text; their pages will be fetched again
    rejected: int = 0  # recorded as not stored, with the reason (entry_rejections)
    deferred: int = 0  # not worked in this poll (budget, stop, database): read again next poll
    duration: float = 0.0

    @property
    def failed(self) -> bool:
        return self.outcome.is_failure

    @property
    def complete(self) -> bool:
        """Every new entry of the document was stored or recorded as not stored."""
        return self.deferred == 0


@dataclass(slots=True)
class PageReport:
    """What the page-retry phase did: pages fetched again, and what became of them."""

    tried: int = 0
    upgraded: int = 0
    rescheduled: int = 0
    given_up: int = 0


@dataclass(slots=True)
class RunReport:
    feeds: list[FeedReport] = field(default_factory=list)
    elapsed: float = 0.0
    pages: PageReport = field(default_factory=PageReport)
    stopped: bool = False  # a stop was requested (SIGTERM): unfinished work was left for later

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.failed]

    @property
    def new(self) -> int:
        return sum(f.new for f in self.feeds)

    @property
    def seen(self) -> int:
        return sum(f.seen + f.linked for f in self.feeds)

    @property
    def revised(self) -> int:
        return sum(f.revised for f in self.feeds)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.feeds)

    @property
    def matched(self) -> int:
        return sum(f.matched for f in self.feeds)
