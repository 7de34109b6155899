"""``--config`` and ``-v`` are global options that may also follow the subcommand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import hoist_global_options


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["check", "--config", "x.yaml"], ["--config", "x.yaml", "check"]),
        (["check", "--config=x.yaml"], ["--config=x.yaml", "check"]),
        (
            ["feeds", "list", "-v", "--config", "x.yaml"],
            ["-v", "--config", "x.yaml", "feeds", "list"],
        ),
        (["--config", "x.yaml", "check"], ["--config", "x.yaml", "check"]),  # already in front
        (["items", "list", "-c"], ["items", "list", "-c"]),  # -c is --collapse there
        (["items", "search", "--", "--config", "x"], ["items", "search", "--", "--config", "x"]),
        (["check", "--config"], ["check", "--config"]),  # no value: Click reports it
    ],
)
def test_global_options_are_moved_in_front_of_the_subcommand(
    argv: list[str], expected: list[str]
) -> None:
    assert hoist_global_options(argv) == expected


def _monitor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "COLUMNS": "200"},
        timeout=60,
    )


def test_check_reads_the_config_named_after_the_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.yaml"
    config.write_text(
        "feeds:\n  - name: Levant Ledger\n    url: https://example.org/feed\n", encoding="utf-8"
    )
    result = _monitor("check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "elsewhere.yaml: 1 feeds" in result.stdout


def test_a_missing_config_named_after_the_subcommand_is_reported(tmp_path: Path) -> None:
    result = _monitor("check", f"--config={tmp_path / 'missing.yaml'}", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.yaml: no such file" in result.stderr
