"""The ``run --once`` summary: every feed when there are few, only those worth a look when
there are many."""

from __future__ import annotations

import pytest

from monitor.cli import run as run_cli
from monitor.pipeline.types import Outcome
from monitor.reports import FeedReport, RunReport


def _report(quiet: int) -> RunReport:
    feeds = [FeedReport(f"quiet {n:04}", outcome=Outcome.NOT_MODIFIED) for n in range(quiet)]
    feeds.append(FeedReport("Levant Ledger", new=3, entries=3))
    feeds.append(FeedReport("Broken", outcome=Outcome.HARD, status=404, error="HTTP 404"))
    return RunReport(feeds, 1.0)


def test_a_few_feeds_are_all_listed(capsys: pytest.CaptureFixture[str]) -> None:
    run_cli._summary(_report(quiet=5))
    printed = capsys.readouterr().out
    assert "quiet 0004" in printed and "Levant Ledger" in printed and "Broken" in printed
    assert "feeds listed" not in printed


def test_many_feeds_list_only_those_worth_a_look(capsys: pytest.CaptureFixture[str]) -> None:
    run_cli._summary(_report(quiet=1000))
    printed = capsys.readouterr().out
    assert "quiet 0" not in printed
    assert "Levant Ledger" in printed and "Broken" in printed
    assert "2 of 1002 feeds listed" in " ".join(printed.split())
    assert "feeds: 1001 ok, 1 failed" in " ".join(printed.split())  # the totals count them all
