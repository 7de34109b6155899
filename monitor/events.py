"""What the pipeline tells an observer as it works: the hooks behind ``/metrics``.

The orchestrator and the fetcher call these; the default does nothing, and the
service passes one that counts (:mod:`monitor.service.metrics`).  Calls come
from the poll's event loop thread and must be quick and never raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.pipeline.types import Fetched
    from monitor.reports import FeedReport, RunReport


class Events:
    """Receives what was done; subclass and override what you count."""

    def fetched(self, kind: str, fetched: Fetched) -> None:
        """One request finished; ``kind`` is ``"feed"`` or ``"page"``."""

    def worked(self, kind: str, seconds: float) -> None:
        """One task ran in the process pool: ``"feed"`` (parse) or ``"page"`` (extract)."""

    def feed_polled(self, report: FeedReport) -> None:
        """One feed's poll ended, whatever its outcome."""

    def run_done(self, report: RunReport) -> None:
        """A whole ``run_once`` (a tick) ended."""


NO_EVENTS = Events()
