"""What each step of the extraction stage costs, in instructions (callgrind).

Wall-clock rates on this shared machine drift by a third from one minute to
the next; instruction counts do not: the same program on the same input
executes the same instructions, whatever else the host is doing.  This
script runs each step over a sample of the article-bench pages under
``valgrind --tool=callgrind`` twice, with 0 and with 1 pass over the
sample, so start-up, imports and warm-up cancel out, and prints each step's
instructions per page and its ratio to bare ``trafilatura.extract``:

* ``bare``: ``trafilatura.extract(html)``, the baseline of
  ``bench/pipeline_throughput.py``;
* ``text``: ``bare_extraction`` with monitor's settings but no metadata;
* ``trafilatura``: the same with metadata, exactly the call monitor makes;
* ``extract_page``: monitor's extraction step (adds decoding, text cleaning,
  the declared language and compressing the kept page);
* ``extract_and_assemble``: the whole pool task (adds assembly, the content
  hash and the MinHash sketch), for a feed entry that carries a link only, so
  every field is searched for on the page;
* ``pool_task``: the same for a feed entry that carries the page's real title
  (as bench/pipeline_throughput.py's feed does), so the title is not searched.

Two more steps, asked for by name with ``--steps``, split the metadata's cost:
``parse`` (``load_html`` alone) and ``cascade`` (``load_html``, the structured-data
reader and the searches for what is missing, for an entry that carries a title).

Since extractor profile 3, ``extract_page`` reads metadata from the page's
structured data and searches only for what is missing (docs/design.md); the
``trafilatura`` row is the call monitor made up to profile 2.

    .venv/bin/python bench/extraction_cost.py [--every 6]   # about 25 minutes
    .venv/bin/python bench/extraction_cost.py --every 12 --steps bare,pool_task
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.article_metric import DEFAULT_CORPUS, load_corpus

STEPS = ("bare", "text", "trafilatura", "extract_page", "extract_and_assemble", "pool_task")
# where the pool task's metadata goes (not in the default run): parsing the page alone, and
# parsing plus the metadata cascade for an entry that carries a title (no text pass)
PARTS = ("parse", "cascade")


def _steps(corpus: str, every: int) -> dict[str, Callable[[slice], None]]:
    """Each step as a function of which sample pages to run it on (imports done here)."""
    import trafilatura
    from trafilatura.utils import load_html

    from bench.metadata_quality import real_titles
    from monitor.pipeline.assemble import extract_and_assemble
    from monitor.pipeline.extract import TRAFILATURA_OPTIONS, _search_missing, extract_page
    from monitor.pipeline.metadata import read_page
    from monitor.pipeline.types import Fetched, Outcome, ParsedEntry

    pages = load_corpus(corpus)[::every]
    titles = real_titles(pages)
    htmls = [p.html for p in pages]
    urls = [f"http://127.0.0.1:8080/a/{p.id}/" for p in pages]
    bodies = [p.html.encode() for p in pages]
    text_only = dict(TRAFILATURA_OPTIONS, with_metadata=False)
    now = datetime.now(UTC)

    def bare(which: slice) -> None:
        for html in htmls[which]:
            trafilatura.extract(html)

    def text(which: slice) -> None:
        for html, url in zip(htmls[which], urls[which], strict=True):
            trafilatura.bare_extraction(html, url=url, **text_only)

    def with_metadata(which: slice) -> None:
        for html, url in zip(htmls[which], urls[which], strict=True):
            trafilatura.bare_extraction(html, url=url, **TRAFILATURA_OPTIONS)

    def page_step(which: slice) -> None:
        for body, url in zip(bodies[which], urls[which], strict=True):
            extract_page(body, url, "utf-8", keep_raw=True)

    def whole_task(which: slice, with_title: bool = False) -> None:
        for body, url, title in zip(bodies[which], urls[which], titles[which], strict=True):
            fetched = Fetched(url, Outcome.OK, url, 200, body, "text/html", "utf-8")
            extract_and_assemble(
                ParsedEntry(link=url, guid=url, title=title if with_title else None),
                fetched,
                feed_title="bench",
                feed_language=None,
                now=now,
                future_skew=timedelta(minutes=15),
                keep_raw=True,
            )

    def parse(which: slice) -> None:
        for html in htmls[which]:
            load_html(html)

    def cascade(which: slice) -> None:
        for html, url, title in zip(htmls[which], urls[which], titles[which], strict=True):
            tree = load_html(html)
            if tree is not None:
                entry = ParsedEntry(link=url, guid=url, title=title)
                _search_missing(tree, url, read_page(tree), entry)

    return {
        "parse": parse,
        "cascade": cascade,
        "bare": bare,
        "text": text,
        "trafilatura": with_metadata,
        "extract_page": page_step,
        "extract_and_assemble": whole_task,
        "pool_task": lambda which: whole_task(which, with_title=True),
    }


def child(name: str, passes: int, corpus: str, every: int) -> None:
    from monitor.pipeline.extract import warm_up

    steps = _steps(corpus, every)
    warm_up()  # what a pool worker pays at its start (the language model, numpy, ...)
    for warm in steps.values():  # every lazy set-up, paid alike by the 0- and 1-pass runs
        warm(slice(0, 1))
    for _ in range(passes):
        steps[name](slice(None))


def instructions(name: str, passes: int, corpus: str, every: int, tmp: Path) -> int:
    out = tmp / f"callgrind.{name}.{passes}"
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, __file__, "--child", name, str(passes),
        "--corpus", corpus, "--every", str(every),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"callgrind run of {name!r} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument(
        "--every", type=int, default=6, help="Sample every Nth page (12: about half the time)."
    )
    parser.add_argument(
        "--steps", default=",".join(STEPS), help=f"Comma-separated subset of {', '.join(STEPS)}."
    )
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PASSES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.corpus, args.every)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2

    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS) - set(PARTS))
    if unknown or not steps:
        print(f"--steps: unknown {unknown}; choose from {', '.join(STEPS + PARTS)}",
              file=sys.stderr)  # fmt: skip
        return 2
    sample = len(load_corpus(args.corpus)[:: args.every])
    per_page: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in steps:
            cost = instructions(name, 1, args.corpus, args.every, Path(tmp))
            cost -= instructions(name, 0, args.corpus, args.every, Path(tmp))
            per_page[name] = cost / sample
            print(f"{name}: {per_page[name] / 1e6:.1f} M instructions/page", file=sys.stderr)

    print(f"pages: {sample} (every {args.every}th of the corpus), instructions from callgrind")
    print()
    print("| step | M instructions/page | x bare | added by this step |")
    print("|---|---:|---:|---:|")
    if "bare" not in per_page:
        return 0  # the figures above, without ratios
    base = per_page["bare"]
    previous = None  # "text" is an alternative to "bare"; each later step adds to the one before
    for name in steps:
        added = "-" if previous is None else f"{(per_page[name] - previous) / base:+.2f}"
        print(f"| {name} | {per_page[name] / 1e6:.1f} | {per_page[name] / base:.2f} | {added} |")
        previous = per_page[name] if name != "bare" else None
    return 0


if __name__ == "__main__":
    sys.exit(main())
