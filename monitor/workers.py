"""Who holds a lease: worker identities, and whether a worker of this host is gone.

A worker is ``host:pid:start`` where ``start`` is the process's start time in
clock ticks since boot (``/proc/PID/stat``, field 22), so a recycled pid is
not mistaken for the worker that held a lease.  A lease whose holder ran on
this host and is gone (killed with SIGKILL, crashed) is taken over at once;
a lease held on another host is only taken when it expires.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


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
