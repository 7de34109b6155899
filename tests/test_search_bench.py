"""The search benchmark runs (bench/search_latency.py, a small --quick on SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import search_latency


@pytest.mark.slow
@pytest.mark.skipif(not search_latency.CORPUS.is_dir(), reason="the article-bench corpus is absent")
def test_the_benchmark_fills_measures_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    args = ["--quick", "--items", "600", "--paired", "400", "--runs", "2"]
    args += ["--databases", "sqlite", "--extract-pages", "3", "--json", str(out)]
    assert search_latency.main(args) == 0
    (result,) = json.loads(out.read_text())
    assert result["database"] == "sqlite" and result["items"] == 600 and result["paired"] == 400
    assert result["index_cpu_ms_per_item"] > 0 and 0 < result["share_of_ingest"] < 1
    latency = result["latency_ms"]
    assert set(latency) == set(search_latency.QUERIES)
    for name, figures in latency.items():
        assert 0 < figures["median"] <= figures["p95"], name
    assert latency["name"]["hits"] == 50  # a common name fills a page of 600 items
