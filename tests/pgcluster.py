"""A PostgreSQL cluster of a test's own, made with ``initdb`` and run with ``pg_ctl``.

Tests that stop and start the database server (``tests/test_db_outage.py``)
must never touch the machine's shared cluster, so they make one in a fresh
directory under the system temporary directory: data, log and unix socket
all live there, the server listens on 127.0.0.1 only, on a free port, with
trust authentication for the ``postgres`` role.  ``initdb`` refuses to run
as root, so as root every server command runs as the ``postgres`` OS user
(``runuser``, else ``su``), which owns the directory.

    cluster = PgCluster.create()      # initdb
    cluster.start()
    url = cluster.create_database("monitor")
    cluster.stop()                     # pg_ctl stop -m fast
    cluster.destroy()                  # stop if running, remove the directory
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

OS_USER = "postgres"  # the OS user that runs the server when the tests run as root
ROLE = "postgres"  # the cluster's superuser


def find_bin_dir() -> Path | None:
    """The directory of ``pg_ctl`` and ``initdb``: the newest /usr/lib/postgresql/*/bin,
    else wherever PATH has them."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if (directory / "pg_ctl").is_file() and (directory / "initdb").is_file():
            return directory
    return None


def _runner() -> list[str] | None:
    """The command prefix that runs a server command as a non-root user ([] when we are
    not root); None when we are root and there is no ``postgres`` user to run as."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", OS_USER, "--"] if runuser else ["su", OS_USER, "-s", "/bin/sh", "-c"]


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be made here, or None when it can."""
    if find_bin_dir() is None:
        return (
            "pg_ctl/initdb not found under /usr/lib/postgresql/*/bin or on PATH "
            "(apt-get install postgresql)"
        )
    if _runner() is None:
        return f"running as root and there is no {OS_USER!r} OS user to run initdb as"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgCluster:
    """One private cluster: ``root/data`` (the cluster), ``root/server.log``, the socket in
    ``root``."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self.data = root / "data"
        self.logfile = root / "server.log"

    @classmethod
    def create(cls, port: int | None = None) -> PgCluster:
        """Make a new, stopped cluster in a new temporary directory."""
        bin_dir = find_bin_dir()
        problem = unavailable_reason()
        if bin_dir is None or problem:
            raise RuntimeError(problem or "no PostgreSQL binaries")
        # Not pytest's tmp_path: that lies under a 0700 directory of root's that the
        # postgres user cannot enter.
        root = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(OS_USER)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(bin_dir, root, port or free_port())
        cluster._server_command(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            ROLE,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        return cluster

    def _server_command(
        self, program: str, *args: str, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        runner = _runner() or []
        command = [str(self.bin_dir / program), *args]
        if runner and runner[0] == "su":
            command = [*runner, shlex.join(command)]
        else:
            command = [*runner, *command]
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\n{self.log()[-2000:]}"
            )
        return result

    def start(self, timeout: int = 30) -> None:
        """Start the server and wait until it accepts connections."""
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-k {self.root}",
                "-c fsync=off",  # a test cluster: clean stops only, no power cuts
                "-c max_connections=50",
            ]
        )
        self._server_command(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            str(timeout),
            "start",
            timeout=timeout + 10,
        )

    def stop(self, mode: str = "fast", timeout: int = 30) -> None:
        """``pg_ctl stop -m fast``: connections are cut, the server is down on return."""
        self._server_command(
            "pg_ctl",
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            str(timeout),
            "stop",
            timeout=timeout + 10,
        )

    @property
    def running(self) -> bool:
        status = self._server_command("pg_ctl", "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3)."""
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def admin_dsn(self, database: str = "postgres") -> str:
        """The libpq URL, for psycopg itself."""
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        try:
            return self.logfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def destroy(self) -> None:
        """Stop the server if it runs (immediately), then remove the whole directory."""
        try:
            if self.data.is_dir() and (self.data / "postmaster.pid").exists():
                self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
