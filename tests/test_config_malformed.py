"""Malformed ``feeds.yaml`` files through the real CLI: exit 2, a clear message, nothing written.

Every case is a file next to which its SQLite database would go (``database:
sqlite:///x.db`` where the file can carry it, else the default ``monitor.db``).
Each is run as ``monitor --config PATH check`` and ``... run --once`` in process;
a few run through a real ``python -m monitor`` subprocess, and two against a
PostgreSQL database of their own.  For each the test checks:

* exit status 2 and no traceback;
* one line of the output names the file and the line (``PATH:LINE:``), the field
  (``feeds[1] (B).url``), what was wrong and what to do; where the file has no line
  to point at (empty, a directory, unreadable, UTF-16, too large) it says so;
* nothing was written: the config's directory holds only the config afterwards (no
  database, no journal), and the PostgreSQL database has no tables.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import MAX_CONFIG_BYTES, MAX_DEPTH

runner = CliRunner()

DB = "database: sqlite:///x.db\n"  # line 1 of most cases
FEED_A = DB + "feeds:\n  - name: A\n    url: https://a.example/feed\n"  # lines 2-4
NO_LINE = "no line to point at"


@dataclass(frozen=True)
class Case:
    """One malformed file and what its error must say.

    ``line`` None: the file has no line to point at, and the message must say so.
    ``what`` names what was wrong, ``fix`` what to do; both are matched without case.
    """

    id: str
    content: str | bytes
    line: int | None
    field: str | None
    what: str
    fix: str


def with_a(*lines: str) -> str:
    """Feed A (lines 2-4) followed by ``lines`` from line 5 on."""
    return FEED_A + "".join(line + "\n" for line in lines)


def feed_with(key: str, value: str) -> str:
    """Feed A with ``key: value`` on line 5."""
    return with_a(f"    {key}: {value}")


def feed_url(url: str) -> str:
    """Feed A whose URL (line 4) is ``url``."""
    return DB + f"feeds:\n  - name: A\n    url: {url}\n"


def watchlist_rule(rule: str) -> str:
    """Watchlist W whose only rule, on line 5, is ``rule``."""
    return DB + f"watchlists:\n  - name: W\n    rules:\n      - {rule}\n"


def aliases(levels: int) -> str:
    """Each anchor lists the one above it ten times: 10**levels strings if expanded."""
    lines = ["a0: &a0 [x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


CASES = [
    # -- YAML syntax --
    Case(
        "yaml-colon-in-value",
        feed_url("https://a.example/feed: x"),
        4,
        "feeds[0] (A).url",
        "invalid YAML",
        "must be quoted",
    ),
    Case(
        "yaml-unclosed-quote",
        DB + 'feeds:\n  - name: "A\n    url: https://a.example/feed\n',
        3,
        "in feeds[0].name",
        "end of stream while scanning a quoted scalar",
        "the quote or bracket opened here is never closed: close it",
    ),
    Case(
        "tab-indentation",
        DB + "feeds:\n\t- name: A\n\t  url: https://a.example/feed\n",
        3,
        "feeds",
        "'\\t'",
        "indent with spaces",
    ),
    Case(
        "tab-before-a-key",
        with_a("  \tinterval: 15m"),
        5,
        "after feeds[0] (A).url",
        "'\\t'",
        "indent with spaces",
    ),
    Case(
        "yaml-duplicate-key",
        with_a("    url: https://b.example/feed"),
        5,
        "feeds[0] (A).url",
        'duplicate key "url"',
        "keep one of them",
    ),
    Case(
        "nested-too-deeply",
        DB + "feeds: " + "[" * 2000 + "]" * 2000 + "\n",
        2,
        "feeds[0][0][0]",
        f"nested more than {MAX_DEPTH} levels",
        "unclosed [",
    ),
    # -- unknown keys --
    Case(
        "unknown-top-level-key",
        with_a("watchlist: []"),
        5,
        "watchlist",
        "unknown field",
        "did you mean watchlists",
    ),
    Case(
        "unknown-feed-key",
        feed_with("intervall", "15m"),
        5,
        "feeds[0] (A).intervall",
        "unknown field",
        "did you mean interval",
    ),
    Case(
        "unknown-key-far-from-any",
        with_a("fetch:", "  zzz: 1"),
        6,
        "fetch.zzz",
        "unknown field",
        "the fields here are user_agent",
    ),
    # -- wrong types --
    Case(
        "interval-a-list",
        feed_with("interval", "[1]"),
        5,
        "feeds[0] (A).interval",
        "got [1]",
        "such as 15m",
    ),
    Case(
        "feeds-a-string",
        DB + 'feeds: "x"\n',
        2,
        "feeds",
        "expected a list of feeds",
        "'- name: ...' line",
    ),
    Case(
        "full-text-maybe",
        feed_with("full_text", '"maybe"'),
        5,
        "feeds[0] (A).full_text",
        "got 'maybe'",
        "true or false",
    ),
    Case(
        "feed-entry-a-string",
        DB + "feeds:\n  - https://a.example/feed\n",
        3,
        "feeds[0]",
        "got 'https://a.example/feed'",
        "expected a mapping with name: and url:",
    ),
    Case(
        "feed-without-url",
        DB + "feeds:\n  - name: A\n",
        3,
        "feeds[0] (A).url",
        "required field is missing",
        "add a url: line",
    ),
    Case(
        "feeds-without-value",
        DB + "feeds:\n",
        2,
        "feeds",
        "has no value",
        "write one or delete the line",
    ),
    Case(
        "top-level-a-list",
        "- name: A\n  url: https://a.example/feed\n",
        1,
        "top level",
        "got [",
        "start the file with a line feeds:",
    ),
    Case(
        "tags-an-alias-bomb",
        aliases(8) + "feeds:\n  - name: A\n    url: https://a.example/feed\n    tags: *a8\n",
        8,  # tags[0] is *a7, whose value is written on line 8
        "feeds[0] (A).tags[0]",
        "got [[...], [...], [...], [...], ...]",
        "write plain text, not a list or mapping",
    ),
    # -- URLs --
    Case(
        "url-without-scheme",
        feed_url("a.example/feed"),
        4,
        "feeds[0] (A).url",
        "http:// or https://",
        "add the scheme: https://a.example/feed",
    ),
    Case(
        "url-ftp",
        feed_url("ftp://a.example/feed"),
        4,
        "feeds[0] (A).url",
        "cannot poll ftp: URLs",
        "http or https address",
    ),
    Case(
        "url-javascript",
        feed_url("'javascript:alert(1)'"),
        4,
        "feeds[0] (A).url",
        "cannot poll javascript: URLs",
        "http or https address",
    ),
    Case(
        "url-with-spaces",
        feed_url("https://a.example/my feed"),
        4,
        "feeds[0] (A).url",
        "without spaces",
        "write %20",
    ),
    # -- intervals --
    Case(
        "interval-zero",
        feed_with("interval", "0"),
        5,
        "feeds[0] (A).interval",
        "got 0",
        "greater than or equal to 10 seconds (10s); write e.g. 15m",
    ),
    Case(
        "interval-fast",
        feed_with("interval", "fast"),
        5,
        "feeds[0] (A).interval",
        "got 'fast'",
        "a duration such as 15m",
    ),
    Case(
        "interval-negative",
        feed_with("interval", "-5"),
        5,
        "feeds[0] (A).interval",
        "got -5",
        "write e.g. 15m",
    ),
    Case(
        "interval-5-seconds",
        feed_with("interval", "5"),
        5,
        "feeds[0] (A).interval",
        "got 5",
        "greater than or equal to 10 seconds",
    ),
    Case(
        "interval-quoted-5",
        feed_with("interval", '"5"'),
        5,
        "feeds[0] (A).interval",
        "got '5'",
        "a duration such as 15m",
    ),
    Case(
        "default-interval-too-short",
        DB + "defaults:\n  interval: 5s\nfeeds:\n  - name: A\n    url: https://a.example/feed\n",
        3,
        "defaults.interval",
        "got '5s'",
        "write e.g. 15m",
    ),
    # -- watchlist queries --
    Case(
        "query-unbalanced-parenthesis",
        watchlist_rule("(Quds AND force"),
        5,
        "watchlists[0] (W).rules[0]",
        "unbalanced parenthesis",
        "query syntax",
    ),
    Case(
        "query-dangling-and",
        watchlist_rule("Quds AND"),
        5,
        "watchlists[0] (W).rules[0]",
        "expected a term after AND",
        "query syntax",
    ),
    # -- duplicates --
    Case(
        "duplicate-feed-name",
        with_a("  - name: A", "    url: https://b.example/feed"),
        5,
        "feeds[1] (A).name",
        "duplicate feed name 'A', already used by feeds[0] at line 3",
        "rename or remove one",
    ),
    Case(
        "duplicate-feed-url",
        with_a("  - name: B", "    url: https://a.example/feed"),
        6,
        "feeds[1] (B).url",
        "duplicate feed url 'https://a.example/feed', already used by feeds[0] at line 4",
        "rename or remove one",
    ),
    Case(
        "duplicate-watchlist-name",
        DB + "watchlists:\n  - name: W\n    rules: [Quds]\n  - name: W\n    rules: [IRGC]\n",
        5,
        "watchlists[1] (W).name",
        "duplicate watchlist name 'W'",
        "rename or remove one",
    ),
    # -- the database --
    Case(
        "password-in-database-url",
        "database: postgresql://reader:s3cret@127.0.0.1/news\nfeeds: []\n",
        1,
        "database",
        "contains a password",
        "set MONITOR_DATABASE_URL",
    ),
    # -- the file itself --
    Case("empty-file", b"", None, None, "the file is empty (0 bytes)", "write them in it"),
    Case("blank-file", b"\n   \n\n", None, None, "blank space only", "--config with the file"),
    Case(
        "latin-1",
        (DB + "feeds:\n  - name: Le Monde été\n    url: https://a.example/feed\n").encode(
            "latin-1"
        ),
        3,
        "feeds[0] (Le Monde",
        "not UTF-8: byte 0xe9",
        "save it as UTF-8",
    ),
    Case(
        "utf-16-with-bom",
        FEED_A.encode("utf-16"),
        None,
        None,
        "the whole file is UTF-16",
        "save it as UTF-8",
    ),
    Case(
        "nul-byte",
        FEED_A.replace("name: A", "name: A\x00").encode(),
        3,
        "feeds[0]",
        "a NUL byte",
        "check that --config names your feeds.yaml",
    ),
    Case(
        "control-character",
        FEED_A.replace("name: A", "name: A\x07"),
        3,
        "feeds[0]",
        "control character U+0007",
        "delete it",
    ),
    Case(
        "binary-file",
        b"SQLite format 3\x00" + bytes(range(256)) * 4,
        1,
        "(top level)",
        "a NUL byte",
        "not the database",
    ),
    Case(
        "too-large",
        b"# padding\n" * (MAX_CONFIG_BYTES // 10 + 1),
        None,
        None,
        f"larger than {MAX_CONFIG_BYTES // 1024**2} MiB",
        "check that --config names the configuration",
    ),
]
COMMANDS = [("check",), ("run", "--once")]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own MONITOR_* variables must not steer these tests."""
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)


def write(directory: Path, content: str | bytes, name: str = "feeds.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def everything_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def assert_clear_error(output: str, config: Path, case: Case) -> None:
    """One line names file, line, field, what was wrong and what to do; no traceback."""
    assert "Traceback" not in output, output
    where = str(config)
    lines = [line for line in output.splitlines() if where in line]
    assert lines, f"the output does not name {where}:\n{output}"
    if case.line is None:
        assert not re.search(re.escape(where) + r":\d", output), output
        hits = [line for line in lines if NO_LINE in line]
    else:
        at = re.compile(re.escape(where) + rf":{case.line}(:\d+)?: ")
        hits = [line for line in lines if at.search(line)]
    assert hits, f"no line of the output names {where} at line {case.line}:\n{output}"
    parts = [part.lower() for part in (case.field, case.what, case.fix) if part]
    assert any(all(part in hit.lower() for part in parts) for hit in hits), (
        f"no line has all of {parts}:\n{output}"
    )


# -- every case through check and run --once, in process ----------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c).strip("-"))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_malformed_config(tmp_path: Path, case: Case, command: tuple[str, ...]) -> None:
    config = write(tmp_path, case.content)
    result = runner.invoke(
        app, ["--config", str(config), *command], catch_exceptions=False, env={"COLUMNS": "80"}
    )
    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, config, case)
    assert everything_under(tmp_path) == {"feeds.yaml"}, "something was written"
    assert "s3cret" not in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c).strip("-"))
def test_a_directory_as_config(tmp_path: Path, command: tuple[str, ...]) -> None:
    directory = tmp_path / "conf"
    write(directory, FEED_A)
    before = everything_under(tmp_path)
    result = runner.invoke(app, ["--config", str(directory), *command], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    case = Case("directory", "", None, None, "is a directory, not a file", "--config with the")
    assert_clear_error(result.output, directory, case)
    assert f"e.g. --config {directory / 'feeds.yaml'}" in result.output  # the file inside
    assert everything_under(tmp_path) == before


def test_every_problem_of_a_file_is_listed_with_its_line(tmp_path: Path) -> None:
    """Several mistakes: one line each, in file order, under a header saying what to do."""
    config = write(
        tmp_path,
        with_a(
            "    intervall: 15m",  # 5
            "  - name: B",
            "    url: ftp://b.example/feed",  # 7
            "    full_text: maybe",  # 8
            "  - name: A",  # 9
            "    url: https://c.example/feed",
        ),
    )
    result = runner.invoke(app, ["--config", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    problems = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert [re.findall(r"\.yaml:(\d+): ", p) for p in problems] == [["5"], ["7"], ["8"], ["9"]]
    assert "4 problem(s) in the configuration; fix each one below" in result.output
    assert everything_under(tmp_path) == {"feeds.yaml"}


def test_a_comment_only_file_is_a_config_that_lists_nothing_yet(tmp_path: Path) -> None:
    """The line drawn for empty files: a file someone wrote comments in is accepted
    (``feeds import-opml`` fills such a file); one with nothing at all is not."""
    config = write(tmp_path, "# feeds come later\n" + DB)
    result = runner.invoke(app, ["--config", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 feeds" in " ".join(result.output.split())


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    config = write(tmp_path, codecs.BOM_UTF8 + FEED_A.encode())
    result = runner.invoke(app, ["--config", str(config), "check"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 feeds" in " ".join(result.output.split())


# -- PostgreSQL: nothing created in the database ---------------------------------------------


def public_tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("body", "case"),
    [
        (
            "feeds:\n  - name: A\n    url: https://a.example/feed\n    intervall: 15m\n",
            Case("pg-unknown-key", "", 5, "feeds[0] (A).intervall", "unknown field", "interval"),
        ),
        (
            "feeds:\n  - name: A\n    url: https://a.example/feed\n  - name: A\n"
            "    url: https://b.example/feed\n",
            Case("pg-duplicate", "", 5, "feeds[1] (A).name", "duplicate feed name", "rename"),
        ),
    ],
    ids=["unknown-key", "duplicate-name"],
)
def test_nothing_is_created_in_postgresql(
    tmp_path: Path, pg_url: str, body: str, case: Case
) -> None:
    config = write(tmp_path, f"database: {pg_url}\n{body}")
    for command in COMMANDS:
        result = runner.invoke(app, ["--config", str(config), *command], catch_exceptions=False)
        assert result.exit_code == 2, result.output
        assert_clear_error(result.output, config, case)
    assert public_tables(pg_url) == []
    assert everything_under(tmp_path) == {"feeds.yaml"}


# -- real subprocesses: python -m monitor, started together to share the import time ---------


def _without_file_override() -> None:
    """Run the child as it is, minus what lets root read a file whose mode forbids it.

    Root ignores file modes through CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH.
    Dropping both from the bounding set before exec means the child, though still
    uid 0, is held to ``chmod 000`` like any user: a genuinely unreadable file,
    with no other user or directory permissions involved.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for capability in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@dataclass(frozen=True)
class Run:
    case: Case
    config: Path
    returncode: int
    output: str


UNREADABLE = Case(
    "unreadable", FEED_A, None, None, "permission denied", "make it readable (e.g. chmod a+r"
)
SUBPROCESS_CASES = [
    (next(c for c in CASES if c.id == "tab-indentation"), ("check",)),
    (next(c for c in CASES if c.id == "duplicate-feed-url"), ("run", "--once")),
    (UNREADABLE, ("run", "--once")),
]


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    started = []
    for case, command in SUBPROCESS_CASES:
        directory = tmp_path_factory.mktemp(case.id)
        config = write(directory, case.content)
        if case is UNREADABLE:
            config.chmod(0)
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), *command],
            cwd=directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_without_file_override if case is UNREADABLE else None,
        )
        started.append((case, config, process))
    runs = {}
    for case, config, process in started:
        output, _ = process.communicate(timeout=60)
        runs[case.id] = Run(case, config, process.returncode, output)
    yield runs
    for _case, config, _process in started:
        config.chmod(0o600)


@pytest.mark.parametrize("case_id", [case.id for case, _ in SUBPROCESS_CASES])
def test_through_a_real_subprocess(subprocess_runs: dict[str, Run], case_id: str) -> None:
    run = subprocess_runs[case_id]
    assert run.returncode == 2, run.output
    assert_clear_error(run.output, run.config, run.case)
    assert everything_under(run.config.parent) == {"feeds.yaml"}, "something was written"
