"""Configuration reload: a changed ``feeds.yaml`` is applied without a restart.

The file is re-read on SIGHUP and, every ``service.reload_check`` seconds (0: on
SIGHUP only), when it changed.  A check is cheap: the file is stat'ed, and read
and hashed only when its modification time, size or inode changed; it is
parsed only when its content hash is new.

* A valid file: its feeds are synced (new feeds start, removed ones become
  inactive and their items stay, changed intervals take effect from their next
  poll) through the configuration version gate
  (:mod:`monitor.storage.config_version`), then :meth:`Service.apply` hands the
  new settings (watchlists, fetch settings, ...) to the next tick and to every
  component.  One INFO line says what changed.
* An invalid file: the running configuration stays; every problem is logged
  with its line, once per content (a check does not repeat it every second).
* ``database``, ``extract.workers`` and ``service.http`` are bound at start
  (the engine, the process pool, the listening socket): a change of them is
  logged as needing a restart, and the running values are kept.

The SIGHUP handler only sets a flag: a signal handler runs between two bytecodes
of the main thread, which may hold any lock at that moment, so it must take none.
A scheduler job looks at the flag every second and does the work.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.storage import is_transient
from monitor.storage.config_version import ConfigVersion, Verdict

if TYPE_CHECKING:
    from monitor.service.core import Service

log = logging.getLogger(__name__)

RELOAD_JOB = "reload-config"
WAKE_SECONDS = 1  # how often the job looks at the SIGHUP flag and the check interval
NAMES_SHOWN = 10  # names per list in the log line; the rest are counted
OTHER_SECTIONS = ("fetch", "extract", "dedup", "schedule", "service", "housekeeping", "smtp")
Handler = Callable[[int, FrameType | None], Any] | int | None


@dataclass(frozen=True, slots=True)
class Changes:
    """What a new configuration changes, by name (pure data, for the log line)."""

    feeds_added: tuple[str, ...] = ()
    feeds_removed: tuple[str, ...] = ()
    feeds_changed: tuple[str, ...] = ()  # "name (field, field)"
    watchlists_added: tuple[str, ...] = ()
    watchlists_removed: tuple[str, ...] = ()
    watchlists_changed: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # other top-level sections that changed
    restart: tuple[str, ...] = ()  # keys that need a restart (their old values are kept)

    def summary(self) -> str:
        parts = [
            f"{label}: {_names(names)}"
            for label, names in (
                ("feeds added", self.feeds_added),
                ("feeds removed", self.feeds_removed),
                ("feeds changed", self.feeds_changed),
                ("watchlists added", self.watchlists_added),
                ("watchlists removed", self.watchlists_removed),
                ("watchlists changed", self.watchlists_changed),
                ("settings changed", self.sections),
            )
            if names
        ]
        return "; ".join(parts) or "no change to feeds, watchlists or settings"


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def keep_restart_only(old: Settings, new: Settings) -> tuple[Settings, tuple[str, ...]]:
    """``new`` with the running values of the keys a reload cannot change, and their names."""
    restart = tuple(
        key
        for key, changed in (
            ("database", old.database_url != new.database_url),
            ("extract.workers", old.extract.workers != new.extract.workers),
            ("service.http", old.service.http != new.service.http),
        )
        if changed
    )
    kept = new.model_copy(
        update={
            "database_url": old.database_url,
            "extract": new.extract.model_copy(update={"workers": old.extract.workers}),
            "service": new.service.model_copy(update={"http": old.service.http}),
        }
    )
    return kept, restart


def changes(old: Settings, new: Settings, restart: tuple[str, ...] = ()) -> Changes:
    """What changes from ``old`` to ``new`` (feeds and watchlists matched by name)."""
    old_feeds = {f.name: f.model_dump() for f in old.feeds}
    new_feeds = {f.name: f.model_dump() for f in new.feeds}
    changed_feeds = []
    for name, fields in new_feeds.items():
        before = old_feeds.get(name)
        if before is not None and before != fields:
            diff = ", ".join(k for k in fields if fields[k] != before.get(k))
            changed_feeds.append(f"{name} ({diff})")
    old_lists = {w.name: w for w in old.watchlists}
    new_lists = {w.name: w for w in new.watchlists}
    return Changes(
        feeds_added=tuple(n for n in new_feeds if n not in old_feeds),
        feeds_removed=tuple(n for n in old_feeds if n not in new_feeds),
        feeds_changed=tuple(changed_feeds),
        watchlists_added=tuple(n for n in new_lists if n not in old_lists),
        watchlists_removed=tuple(n for n in old_lists if n not in new_lists),
        watchlists_changed=tuple(
            n for n, w in new_lists.items() if n in old_lists and old_lists[n] != w
        ),
        sections=tuple(key for s in OTHER_SECTIONS for key in _changed(s, old, new)),
        restart=restart,
    )


def _changed(section: str, old: Settings, new: Settings) -> list[str]:
    """The keys of ``section`` that differ, as ``section.key`` (the section when it is
    added or removed as a whole)."""
    before, after = getattr(old, section), getattr(new, section)
    if before == after:
        return []
    if not isinstance(before, BaseModel) or not isinstance(after, BaseModel):
        return [section]
    return [
        f"{section}.{key}"
        for key in type(after).model_fields
        if getattr(before, key) != getattr(after, key)
    ]


def _shortened(old: Settings, new: Settings) -> dict[str, int]:
    """The feeds whose interval ``new`` makes shorter: name -> new interval (seconds)."""
    before = {f.name: f.interval for f in old.feeds}
    return {f.name: f.interval for f in new.feeds if f.interval < before.get(f.name, 0)}


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ConfigReloader:
    """The reload component (see the module doc)."""

    name = "reload"

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.path = settings.config_path
        self.reloads = 0  # configurations applied, for tests and the log
        self._clock = clock
        self._every = settings.service.reload_check
        # SIGHUPs received (written by the handler only) and handled (by the job only):
        # two counters, so a signal between the job's read and write is not lost
        self._hups = 0
        self._hups_seen = 0
        self._service: Service | None = None
        self._previous: Handler = None
        self._stat = _stat(self.path)
        self._applied = self._read_digest()
        self._refused: str | None = None  # the broken content last logged
        self._last_check = clock()

    def _read_digest(self) -> str | None:
        try:
            return _digest(self.path.read_bytes())
        except OSError:
            return None

    # -- the component -----------------------------------------------------------

    def start(self, service: Service) -> None:
        self._service = service
        self._previous = signal.signal(signal.SIGHUP, self._on_hup)
        service.scheduler.add_job(
            self._job,
            "interval",
            seconds=WAKE_SECONDS,
            id=RELOAD_JOB,
            max_instances=1,
            coalesce=True,
        )
        every = f", and when it changed (checked every {self._every}s)" if self._every else ""
        log.info("reload: %s is re-read on SIGHUP%s", self.path, every)

    def reconfigure(self, settings: Settings) -> None:
        self.settings = settings
        self._every = settings.service.reload_check

    def stop(self) -> None:
        if self._service is not None:
            signal.signal(signal.SIGHUP, self._previous or signal.SIG_DFL)

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._hups += 1  # no lock, no logging, no I/O: see the module doc

    def _job(self) -> None:
        hups = self._hups
        hup, self._hups_seen = hups != self._hups_seen, hups
        now = self._clock()
        if not hup and (not self._every or now - self._last_check < self._every):
            return
        self._last_check = now
        try:
            self.check(forced=hup)
        except Exception as exc:
            if not is_transient(exc):
                log.exception(
                    "reload: could not apply %s; the running configuration stays (save the "
                    "file again or send SIGHUP to retry)",
                    self.path,
                )
                return
            self._stat = None  # read it again at the next check
            log.error(
                "reload: database unreachable (%s); the running configuration stays, the "
                "reload is tried again %s",
                exc,
                f"in {self._every}s" if self._every else "on the next SIGHUP",
            )

    # -- the work ----------------------------------------------------------------

    def check(self, *, forced: bool = False) -> bool:
        """Re-read the file if it changed (or ``forced``: SIGHUP); True when applied."""
        why = "SIGHUP" if forced else "file changed"
        stat = _stat(self.path)
        if stat == self._stat and not forced:
            return False
        self._stat = stat
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            digest = f"unreadable: {exc}"
            if forced or digest != self._refused:
                self._refused = digest
                log.error(
                    "reload (%s): cannot read %s (%s); the running configuration stays. "
                    "Restore the file, then send SIGHUP or wait for the next check",
                    why,
                    self.path,
                    exc.strerror or exc,
                )
            return False
        digest = _digest(data)
        if digest == self._applied:
            if forced:
                log.info("reload (SIGHUP): %s unchanged; nothing to apply", self.path)
            return False
        if digest == self._refused and not forced:
            return False  # the same broken content: logged once already
        try:
            new = load_settings(self.path)
        except ConfigError as exc:
            self._refused = digest
            self._log_invalid(exc, why)
            return False
        if _digest(self._read_bytes_or_empty()) != digest:
            self._stat = None  # written while it was read: read it again at the next check
            return False
        self._apply(new, data, digest, why)
        return True

    def _read_bytes_or_empty(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError:
            return b""

    def _log_invalid(self, error: ConfigError, why: str) -> None:
        problems = error.problems or [str(error)]
        log.error(
            "reload (%s): %s is invalid, %d problem(s); the running configuration stays. "
            "Fix the file (monitor check shows the same), then save it or send SIGHUP",
            why,
            self.path,
            len(problems),
        )
        for problem in problems:
            log.error("reload: %s", problem)

    def _apply(self, new: Settings, data: bytes, digest: str, why: str) -> None:
        assert self._service is not None, "start() first"
        service = self._service
        old = self.settings
        kept, restart = keep_restart_only(old, new)
        if restart:
            log.warning(
                "reload (%s): %s changed in %s, which takes a restart of monitor run to "
                "take effect; the running value(s) are kept until then, the rest is applied",
                why,
                ", ".join(restart),
                self.path,
            )
        version = ConfigVersion.of_file(self.path, kept.config_version, data)
        store, now = service.store, service.clock()
        result = store.config_version.follow(
            version,
            service.orchestrator.owner,
            now,
            lambda: store.feeds.sync(kept.feeds, service.clock()),
        )
        what = changes(old, kept, restart)
        if result.synced:
            store.config_version.bring_forward(_shortened(old, kept), service.clock())
        service.apply(kept)
        self.settings = kept
        self._applied, self._refused = digest, None
        self.reloads += 1
        not_synced = (
            "; feeds NOT synced: the database follows a newer feeds.yaml (see the warning)"
            if result.verdict is Verdict.OLDER
            else ""
        )
        log.info("reload (%s): %s applied: %s%s", why, self.path, what.summary(), not_synced)
