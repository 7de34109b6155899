"""Who holds a lease: worker identities, and whether a lease holder is gone.

A worker is ``host:pid:start`` where ``start`` is the process's start time in
clock ticks since boot (``/proc/PID/stat``, field 22), so a recycled pid is
not mistaken for the worker that held a lease.  A lease whose holder ran on
this host and is gone (killed with SIGKILL, crashed) is taken over at once; a
lease held on another host is taken once its holder's heartbeat is older than
:data:`SILENT_AFTER` (:func:`lease_holder_gone`), or when it expires (15
minutes) if its holder sends none (``run --once``).

Also here: the single-writer lock of SQLite (:func:`single_writer`) and the
registration of ``run --once`` processes (:func:`registered`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import StorageError

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.storage import Store
    from monitor.storage.config_version import ConfigVersion
    from monitor.storage.workers import WorkerInfo

log = logging.getLogger(__name__)


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def _host() -> str:
    return socket.gethostname()[:60]


def worker_id(pid: int | None = None) -> str:
    """This process's identity as a lease holder."""
    pid = os.getpid() if pid is None else pid
    return f"{_host()}:{pid}:{_start_time(pid) or '0'}"


def is_dead_local(owner: str) -> bool:
    """True when ``owner`` was a process of this host that no longer runs."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _host() or not parts[1].isdigit():
        return False
    pid, start = int(parts[1]), parts[2]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    current = _start_time(pid)
    return current is not None and start != "0" and current != start


# -- heartbeats: leases of workers on other hosts ----------------------------------------

HEARTBEAT_SECONDS = 5.0  # a service refreshes its row this often (monitor.service.heartbeat)
# A service silent for this long is taken for gone, and its leases for free: three missed
# heartbeats, but never less than 30 s, which absorbs a GC pause, a slow database and a
# few seconds of clock difference between machines (the bound compares their clocks).
SILENT_AFTER = timedelta(seconds=max(3 * HEARTBEAT_SECONDS, 30.0))


def lease_holder_gone(store: Store, now: datetime) -> Callable[[str], bool]:
    """The ``is_dead`` test of one claim: a holder of this host that no longer runs, or
    a worker the database knows to be gone (stopped, or a service silent for
    :data:`SILENT_AFTER`).  A ``run --once`` holder, which sends no heartbeat, and a
    holder without a row keep their leases until they expire.  Each holder is looked up
    once per claim, and only when it holds a live lease."""
    known: dict[str, bool] = {}

    def gone(owner: str) -> bool:
        if owner not in known:
            known[owner] = is_dead_local(owner) or store.workers.gone(owner, now, SILENT_AFTER)
        return known[owner]

    return gone


def config_label(settings: Settings) -> str | None:
    """This worker's feeds.yaml version as the ``workers`` row keeps it:
    ``NUMBER/MTIME_NS/DIGEST16`` (``-`` for no ``config_version:``); None when the
    file cannot be read.  :func:`compare_label` orders it against the database's."""
    from monitor.storage.config_version import ConfigVersion

    try:
        version = ConfigVersion.of_file(settings.config_path, settings.config_version)
    except OSError:
        return None
    number = "-" if version.number is None else str(version.number)
    return f"{number}/{version.modified_ns}/{version.digest[:16]}"


def parse_label(label: str | None) -> tuple[int | None, int, str] | None:
    """``(number, modified_ns, digest prefix)`` of a :func:`config_label`; None if not one."""
    parts = (label or "").split("/")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    number = None if parts[0] == "-" or not parts[0].isdigit() else int(parts[0])
    return number, int(parts[1]), parts[2]


def compare_label(label: str | None, followed: ConfigVersion | None) -> str:
    """``current``, ``older``, ``newer`` or ``unknown``: a worker's file against the
    version the database follows (ordered as :mod:`monitor.storage.config_version` does)."""
    parsed = parse_label(label)
    if parsed is None or followed is None:
        return "unknown"
    number, modified_ns, digest = parsed
    if digest and followed.digest.startswith(digest):
        return "current"
    return "older" if (number or 0, modified_ns) < followed.key else "newer"


def worker_info(mode: str, settings: Settings | None = None) -> WorkerInfo:
    """This process as it registers in the ``workers`` table."""
    from monitor import __version__
    from monitor.storage.workers import WorkerInfo

    return WorkerInfo(
        id=worker_id(),
        host=_host(),
        pid=os.getpid(),
        mode=mode,
        config_version=config_label(settings) if settings is not None else None,
        software=__version__,
    )


@contextmanager
def registered(store: Store, settings: Settings, mode: str = "once") -> Iterator[None]:
    """Register this process for the block (``monitor run --once``), marked stopped at
    its end.  Registration is for ``monitor status``; the run goes on without it if the
    database refuses (an outage is the run's to report)."""
    from monitor.storage import is_transient

    info = worker_info(mode, settings)
    try:
        store.workers.register(info, datetime.now(UTC))
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("could not register this worker (database unreachable: %s)", exc)
    try:
        yield
    finally:
        try:
            store.workers.stopped(info.id, datetime.now(UTC))
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("could not mark this worker stopped (database unreachable: %s)", exc)


# -- SQLite: one writer process ------------------------------------------------------------


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (as :func:`monitor.storage.engine.make_engine` opens
    it); None for other databases and in-memory ones."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.split("///", 1)[-1] if "///" in database_url else ""
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


class WriterBusy(StorageError):
    """Another ``monitor run`` has the SQLite database (exit status 1: nothing is wrong
    with the command or the file; it can run once the other process has ended)."""


def _holder(lock_file: Path) -> str:
    try:
        text = lock_file.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "a process that has not said which"


@contextmanager
def single_writer(database_url: str, mode: str, *, wait: float = 0.5) -> Iterator[None]:
    """Hold ``<database>.lock`` for the block, for ``monitor run`` on SQLite (a no-op
    on other databases).

    SQLite has one writer at a time, so one service per file: a service takes the
    lock exclusively, a ``run --once`` shares it.  A second service is refused
    (:class:`WriterBusy`); a ``run --once`` beside a service is refused too (the
    service polls what is due, and two writers would wait on each other's
    transactions); a service waits for ``run --once`` processes to end, then
    starts.  The lock is ``flock``'s: the kernel drops it when the process ends,
    however it ends, so a service killed with SIGKILL does not block its restart.
    """
    path = sqlite_path(database_url)
    if path is None:
        yield
        return
    lock_file = path.with_name(path.name + ".lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
    try:
        if mode == "service":
            _lock_for_service(fd, path, lock_file, wait)
        else:
            _lock_for_once(fd, path, lock_file)
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock_for_service(fd: int, path: Path, lock_file: Path, wait: float) -> None:
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pass
        try:  # shared: only `run --once` processes hold it; exclusive: a service does
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WriterBusy(
                f"another `monitor run` service already runs on the SQLite database {path} "
                f"({_holder(lock_file)}; lock file {lock_file}). SQLite takes one writer, "
                "so one service per database file: stop the other one first "
                "(systemctl stop monitor, or SIGTERM), or move to PostgreSQL to run "
                "several workers (docs/deploy/README.md)"
            ) from None
        fcntl.flock(fd, fcntl.LOCK_UN)
        if not waiting:
            log.warning(
                "waiting for `monitor run --once` on %s to finish before starting the "
                "service (SQLite: one writer at a time)",
                path,
            )
            waiting = True
        time.sleep(wait)
    started = datetime.now(UTC)
    holder = f"service pid {os.getpid()} on {_host()}, started {started:%Y-%m-%d %H:%M:%S} UTC"
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n".encode(), 0)


def _lock_for_once(fd: int, path: Path, lock_file: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise WriterBusy(
            f"refused: a `monitor run` service runs on the SQLite database {path} "
            f"({_holder(lock_file)}) and polls the due feeds itself. SQLite takes one "
            "writer, so `monitor run --once` does not run beside it: stop the service "
            "first (systemctl stop monitor), or let it poll; to run several workers, "
            "use PostgreSQL"
        ) from None
