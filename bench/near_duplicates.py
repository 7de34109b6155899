"""Near-duplicate detection: precision/recall on labelled copies, and lookup cost vs size.

What it measures, in one run, through the real storage code
(:meth:`monitor.storage.items.ItemRepository.add_many` and
:func:`monitor.storage.dedup.place`):

**A. Precision and recall.**  The ground-truth texts of the article-bench corpus
(texts of at least ``--min-words`` words) are the originals.  Each gets six
copies, made with a seeded RNG so every run builds the same set:

* ``headline``: a new headline line prepended;
* ``boilerplate``: an outlet's intro and/or outro paragraphs (30-80 words);
* ``edited``: 2-3 sentences edited (a number changed or a word replaced, and
  sometimes two adjacent words swapped);
* ``removed``: 10-20% of the sentences removed;
* ``combined``: headline + boilerplate + one edited sentence;
* ``revised``: a later version: a new paragraph of 2-3 real sentences of a related
  article after the first, two sentences updated, one dropped.

The originals are stored in a fresh SQLite store; then each copy is stored
under a URL of its own and judged by ``Stored.duplicate_of``: its original
(true positive), another item (false positive) or None (false negative).  The
copy is deleted again, so every copy is judged against the originals alone.

Negatives are pairs of different articles, stored one after the other in an
otherwise empty store (any ``duplicate_of`` is a false positive): each article
with its most similar other article by TF-IDF cosine, with a random other
article, and with its TF-IDF neighbour when both carry the *same* outlet
boilerplate.  A leave-one-out pass also places every original against all the
other originals (``place(..., exclude=own id)``).  All of this is repeated for
each ``--thresholds`` value with ``DedupPolicy(threshold)``.

**Hard negatives** (stored the same way; texts as monitor's ``extract_page`` returns
them from real pages, so template text that leaks into the body is there):

* 40 hand-picked pairs of corpus pages on one event from different outlets, mostly
  of the same day (``bench/data/neardup_same_event.json``), and the project's fixture
  pair ``tests/fixtures/dedup/hormuz-{tanker,families}.txt``;
* the same 40 pairs built harder: B with A's sentences carrying their shared names,
  numbers and quotes inserted verbatim (up to 40% of B), never random words;
* every pair of corpus pages from one site (real template, different article);
* each corpus page's own HTML with its article paragraphs, headline and standfirst
  replaced by two other articles' (openings of 45-120 words, or whole texts), then
  extracted: the same template and footer around different articles.

A proposal (not shipped) is measured beside them: sketching without the lines a
third page of the same template also has (see :func:`report_line_filter`).

A separate probe stores pairs of *short* different texts: the openings of two
articles followed by the same paywall notice, under 40 words in all (the
policy's ``min_words``), the shape of feed teasers.

**B. Lookup cost.**  The originals are stored through ``add_many``, then filler
items are bulk-inserted (items by SQLAlchemy Core executemany; sketches and band
keys by Core executemany on SQLite, by COPY on PostgreSQL; one transaction per
10k): real corpus sentences recombined at random (50-150 words) and sketched by
``sketch_text``, every 20th carrying one outlet's fixed footer.  The time of
``place(session, sketch, policy)`` (band probes + candidate verification) is
measured for ``--queries`` corpus copies and for 100 new items of that outlet, at 10k
and again at 100k
stored items (the same store, grown), on SQLite and, if reachable, on
PostgreSQL (a database created and dropped by this script).

    .venv/bin/python bench/near_duplicates.py [--skip-postgres]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import numpy as np
import psycopg
import sqlalchemy
from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.article_metric import DEFAULT_CORPUS, Page, load_corpus
from monitor.config import FeedConfig
from monitor.pipeline.extract import extract_page
from monitor.pipeline.sketch import (
    BANDS,
    PERMUTATIONS,
    SHINGLE_WORDS,
    SKETCH_VERSION,
    Sketch,
    shingles,
    similarity,
    sketch_text,
    words,
)
from monitor.pipeline.text import normalised_text_hash, word_count
from monitor.pipeline.types import ItemDraft
from monitor.storage import Store
from monitor.storage.dedup import DedupPolicy, candidates, place
from monitor.storage.engine import make_engine
from monitor.storage.items import NewItem, Stored
from monitor.storage.schema import Feed, Item, ItemSketch, SketchBand

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COPY_KINDS = ("headline", "boilerplate", "edited", "removed", "combined", "revised")
NEGATIVE_KINDS = ("tfidf-nearest", "random", "nearest+same boilerplate")
PROBE_KIND = "short+same paywall notice"
LENGTH_BUCKETS = ((80, 200), (200, 500), (500, 1000), (1000, 10**9))
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"\u201d\u2019)])\s+")
_NUMBER = re.compile(r"\d+")
_SERIAL = itertools.count(1)  # item URLs, unique across every store of the run

OUTLETS = (
    "The Riverside Courier",
    "Metro Daily News",
    "Northern Ledger",
    "Bay Area Wire",
    "CivicPost",
    "The Standard-Herald",
)
INTROS = (
    "This story was originally published by {o}. It is republished here with permission "
    "as part of a content-sharing partnership; the original version may include additional "
    "reporting, photographs and corrections.",
    "Editor's note: {o} is a nonprofit newsroom covering politics, business and the "
    "environment. Sign up for our free morning briefing to get stories like this one "
    "delivered to your inbox.",
    "Listen to this article. The audio version is generated automatically by {o} and some "
    "words may be mispronounced; estimated reading time is about five minutes.",
)
OUTROS = (
    "Sign up for our newsletter to receive the latest headlines from {o} every weekday "
    "morning. You can unsubscribe at any time, and we never share your email address with "
    "third parties.",
    "Copyright 2024 {o}. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed without permission. Follow us on Facebook, "
    "Twitter and Instagram for more news.",
    "Have a news tip? Contact the newsroom of {o} by email or call our tip line. Support "
    "independent local journalism by becoming a member today; memberships start at five "
    "dollars a month and help keep our reporting free for everyone.",
)
PAYWALLS = (
    "Subscribe to continue reading. Already a subscriber? Log in to read the full article "
    "from {o}, or start your free trial today for unlimited digital access.",
    "This article is for {o} members only. Become a member to keep reading, or sign in "
    "with your account; members get unlimited access on every device.",
)
HEADLINES = (
    "{a}, {b} and {c}: what we know so far",
    "Why {a} matters for {b}",
    "{a} under scrutiny as {b} questions mount",
    "Analysis: the {a} story behind {b}",
    "{a} and {b} explained in five points",
)
REPLACEMENTS = ("officials", "residents", "analysts", "recently", "major", "several", "new")


# -- the labelled set -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    key: str
    text: str
    words: int


@dataclass(frozen=True, slots=True)
class Copy:
    kind: str
    original: int  # index into the originals
    text: str


@dataclass(frozen=True, slots=True)
class NegativePair:
    kind: str
    partner: str  # stored first
    probe: str  # stored second: must not be found a duplicate
    label: str = ""  # where the pair comes from, for the examples


def paragraphs(text: str) -> list[list[str]]:
    """The text's paragraphs, each a list of sentences."""
    result = []
    for para in text.split("\n"):
        sentences = [s for s in _SENTENCE_END.split(para.strip()) if s]
        if sentences:
            result.append(sentences)
    return result


def join(paras: Iterable[Iterable[str]]) -> str:
    return "\n\n".join(" ".join(p) for p in paras if p)


def boilerplate(rng: random.Random) -> tuple[str, str]:
    """An outlet's intro and outro (either may be empty), 30-80 words together."""
    outlet = rng.choice(OUTLETS)
    while True:
        intro = rng.choice(INTROS).format(o=outlet) if rng.random() < 0.7 else ""
        outro = rng.choice(OUTROS).format(o=outlet) if rng.random() < 0.7 else ""
        if 30 <= word_count(intro) + word_count(outro) <= 80:
            return intro, outro


def wrap(text: str, intro: str, outro: str) -> str:
    return "\n\n".join(part for part in (intro, text, outro) if part)


def edit_sentence(sentence: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """Change a number (else replace a word), and sometimes swap two adjacent words."""
    tokens = sentence.split(" ")
    numeric = [i for i, t in enumerate(tokens) if _NUMBER.search(t)]
    if numeric:
        i = rng.choice(numeric)
        tokens[i] = _NUMBER.sub(lambda m: str(int(m.group()) + rng.randint(1, 9)), tokens[i], 1)
    else:
        plain = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) > 3] or [0]
        i = rng.choice(plain)
        tokens[i] = rng.choice([*REPLACEMENTS, *vocabulary])
    if len(tokens) > 3 and rng.random() < 0.5:
        j = rng.randrange(len(tokens) - 1)
        tokens[j], tokens[j + 1] = tokens[j + 1], tokens[j]
    return " ".join(tokens)


def edit(text: str, count: int, rng: random.Random, vocabulary: Sequence[str]) -> str:
    paras = paragraphs(text)
    slots = [(p, s) for p, para in enumerate(paras) for s, x in enumerate(para) if len(x) > 30]
    for p, s in rng.sample(slots, min(count, len(slots))):
        paras[p][s] = edit_sentence(paras[p][s], rng, vocabulary)
    return join(paras)


def remove(text: str, rng: random.Random) -> str:
    paras = paragraphs(text)
    slots = [(p, s) for p, para in enumerate(paras) for s in range(len(para))]
    count = min(len(slots) - 1, max(1, round(len(slots) * rng.uniform(0.10, 0.20))))
    gone = set(rng.sample(slots, count))
    return join(
        [x for s, x in enumerate(para) if (p, s) not in gone] for p, para in enumerate(paras)
    )


def headline(terms: Sequence[str], rng: random.Random) -> str:
    a, b, c = (t.capitalize() for t in (*terms, "policy", "plans", "reaction")[:3])
    return rng.choice(HEADLINES).format(a=a, b=b, c=c)


def revise_text(text: str, related: str, rng: random.Random, vocabulary: Sequence[str]) -> str:
    """A later version of the story: a new paragraph after the first (2-3 real sentences
    of a related article, standing for the new developments), two sentences updated
    (numbers, words) and one sentence dropped."""
    paras = paragraphs(edit(text, 2, rng, vocabulary))
    slots = [(p, k) for p, para in enumerate(paras) for k in range(len(para))]
    if len(slots) > 3:
        p, k = rng.choice(slots[1:])
        del paras[p][k]
    news = [s for para in paragraphs(related) for s in para if word_count(s) >= 6]
    start = rng.randrange(max(1, len(news) - 3))
    paras.insert(1, news[start : start + rng.randint(2, 3)])
    return join(paras)


def make_copies(
    articles: Sequence[Article],
    top_terms: Sequence[Sequence[str]],
    seed: int,
    nearest: Sequence[int] = (),
) -> list[Copy]:
    copies: list[Copy] = []
    for index, article in enumerate(articles):
        rng = random.Random(f"{seed}:copies:{article.key}")
        others = list(top_terms[(index + 1) % len(articles)])  # foreign words for edits
        title = headline(top_terms[index], rng)
        intro, outro = boilerplate(rng)
        made = {
            "headline": f"{title}\n\n{article.text}",
            "boilerplate": wrap(article.text, intro, outro),
            "edited": edit(article.text, rng.randint(2, 3), rng, others),
            "removed": remove(article.text, rng),
            "combined": f"{title}\n\n" + wrap(edit(article.text, 1, rng, others), intro, outro),
        }
        if nearest:  # its own RNG: the kinds above stay what they were before it existed
            later = random.Random(f"{seed}:revised:{article.key}")
            related = articles[nearest[index]].text
            made["revised"] = revise_text(article.text, related, later, others)
        original_hash = normalised_text_hash(article.text)
        for kind in (k for k in COPY_KINDS if k in made):
            if normalised_text_hash(made[kind]) == original_hash:
                raise RuntimeError(f"{kind} copy of {article.key} has the original's text")
            copies.append(Copy(kind, index, made[kind]))
    return copies


class TfIdf:
    """Plain TF-IDF over ``\\w+`` words (log-scaled tf, log idf), cosine-normalised."""

    def __init__(self, texts: Sequence[str]) -> None:
        docs = [Counter(w for w in _WORD.findall(t.casefold()) if _useful(w)) for t in texts]
        df = Counter(w for doc in docs for w in doc)
        self.terms = sorted(w for w, n in df.items() if n < len(docs))  # idf > 0
        column = {w: i for i, w in enumerate(self.terms)}
        matrix = np.zeros((len(docs), len(self.terms)))
        for row, doc in enumerate(docs):
            for w, n in doc.items():
                if w in column:
                    matrix[row, column[w]] = (1 + math.log(n)) * math.log(len(docs) / df[w])
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        self.matrix = matrix
        self.cosines = matrix @ matrix.T
        np.fill_diagonal(self.cosines, -1.0)

    def nearest(self, i: int) -> tuple[int, float]:
        j = int(np.argmax(self.cosines[i]))
        return j, float(self.cosines[i, j])

    def top_terms(self, i: int, count: int = 3) -> list[str]:
        order = np.argsort(-self.matrix[i], kind="stable")
        return [self.terms[k] for k in order[: count * 4] if self.terms[k].isalpha()][:count]


def _useful(word: str) -> bool:
    return len(word) > 2 and not word.isdigit()


def make_negatives(
    articles: Sequence[Article], tfidf: TfIdf, seed: int
) -> tuple[list[NegativePair], list[float]]:
    rng = random.Random(f"{seed}:negatives")
    pairs: list[NegativePair] = []
    cosines: list[float] = []
    for i, article in enumerate(articles):
        j, cosine = tfidf.nearest(i)
        cosines.append(cosine)
        pairs.append(NegativePair("tfidf-nearest", article.text, articles[j].text))
        other = rng.choice([k for k in range(len(articles)) if k not in (i, j)])
        pairs.append(NegativePair("random", article.text, articles[other].text))
        intro, outro = boilerplate(rng)
        pairs.append(
            NegativePair(
                "nearest+same boilerplate",
                wrap(article.text, intro, outro),
                wrap(articles[j].text, intro, outro),
            )
        )
    return pairs, cosines


def short_probe_pairs(articles: Sequence[Article], seed: int) -> list[NegativePair]:
    """The openings of two different articles, each followed by the same paywall notice,
    under 40 words in all (the policy's ``min_words``), like feed teasers."""
    rng = random.Random(f"{seed}:short")
    pairs = []
    for i, article in enumerate(articles):
        other = articles[rng.choice([k for k in range(len(articles)) if k != i])]
        notice = rng.choice(PAYWALLS).format(o=rng.choice(OUTLETS))
        first, second = (teaser(a.text, notice, rng.randint(32, 39)) for a in (article, other))
        pairs.append(NegativePair(PROBE_KIND, first, second))
    return pairs


def teaser(text: str, notice: str, words: int) -> str:
    """The longest opening of ``text`` that, followed by ``notice``, has at most ``words``."""
    tokens = text.split()
    best = notice
    for end in range(1, len(tokens) + 1):
        candidate = " ".join(tokens[:end]) + f" ... {notice}"
        if word_count(candidate) > words:
            break
        best = candidate
    return best


# -- hard negatives: same event, same template ------------------------------------------

SAME_EVENT = "same event, other outlet (real pairs)"
SAME_FACTS = "same event, built: B + A's fact sentences"
SAME_SITE = "same site, other article (real pairs)"
TEMPLATE_SHORT = "same template, short bodies"
TEMPLATE_FULL = "same template, full bodies"
HARD_KINDS = (SAME_EVENT, SAME_FACTS, SAME_SITE, TEMPLATE_SHORT, TEMPLATE_FULL)
_FACT = re.compile(r"(?<![.!?]\s)(?<!^)\b(?:[A-Z][\w'-]+|\d[\d,.]*)")
_QUOTE = re.compile('["\u201c\u201d]')
SAME_EVENT_FILE = Path(__file__).resolve().parent / "data" / "neardup_same_event.json"
FIXTURE_PAIR = ("hormuz-tanker.txt", "hormuz-families.txt")  # tests/fixtures/dedup
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dedup"


@functools.cache
def extracted(page: Page) -> str | None:
    """The page's text as monitor stores it (:func:`monitor.pipeline.extract.extract_page`)."""
    return extract_page(page.html.encode("utf-8"), page.url, "utf-8").text


def words_of(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def heads(html: str) -> tuple[str, str]:
    """A page's headline and standfirst: og:title (else ``<h1>``, else ``<title>``) and
    og:description (else the meta description)."""
    root = lxml.html.fromstring(html)

    def meta(*names: str) -> str:
        for name in names:
            for attr in ("property", "name"):
                found = root.xpath(f"//meta[@{attr}=$n]/@content", n=name)
                if found and str(found[0]).strip():
                    return str(found[0]).strip()
        return ""

    h1 = root.find(".//h1")
    title = meta("og:title") or (h1.text_content().strip() if h1 is not None else "")
    return title or (root.findtext(".//title") or "").strip(), meta("og:description", "description")


def transplant(
    html: str, truth: str, body: Sequence[str], head: tuple[str, str] = ("", "")
) -> str | None:
    """``html`` with its article paragraphs replaced by ``body`` (a list of paragraphs),
    and its headline and standfirst by ``head`` (the other article's).

    The article paragraphs are the ``<p>`` elements of 6+ words whose text is in the
    page's ground truth; the new ones go where the first of them was, in the element
    that held most of them.  The headline is every ``<h1>`` and any block whose text is
    the page's og:title; the standfirst any block whose text is its og:description.
    Everything else (nav, related links, footer, cookie and newsletter text) stays as
    the site published it.  None: fewer than 3 such ``<p>``."""
    own_title, own_description = (words_of(t) for t in heads(html))
    root = lxml.html.fromstring(html)
    truth_words = words_of(truth)
    paras = [
        p
        for p in root.iter("p")
        if len(t := words_of(p.text_content())) >= 30 and len(t.split()) >= 6 and t in truth_words
    ]
    if len(paras) < 3:
        return None
    parent = Counter(p.getparent() for p in paras).most_common(1)[0][0]
    position = parent.index(next(p for p in paras if p.getparent() is parent))
    # the rest of the article: any other block whose text is in the ground truth
    rest = [
        e
        for e in root.iter(*_BLOCKS)
        if e not in paras
        and not any(a in paras for a in e.iterancestors())
        and len((u := words_of(e.text_content())).split()) >= 3
        and u in truth_words
        and not any(d.tag in _BLOCKS for d in e.iterdescendants())
    ]
    for p in paras:
        p.drop_tree()
    for e in rest:
        if e.getparent() is not None:
            e.drop_tree()
    for k, text_ in enumerate(body):
        new = lxml.html.Element("p")
        new.text = text_
        parent.insert(position + k, new)
    for element in list(root.iter(*_BLOCKS)):
        folded = words_of(element.text_content())
        if element.tag == "h1" or (folded and folded == own_title):
            replace_text(element, head[0])
        elif folded and folded == own_description:
            replace_text(element, head[1])
    return str(lxml.html.tostring(root, encoding="unicode"))


def replace_text(element: lxml.html.HtmlElement, text_: str) -> None:
    """The element's content replaced by ``text_`` (its tail kept)."""
    for child in list(element):
        element.remove(child)
    element.text = text_


def transplant_fault(text: str, body: str, original: str) -> str | None:
    """Why an extracted re-bodied page does not test template leakage, if it does not:
    the extraction kept the page's *original* article text (part of it was outside the
    replaced ``<p>`` elements), or it missed most of the inserted body."""
    got, mine, theirs = shingles(text), shingles(body), shingles(original) - shingles(body)
    if len(got & theirs) > 10:
        return "original text left"
    if len(got & mine) < 0.5 * len(mine):
        return "body not extracted"
    return None


_BLOCKS: tuple[str, ...] = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")
_BLOCKS += ("pre", "dd", "dt", "figcaption", "td", "div", "span", "strong", "em", "b", "i", "a")


def body_of(text: str, words: int | None) -> list[str]:
    """The paragraphs of ``text``, or its opening sentences up to about ``words`` words."""
    paras = paragraphs(text)
    if words is None:
        return [" ".join(p) for p in paras]
    result: list[str] = []
    count = 0
    for para in paras:
        kept = []
        for sentence in para:
            if count >= words:
                break
            kept.append(sentence)
            count += word_count(sentence)
        if kept:
            result.append(" ".join(kept))
        if count >= words:
            break
    return result


def facts(text: str) -> set[str]:
    """Names (capitalised words not opening a sentence) and numbers of a text."""
    return {m.group() for s in _SENTENCE_END.split(text) for m in _FACT.finditer(s.strip())}


def with_shared_facts(a: str, b: str, share: float = 0.4) -> str | None:
    """Article ``b`` rewritten around the facts it shares with ``a`` on the same event:
    ``a``'s sentences that carry 2+ of the shared names and numbers, or a quote with one,
    inserted verbatim through ``b`` (at most ``share`` of the result's words), as an
    outlet's own story does with the wire's key sentences and quotes.  None: no such
    sentence."""
    shared = facts(a) & facts(b)
    picked = [
        sentence
        for para in paragraphs(a)
        for sentence in para
        if word_count(sentence) >= 6
        and (n := len({m.group() for m in _FACT.finditer(sentence)} & shared)) >= 1
        and (n >= 2 or _QUOTE.search(sentence))
    ]
    budget = share / (1 - share) * word_count(b)
    kept: list[str] = []
    for sentence in picked:
        if word_count(" ".join(kept)) + word_count(sentence) > budget:
            break
        kept.append(sentence)
    if not kept:
        return None
    paras = paragraphs(b)
    step = max(1, len(paras) // len(kept))
    for k, sentence in enumerate(kept):
        paras[min(len(paras) - 1, k * step)].append(sentence)
    return join(paras)


def line_keys(text: str) -> list[str]:
    """The text's lines, each folded to its words (the unit a boilerplate filter drops)."""
    return [words_of(line) for line in text.split("\n")]


def without_seen_lines(text: str, seen: frozenset[str]) -> str:
    """``text`` less the lines that a previously seen page of the same site also had."""
    return "\n".join(line for line in text.split("\n") if words_of(line) not in seen)


@dataclass(frozen=True, slots=True)
class HardSet:
    pairs: list[NegativePair]
    skipped: Counter[str]
    leaked: dict[str, list[int]]  # kind -> words of each extracted text not in its body
    # label of a template pair -> the lines of a third page of that template (another body):
    # what a store that had already seen one other item of the site would know of it
    seen: dict[str, str] = field(default_factory=dict)


def hard_negatives(pages: Sequence[Page], seed: int) -> HardSet:
    """Pairs of different articles that share an event, a site or a template, each text
    as monitor's extraction returns it from a real (or re-bodied real) page."""
    rng = random.Random(f"{seed}:hard")
    by_id = {p.id: p for p in pages}
    pairs: list[NegativePair] = []
    skipped: Counter[str] = Counter()
    leaked: dict[str, list[int]] = {}
    seen: dict[str, str] = {}

    def add(kind: str, label: str, first: str | None, second: str | None) -> None:
        if not first or not second:  # None: nothing extracted; "": a transplant fault
            skipped[kind] += 1
            return
        pairs.append(NegativePair(kind, first, second, label))

    for pair in json.loads(SAME_EVENT_FILE.read_text("utf-8"))["pairs"]:
        a, b = by_id[pair["a"]], by_id[pair["b"]]
        add(SAME_EVENT, f"{pair['event']}: {a.url} | {b.url}", extracted(a), extracted(b))
        built = with_shared_facts(a.truth, b.truth)
        add(SAME_FACTS, f"{pair['event']}: {a.url} | {b.url}", a.truth, built or "")
    tanker, families = ((FIXTURES / name).read_text("utf-8") for name in FIXTURE_PAIR)
    add(SAME_EVENT, "fixture: " + " | ".join(FIXTURE_PAIR), tanker, families)

    sites: dict[str, list[Page]] = {}
    for page in pages:
        sites.setdefault((urlsplit(page.url).hostname or "").removeprefix("www."), []).append(page)
    for host, group in sorted(sites.items()):
        for a, b in itertools.combinations(group, 2):
            add(SAME_SITE, f"{host}: {a.url} | {b.url}", extracted(a), extracted(b))

    donors = [p for p in pages if word_count(p.truth) >= 150]
    for page in pages:
        for kind, size in ((TEMPLATE_SHORT, (45, 120)), (TEMPLATE_FULL, None)):
            first, second = rng.sample([d for d in donors if d.id != page.id], 2)
            target = rng.randint(*size) if size else None
            texts: list[str | None] = []
            for donor in (first, second):
                body = body_of(donor.truth, target)
                html = transplant(page.html, page.truth, body, heads(donor.html))
                text_ = extract_page(html.encode("utf-8"), page.url, "utf-8").text if html else None
                if html is None or text_ is None:
                    texts.append(None)
                    continue
                fault = transplant_fault(text_, " ".join(body), page.truth)
                if fault:
                    skipped[f"{kind}: {fault}"] += 1
                    texts.append("")
                    continue
                texts.append(text_)
                own = set(_WORD.findall(" ".join(body).casefold()))
                extra = [w for w in _WORD.findall((text_ or "").casefold()) if w not in own]
                leaked.setdefault(kind, []).append(len(extra))
            host = urlsplit(page.url).hostname or ""
            label = f"{host} template, bodies of {first.url} | {second.url}"
            add(kind, label, *texts)
            third = random.Random(f"{seed}:third:{page.id}:{kind}").choice(
                [d for d in donors if d.id not in (page.id, first.id, second.id)]
            )
            third_body = body_of(third.truth, target)
            html = transplant(page.html, page.truth, third_body, heads(third.html))
            text_ = extract_page(html.encode("utf-8"), page.url, "utf-8").text if html else None
            if text_ and not transplant_fault(text_, " ".join(third_body), page.truth):
                seen[label] = text_  # else: no clean earlier page of the template
    return HardSet(pairs, skipped, leaked, seen)


# -- storing through the product code --------------------------------------------------


@functools.cache
def sketch_of(body: str) -> Sketch | None:
    """``sketch_text``, computed once per text (the same texts are stored at every threshold)."""
    return sketch_text(body)


def make_draft(url: str, body: str) -> ItemDraft:
    return ItemDraft(
        url=url,
        canonical_url=url,
        guid=None,
        title=None,
        author=None,
        published_at=NOW,
        updated_at=None,
        summary=None,
        text=body,
        language="en",
        site_name=None,
        categories=(),
        image_url=None,
        word_count=word_count(body),
        content_hash=normalised_text_hash(body),
        extraction_method="feed-content",
        extractor_version="feed/1",
        field_sources={"text": "feed_content"},
        sketch=sketch_of(body),
    )


class Bench:
    """A store with one feed, storing items one transaction at a time."""

    def __init__(self, url: str, policy: DedupPolicy) -> None:
        self.store = Store.open(url, dedup=policy)
        self.store.feeds.sync([FeedConfig(name="bench", url="https://bench.example/feed")], NOW)
        with Session(self.store.engine) as session:
            self.feed_id = session.scalars(select(Feed.id)).one()

    def add(self, body: str) -> Stored:
        url = f"https://bench.example/item/{next(_SERIAL)}"
        new = NewItem(self.feed_id, make_draft(url, body), url, NOW)
        return self.store.items.add_many([new])[0]

    def delete(self, ids: Iterable[int]) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(delete(Item).where(Item.id.in_(list(ids))))

    def close(self) -> None:
        self.store.close()


@dataclass(slots=True)
class Tally:
    total: int = 0
    tp: int = 0
    fp: int = 0  # a copy matched to another item, or a negative matched at all
    fn: int = 0

    @property
    def recall(self) -> float:
        return self.tp / self.total if self.total else float("nan")

    @property
    def precision(self) -> float:
        found = self.tp + self.fp
        return self.tp / found if found else float("nan")


@dataclass(slots=True)
class Outcome:
    threshold: float
    copies: dict[str, Tally] = field(default_factory=dict)
    negatives: dict[str, Tally] = field(default_factory=dict)
    by_length: dict[tuple[int, int], Tally] = field(default_factory=dict)
    missed: list[tuple[Copy, int | None]] = field(default_factory=list)
    false_pairs: list[NegativePair] = field(default_factory=list)  # negatives found duplicates

    def overall(self) -> Tally:
        """Every copy and labelled negative (the short-text probe is reported apart)."""
        total = Tally()
        for tally in self.copies.values():
            total.total += tally.total
            total.tp += tally.tp
            total.fp += tally.fp
            total.fn += tally.fn
        total.fp += sum(t.fp for k, t in self.negatives.items() if k != PROBE_KIND)
        return total


def _bucket(words: int) -> tuple[int, int]:
    return next(b for b in LENGTH_BUCKETS if b[0] <= words < b[1])


def evaluate(
    threshold: float,
    originals_url: str,
    negatives_url: str,
    ids: Sequence[int],
    articles: Sequence[Article],
    copies: Sequence[Copy],
    negatives: Sequence[NegativePair],
) -> Outcome:
    policy = DedupPolicy(threshold=threshold)
    outcome = Outcome(threshold)
    bench = Bench(originals_url, policy)
    try:
        for copy in copies:
            stored = bench.add(copy.text)
            if not stored.created:
                raise RuntimeError(f"a {copy.kind} copy was not stored as a new item")
            bench.delete([stored.item_id])
            wanted = ids[copy.original]
            for tally in (
                outcome.copies.setdefault(copy.kind, Tally()),
                outcome.by_length.setdefault(_bucket(articles[copy.original].words), Tally()),
            ):
                tally.total += 1
                if stored.duplicate_of == wanted:
                    tally.tp += 1
                elif stored.duplicate_of is None:
                    tally.fn += 1
                else:
                    tally.fp += 1
            if stored.duplicate_of != wanted:
                outcome.missed.append((copy, stored.duplicate_of))
        loo = outcome.negatives.setdefault("leave-one-out vs all originals", Tally())
        with Session(bench.store.engine) as session:
            for item_id, article in zip(ids, articles, strict=True):
                found = place(session, sketch_of(article.text), policy, exclude=item_id)
                loo.total += 1
                loo.fp += found.duplicate_of is not None
    finally:
        bench.close()
    bench = Bench(negatives_url, policy)
    try:
        for pair in negatives:
            first = bench.add(pair.partner)
            second = bench.add(pair.probe)
            bench.delete([first.item_id, second.item_id])
            tally = outcome.negatives.setdefault(pair.kind, Tally())
            tally.total += 1
            wrong = second.duplicate_of is not None or not second.created
            tally.fp += wrong
            if wrong:
                outcome.false_pairs.append(pair)
    finally:
        bench.close()
    return outcome


@dataclass(frozen=True, slots=True)
class PairStats:
    """Threshold-independent facts about one (copy, original) or negative pair."""

    jaccard: float  # exact resemblance of the 5-word shingle sets
    estimate: float  # MinHash estimate from the signatures
    banded: bool  # share at least one LSH band key (would be a candidate)


def pair_stats(a: str, b: str) -> PairStats:
    sa, sb = shingles(a), shingles(b)
    ka, kb = sketch_of(a), sketch_of(b)
    assert ka is not None and kb is not None
    return PairStats(
        len(sa & sb) / len(sa | sb),
        similarity(ka.signature, kb.signature),
        bool(set(ka.bands) & set(kb.bands)),
    )


# -- lookup cost ----------------------------------------------------------------------

OUTLET_EVERY = 20  # every 20th filler comes from one outlet that appends a fixed footer
OUTLET_FOOTER = (
    "Metro Daily News is an independent, reader-supported newsroom. Our journalism is made "
    "possible by readers like you: subscribe today for unlimited access to local news, "
    "sports and opinion. Follow us on social media, download our free app for breaking news "
    "alerts, and send story ideas or corrections to our newsroom."
)


@dataclass(frozen=True, slots=True)
class Fillers:
    signatures: np.ndarray  # (n, 128) uint32
    bands: np.ndarray  # (n, 32) int64
    words: np.ndarray  # (n,) int


def filler_text(rng: random.Random, sentences: Sequence[str], outlet: bool) -> str:
    """Real corpus sentences drawn at random until 50-150 words (40-200 and the outlet
    footer): texts that read like articles and share whole sentences with the corpus and
    with each other, as items of a real store share quotes and stock phrases."""
    target = rng.randint(40, 200) if outlet else rng.randint(50, 150)
    chosen: list[str] = []
    count = 0
    while count < target:
        sentence = rng.choice(sentences)
        chosen.append(sentence)
        count += word_count(sentence)
    body = " ".join(chosen)
    return body + "\n\n" + OUTLET_FOOTER if outlet else body


def sentence_pool(articles: Sequence[Article]) -> list[str]:
    """Every distinct sentence of 4+ words of the originals (the fillers' material)."""
    pool = {s for a in articles for para in paragraphs(a.text) for s in para if word_count(s) >= 4}
    return sorted(pool)


def _sketch_fillers(
    job: tuple[int, int, int, Sequence[str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start, stop, seed, sentences = job
    rng = random.Random(f"{seed}:fillers:{start}")
    signatures = np.empty((stop - start, PERMUTATIONS), dtype="<u4")
    bands = np.empty((stop - start, BANDS), dtype=np.int64)
    words = np.empty(stop - start, dtype=np.int64)
    for row, i in enumerate(range(start, stop)):
        body = filler_text(rng, sentences, outlet=i % OUTLET_EVERY == 0)
        sketch = sketch_text(body)
        assert sketch is not None
        signatures[row] = sketch.values()
        bands[row] = sketch.bands
        words[row] = word_count(body)
    return signatures, bands, words


def make_fillers(sentences: Sequence[str], count: int, seed: int) -> Fillers:
    """``count`` filler sketches, made by ``sketch_text`` in a process per CPU."""
    step = 5_000
    jobs = [(lo, min(lo + step, count), seed, sentences) for lo in range(0, count, step)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        parts = list(pool.map(_sketch_fillers, jobs))
    return Fillers(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))


def fill(url: str, fillers: Fillers, start: int, stop: int, chunk: int = 10_000) -> None:
    """Bulk insert fillers ``start:stop``: items by SQLAlchemy Core (executemany with
    RETURNING), then their sketches and band keys (sorted by key) by Core executemany on
    SQLite, by COPY on PostgreSQL (executemany ran at 20k rows/s there); one transaction
    per ``chunk`` items, on an engine of its own (on SQLite with a large page cache, which
    the timed lookups do not get)."""
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    item_insert = insert(Item).returning(Item.id, sort_by_parameter_order=True)
    try:
        for low in range(start, stop, chunk):
            high = min(low + chunk, stop)
            rows = [
                {
                    "url": f"https://filler.example/{i}",
                    "canonical_url": f"https://filler.example/{i}",
                    "word_count": int(fillers.words[i]),
                    "extraction_method": "feed-content",
                    "extractor_version": "feed/1",
                    "fetched_at": NOW,
                    "categories": [],
                    "field_sources": {},
                }
                for i in range(low, high)
            ]
            with engine.begin() as conn:
                if not postgres:
                    conn.exec_driver_sql("PRAGMA cache_size=-262144")
                ids = list(conn.execute(item_insert, rows).scalars())
                pairs = list(zip(ids, range(low, high), strict=True))
                sketches = [
                    (item_id, fillers.signatures[i].tobytes(), SKETCH_VERSION)
                    for item_id, i in pairs
                ]
                keys = sorted(
                    (key, item_id) for item_id, i in pairs for key in set(fillers.bands[i].tolist())
                )
                if postgres:
                    copy_rows(conn, "item_sketches (item_id, signature, version)", sketches)
                    copy_rows(conn, "sketch_bands (bucket, item_id)", keys)
                else:
                    conn.execute(
                        insert(ItemSketch),
                        [{"item_id": i, "signature": b, "version": v} for i, b, v in sketches],
                    )
                    conn.execute(insert(SketchBand), [{"bucket": k, "item_id": i} for k, i in keys])
        # Settle the load before timing: statistics (what autovacuum would do) and a
        # checkpoint, so no write-back of the load runs during the lookups.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if postgres:
                conn.execute(text("VACUUM ANALYZE"))
                conn.execute(text("CHECKPOINT"))
            else:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def copy_rows(conn: Connection, target: str, rows: Iterable[tuple[object, ...]]) -> None:
    """``COPY target FROM STDIN`` on the connection's psycopg connection."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


@dataclass(frozen=True, slots=True)
class Query:
    sketch: Sketch
    original: int | None  # index of the article it copies; None: it copies nothing


@dataclass(frozen=True, slots=True)
class Timing:
    backend: str
    stored: int
    group: str
    queries: int
    fill_seconds: float
    median_us: float
    p95_us: float
    mean_candidates: float
    max_candidates: int
    placed: int  # placed as duplicate of anything
    right: int  # placed as duplicate of the item it copies (or, without one, left alone)


class Backend:
    """Where the lookup stores live: databases by name, and a copy of one under another."""

    name = ""

    def url(self, db: str) -> str:
        raise NotImplementedError

    def snapshot(self, source: str, target: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def url(self, db: str) -> str:
        return f"sqlite:///{self.folder / db}.db"

    def snapshot(self, source: str, target: str) -> None:
        shutil.copyfile(self.folder / f"{source}.db", self.folder / f"{target}.db")


class PostgresBackend(Backend):
    """Databases created on the server (``CREATE DATABASE``) and dropped by :meth:`close`."""

    name = "postgresql"

    def __init__(self, base: str = PG_BASE) -> None:
        self.base = base
        self.admin = base.replace("+psycopg", "") + "/postgres"
        self.prefix = f"monitor_bench_near_dup_{os.getpid()}"
        self.created: list[str] = []

    def _create(self, db: str, template: str | None = None) -> None:
        name = f"{self.prefix}_{db}"
        clause = f' TEMPLATE "{self.prefix}_{template}"' if template else ""
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)

    def url(self, db: str) -> str:
        if f"{self.prefix}_{db}" not in self.created:
            self._create(db)
        return f"{self.base}/{self.prefix}_{db}"

    def snapshot(self, source: str, target: str) -> None:
        self._create(target, template=source)

    def close(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @staticmethod
    def reachable(base: str = PG_BASE) -> bool:
        try:
            with psycopg.connect(base.replace("+psycopg", "") + "/postgres", connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def time_lookups(
    engines: Sequence[Engine], queries: Sequence[Query], rounds: int = 7
) -> list[list[float]]:
    """Per engine, each query's ``place()`` time in µs: the best of ``rounds`` timed passes
    after one warm-up pass, the engines taking turns pass by pass (so a slower minute of a
    shared machine falls on every store alike); one session per engine."""
    policy = DedupPolicy()
    sessions = [Session(engine) for engine in engines]
    best = [[math.inf] * len(queries) for _ in engines]
    try:
        for session in sessions:
            for q in queries:
                place(session, q.sketch, policy)
        for _ in range(rounds):
            for session, times in zip(sessions, best, strict=True):
                for k, q in enumerate(queries):
                    begin = time.perf_counter_ns()
                    place(session, q.sketch, policy)
                    times[k] = min(times[k], (time.perf_counter_ns() - begin) / 1000)
    finally:
        for session in sessions:
            session.close()
    return best


def lookup_bench(
    backend: Backend,
    articles: Sequence[Article],
    groups: dict[str, list[Query]],
    fillers: Fillers,
    sizes: Sequence[int],
) -> list[Timing]:
    """The originals stored through ``add_many``, then fillers bulk-inserted up to each size;
    the store is copied at each size but the last, so every size can be timed in turns."""
    bench = Bench(backend.url("size0"), DedupPolicy())
    ids = [bench.add(a.text).item_id for a in articles]
    bench.close()
    fills: list[float] = []
    done = 0
    for n, size in enumerate(sizes):
        if n:
            backend.snapshot(f"size{n - 1}", f"size{n}")
        begin = time.perf_counter()
        fill(backend.url(f"size{n}"), fillers, done, size - len(articles))
        fills.append(time.perf_counter() - begin)
        done = size - len(articles)
        print(f"  {backend.name}: {size} items, fill {fills[-1]:.0f}s", file=sys.stderr)
    engines = [make_engine(backend.url(f"size{n}")) for n in range(len(sizes))]
    results = []
    try:
        for group, queries in groups.items():
            timings = time_lookups(engines, queries)
            wanted = [None if q.original is None else ids[q.original] for q in queries]
            for engine, times, seconds in zip(engines, timings, fills, strict=True):
                with Session(engine) as session:
                    stored = session.scalar(select(func.count()).select_from(Item)) or 0
                    counts = [len(candidates(session, q.sketch)) for q in queries]
                    placed = [place(session, q.sketch, DedupPolicy()).duplicate_of for q in queries]
                results.append(
                    Timing(
                        backend.name,
                        stored,
                        group,
                        len(queries),
                        seconds,
                        statistics.median(times),
                        percentile(times, 0.95),
                        statistics.fmean(counts),
                        max(counts),
                        sum(p is not None for p in placed),
                        sum(p == w for p, w in zip(placed, wanted, strict=True)),
                    )
                )
    finally:
        for engine in engines:
            engine.dispose()
    return sorted(results, key=lambda t: (t.group, t.stored))


# -- report ---------------------------------------------------------------------------


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def quantiles(values: Sequence[float]) -> str:
    ordered = sorted(values)
    return " / ".join(
        f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.2f}" for q in (0, 0.05, 0.5)
    )


@dataclass(frozen=True, slots=True)
class LabelledSet:
    pages: int
    articles: list[Article]
    copies: list[Copy]
    negatives: list[NegativePair]
    probes: list[NegativePair]
    cosines: list[float]
    hard: HardSet


def labelled_set(corpus: str, min_words: int, seed: int) -> LabelledSet:
    """The originals, their copies and the negative pairs."""
    pages = load_corpus(corpus)
    articles = [
        Article(p.id, p.truth.strip(), word_count(p.truth))
        for p in pages
        if word_count(p.truth) >= min_words
    ]
    tfidf = TfIdf([a.text for a in articles])
    nearest = [tfidf.nearest(i)[0] for i in range(len(articles))]
    copies = make_copies(
        articles, [tfidf.top_terms(i) for i in range(len(articles))], seed, nearest
    )
    negatives, cosines = make_negatives(articles, tfidf, seed)
    probes = short_probe_pairs(articles, seed)
    hard = hard_negatives(pages, seed)
    return LabelledSet(len(pages), articles, copies, negatives, probes, cosines, hard)


def report_precision(data: LabelledSet, thresholds: Sequence[float], min_words: int) -> None:
    default = DedupPolicy()
    articles, copies, negatives, probes = data.articles, data.copies, data.negatives, data.probes
    lengths = sorted(a.words for a in articles)
    print("## A. Precision and recall (SQLite, `ItemRepository.add_many`)\n")
    print(
        f"{len(articles)} originals (corpus ground-truth texts of >= {min_words} words, "
        f"of {data.pages}; words min {lengths[0]}, median {statistics.median(lengths):.0f}, "
        f"max {lengths[-1]}), {len(copies)} copies, {len(negatives)} labelled negative pairs "
        f"+ {len(articles)} leave-one-out queries. TF-IDF cosine of each article and its "
        f"nearest neighbour: median {statistics.median(data.cosines):.2f}, "
        f"max {max(data.cosines):.2f}.\n"
    )
    stats = {id(c): pair_stats(c.text, articles[c.original].text) for c in copies}
    hard = data.hard.pairs
    negative_stats = [pair_stats(p.partner, p.probe) for p in negatives]
    with tempfile.TemporaryDirectory(prefix="near-dup-") as tmp:
        originals_url = f"sqlite:///{tmp}/originals.db"
        negatives_url = f"sqlite:///{tmp}/negatives.db"
        bench = Bench(originals_url, default)
        stored = [bench.add(a.text) for a in articles]
        bench.close()
        ids = [s.item_id for s in stored]
        outcomes = [
            evaluate(
                t, originals_url, negatives_url, ids, articles, copies, negatives + hard + probes
            )
            for t in thresholds
        ]
    clustered = sum(s.duplicate_of is not None for s in stored)
    print(f"Originals placed as duplicates of other originals when stored: {clustered}.\n")

    chosen = next((o for o in outcomes if o.threshold == default.threshold), outcomes[0])
    print(f"### At threshold {chosen.threshold} (the default)\n")
    rows: list[list[object]] = []
    for kind in COPY_KINDS:
        t = chosen.copies[kind]
        rows.append([f"copy: {kind}", t.total, t.tp, t.fp, t.fn, fmt(t.precision), fmt(t.recall)])
    for kind, t in chosen.negatives.items():
        if kind != PROBE_KIND:
            rows.append([f"negative: {kind}", t.total, "-", t.fp, "-", "-", "-"])
    t = chosen.overall()
    rows.append(["**overall**", t.total, t.tp, t.fp, t.fn, fmt(t.precision), fmt(t.recall)])
    print(table(["pairs", "n", "TP", "FP", "FN", "precision", "recall"], rows))
    print(
        "FP for a copy: `duplicate_of` names another item than its original; for a negative: "
        "`duplicate_of` is set at all. Overall precision counts the FPs of every row above.\n"
    )

    print("### Threshold sweep (the same copies and pairs stored with `DedupPolicy(t)`)\n")
    rows = []
    for outcome in outcomes:
        t = outcome.overall()
        recalls = [fmt(outcome.copies[k].recall) for k in COPY_KINDS]
        rows.append([outcome.threshold, *recalls, fmt(t.recall), t.fp, fmt(t.precision)])
    print(table(["threshold", *COPY_KINDS, "recall", "FP", "precision"], rows))

    report_hard(data, outcomes, chosen)

    print(f"### Recall by length of the original (threshold {chosen.threshold})\n")
    rows = []
    for bucket in LENGTH_BUCKETS:
        if found := chosen.by_length.get(bucket):
            label = f"{bucket[0]}-{bucket[1] - 1}" if bucket[1] < 10**9 else f">= {bucket[0]}"
            rows.append([label, found.total // len(COPY_KINDS), found.total, fmt(found.recall)])
    print(table(["words", "originals", "copies", "recall"], rows))

    print("### Resemblance of the pairs (threshold-independent)\n")
    rows = []
    for kind in COPY_KINDS:
        group = [stats[id(c)] for c in copies if c.kind == kind]
        rows.append(
            [
                f"copy: {kind}",
                len(group),
                quantiles([s.jaccard for s in group]),
                quantiles([s.estimate for s in group]),
                f"{sum(s.banded for s in group) / len(group):.3f}",
            ]
        )
    for kind in NEGATIVE_KINDS:
        group = [s for p, s in zip(negatives, negative_stats, strict=True) if p.kind == kind]
        rows.append(
            [
                f"negative: {kind}",
                len(group),
                f"max {max(s.jaccard for s in group):.2f}",
                f"max {max(s.estimate for s in group):.2f}",
                f"{sum(s.banded for s in group) / len(group):.3f}",
            ]
        )
    print(
        table(
            ["pairs", "n", "Jaccard min / p5 / median", "estimate min / p5 / median", "banded"],
            rows,
        )
    )
    print(
        "Jaccard: exact resemblance of the 5-word shingle sets; estimate: MinHash signature "
        "agreement (`sketch.similarity`); banded: share of pairs with a common LSH band key, "
        "i.e. found by the index's candidate lookup.\n"
    )

    print(f"### Copies not matched to their original at {chosen.threshold}\n")
    rows = []
    for copy, got in chosen.missed[:25]:
        s = stats[id(copy)]
        why = "other item" if got is not None else "below threshold" if s.banded else "LSH miss"
        words = articles[copy.original].words
        rows.append([copy.kind, words, f"{s.jaccard:.2f}", f"{s.estimate:.2f}", why])
    print(
        table(["copy", "original words", "Jaccard", "estimate", "why"], rows) if rows else "None.\n"
    )

    print("### Probe: short different texts carrying the same paywall notice\n")
    counts = sorted(word_count(t) for p in probes for t in (p.partner, p.probe))
    print(
        f"{len(probes)} pairs: the opening words of two different articles, each followed by "
        f"the same paywall notice ({counts[0]}-{counts[-1]} words in all, under the policy's "
        f"min_words of {default.min_words}, which gates exact copies only), e.g. "
        f"`{probes[0].probe}`\n"
    )
    rows = []
    for outcome in outcomes:
        t = outcome.negatives[PROBE_KIND]
        rows.append([outcome.threshold, t.total, t.fp, fmt(t.fp / t.total)])
    print(table(["threshold", "pairs", "FP", "FP rate"], rows))


def shared_sample(a: str, b: str, limit: int = 160) -> str:
    """The longest run of words the two texts share (what made them look alike)."""
    left, right = words(a), words(b)
    index: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(right) - SHINGLE_WORDS + 1):
        index.setdefault(tuple(right[j : j + SHINGLE_WORDS]), []).append(j)
    best: tuple[int, int] = (0, 0)
    for i in range(len(left) - SHINGLE_WORDS + 1):
        for j in index.get(tuple(left[i : i + SHINGLE_WORDS]), ()):
            n = SHINGLE_WORDS
            while i + n < len(left) and j + n < len(right) and left[i + n] == right[j + n]:
                n += 1
            best = max(best, (n, i))
    n, i = best
    return " ".join(left[i : i + n])[:limit] if n else ""


SCOPE = """#### What this set tests, and what it does not

Tests: that different real articles are kept apart at the shipped policy when they
report one event on one day from different outlets (40 real pairs, English, one news
week of November 2019), when they also share the wire's key sentences and quotes (the
same pairs, built), when they come from one site (55 real pairs), and when one real
site template (nav, newsletter boxes, related links, company boilerplate, as monitor's
extraction lets them through) surrounds different bodies ({short} + {full} pairs of the
181 templates); and recall on six kinds of edited copies of the 177 real articles.

Does not test: real syndicated copies or real later versions from other outlets (the
positives are generated edits of real texts; same-URL revisions are matched by URL, not
by sketches); languages other than English beyond a few templates; sites whose
boilerplate recurs over hundreds of items (each pair is stored in an otherwise empty
store, and the line filter was simulated with one earlier page); live blogs, translations,
texts under min_words (never indexed); the {skipped} templates where the body could not
be swapped cleanly (skipped, counted above). The re-bodied pages put plain `<p>`s where the
article was, so sites that mark up their bodies differently may leak more or less.
"""


def report_hard(data: LabelledSet, outcomes: Sequence[Outcome], chosen: Outcome) -> None:
    """The hard negatives: resemblance, false positives per threshold, examples."""
    default = DedupPolicy()
    hard = data.hard
    print("### Hard negatives (different articles that share an event, a site or a template)\n")
    print(
        "Every text here is what monitor's own extraction (`extract_page`, the shipped "
        "trafilatura settings) returns for a real page, so template text that leaks into "
        "the body is in it, as in production. Kinds:\n\n"
        f"- *{SAME_EVENT}*: {sum(p.kind == SAME_EVENT for p in hard.pairs) - 1} pairs of "
        "article-bench pages on one event from different outlets, nearly all of 18-19 "
        "November 2019 (picked by hand, `bench/data/neardup_same_event.json`), plus the "
        "project's own fixture pair `tests/fixtures/dedup/hormuz-tanker.txt` / "
        "`hormuz-families.txt` (same ship, crew and places, text of its own);\n"
        f"- *{SAME_FACTS}*: built from each real pair (A, B) above, on the ground-truth "
        "texts: B with A's sentences that carry 2+ of the names and numbers both articles "
        "use (or a quote with one) inserted verbatim through it, up to 40% of its words, "
        "as an outlet's own story reuses the wire's key sentences and quotes;\n"
        f"- *{SAME_SITE}*: every pair of article-bench pages from one site "
        "(real template, real different articles);\n"
        f"- *{TEMPLATE_SHORT}* / *{TEMPLATE_FULL}*: each article-bench page's own HTML "
        "with its article paragraphs replaced by the opening 45-120 words (short) or the "
        "whole ground truth (full) of another corpus article, and its headline and "
        "standfirst by that article's, twice, so the two pages differ only in the article; "
        "then extracted.\n"
    )
    rows: list[list[object]] = []
    for kind in HARD_KINDS:
        group = [p for p in hard.pairs if p.kind == kind]
        if not group:
            continue
        short = sum(
            min(word_count(p.partner), word_count(p.probe)) < default.min_words for p in group
        )
        stats = [s for p in group if (s := safe_stats(p.partner, p.probe)) is not None]
        jac = sorted(s.jaccard for s in stats)
        fps = [str(o.negatives[kind].fp) for o in outcomes]
        rows.append(
            [
                kind,
                len(group),
                hard.skipped.get(kind, 0),
                short,
                f"{statistics.median(jac):.2f} / {percentile(jac, 0.95):.2f} / {jac[-1]:.2f}",
                f"{max(s.estimate for s in stats):.2f}",
                f"{sum(s.banded for s in stats) / len(stats):.3f}",
                *fps,
            ]
        )
    header = ["pairs", "n", "skipped", "a text < min_words", "Jaccard median / p95 / max"]
    header += ["estimate max", "banded", *(f"FP at {o.threshold}" for o in outcomes)]
    print(table(header, rows))
    faults = ", ".join(f"{k}: {n}" for k, n in sorted(hard.skipped.items()) if ":" in k)
    print(
        "skipped (pairs): no text extracted, or (templates) fewer than 3 article paragraphs "
        "found to replace, or a re-bodied page whose extraction does not test the template "
        f"(texts: {faults or 'none'}; 'original text left': over 10 of its 5-word shingles "
        "come from the page's own article, which sat partly outside the replaced `<p>`s; "
        "'body not extracted': under half of the inserted body's shingles came out). "
        f"A text under min_words ({default.min_words}) is neither matched nor indexed, so "
        "such a pair cannot be a false positive.\n"
    )
    rows = []
    for kind, leaked in hard.leaked.items():
        ordered = sorted(leaked)
        rows.append(
            [
                kind,
                len(ordered),
                statistics.median(ordered),
                percentile(ordered, 0.9),
                ordered[-1],
            ]
        )
    print("Template words leaking into the extracted text (words not in the inserted body):\n")
    print(table(["pages", "n", "median", "p90", "max"], rows))

    hard_fp = sum(chosen.negatives[k].fp for k in HARD_KINDS if k in chosen.negatives)
    copies = chosen.overall()
    tp = copies.tp
    copy_fp = sum(t.fp for t in chosen.copies.values())
    print(
        f"Precision at the shipped threshold {chosen.threshold} counting only the hard "
        f"negatives and the copies' own errors: {tp} TP, {hard_fp + copy_fp} FP "
        f"({hard_fp} hard negatives), precision "
        f"{fmt(tp / (tp + hard_fp + copy_fp) if tp + hard_fp + copy_fp else math.nan)}; "
        f"recall {fmt(copies.recall)}.\n"
    )
    report_line_filter(data, chosen.threshold)
    counts = Counter(p.kind for p in hard.pairs)
    skipped = hard.skipped.get(TEMPLATE_SHORT, 0)
    print(SCOPE.format(short=counts[TEMPLATE_SHORT], full=counts[TEMPLATE_FULL], skipped=skipped))
    wrong = [p for p in chosen.false_pairs if p.kind in HARD_KINDS]
    print(f"#### Hard negatives found duplicates at {chosen.threshold}\n")
    rows = []
    for pair in wrong[:20]:
        s = safe_stats(pair.partner, pair.probe)
        rows.append(
            [
                pair.kind,
                pair.label[:110].replace("|", "/"),
                f"{word_count(pair.partner)} / {word_count(pair.probe)}",
                f"{s.jaccard:.2f}" if s else "-",
                f"{s.estimate:.2f}" if s else "-",
                "`" + shared_sample(pair.partner, pair.probe).replace("|", "/") + "`",
            ]
        )
    header = ["pairs", "pair", "words", "Jaccard", "estimate", "longest shared run"]
    print(table(header, rows) if rows else "None.\n")
    print("#### The closest hard negatives (by signature agreement)\n")
    scored = [(s.estimate, p) for p in hard.pairs if (s := safe_stats(p.partner, p.probe))]
    rows = []
    for _, pair in sorted(scored, key=lambda x: -x[0])[:8]:
        s = safe_stats(pair.partner, pair.probe)
        assert s is not None
        rows.append(
            [
                pair.kind,
                pair.label[:110].replace("|", "/"),
                f"{word_count(pair.partner)} / {word_count(pair.probe)}",
                f"{s.jaccard:.2f}",
                f"{s.estimate:.2f}",
                "`" + shared_sample(pair.partner, pair.probe).replace("|", "/") + "`",
            ]
        )
    print(table(header, rows))


def sketch_match(a: str, b: str, threshold: float) -> bool:
    """Would ``b`` be placed as a copy of ``a`` alone: a shared band key and a signature
    agreement at or above ``threshold`` (the store's test, without the store)."""
    ka, kb = sketch_of(a), sketch_of(b)
    if ka is None or kb is None or min(ka.words, kb.words) < DedupPolicy().min_words:
        return False
    banded = bool(set(ka.bands) & set(kb.bands))
    return banded and similarity(ka.signature, kb.signature) >= threshold


def report_line_filter(data: LabelledSet, threshold: float) -> None:
    """The proposal: drop the lines a site's earlier item also had, then sketch."""
    hard = data.hard
    print("#### Proposal (not shipped): sketch without lines already seen on the same site\n")
    print(
        "Each template pair again, after removing from both texts every line (folded to its "
        "words) that the extraction of a *third* page of the same template (another "
        "article's body) also has, i.e. what a store would know after one earlier item of "
        "that site (pairs whose third page could not be re-bodied cleanly are left out). "
        "Judged by the store's test without the store (a shared band key and "
        f"signature agreement >= {threshold}).\n"
    )
    rows = []
    for kind in (TEMPLATE_SHORT, TEMPLATE_FULL):
        group = [p for p in hard.pairs if p.kind == kind and p.label in hard.seen]
        before = sum(sketch_match(p.partner, p.probe, threshold) for p in group)
        lines = {p.label: frozenset(line_keys(hard.seen[p.label])) for p in group}
        filtered = [
            (
                without_seen_lines(p.partner, lines[p.label]),
                without_seen_lines(p.probe, lines[p.label]),
            )
            for p in group
        ]
        by_shingle = sorted(
            shingle_filtered_jaccard(p.partner, p.probe, hard.seen[p.label]) for p in group
        )
        after = sum(sketch_match(a, b, threshold) for a, b in filtered)
        dropped = [
            word_count(p.partner) - word_count(a) for p, (a, _) in zip(group, filtered, strict=True)
        ]
        jac_before = sorted(safe_jaccard(p.partner, p.probe) for p in group)
        jac_after = sorted(safe_jaccard(a, b) for a, b in filtered)
        floor = DedupPolicy().min_words
        short = sum(min(word_count(a), word_count(b)) < floor for a, b in filtered)
        rows.append(
            [
                kind,
                len(group),
                before,
                after,
                f"{percentile(jac_before, 0.95):.2f} / {jac_before[-1]:.2f}",
                f"{percentile(jac_after, 0.95):.2f} / {jac_after[-1]:.2f}",
                f"{statistics.median(dropped):.0f} / {max(dropped)}",
                short,
                f"{percentile(by_shingle, 0.95):.2f} / {by_shingle[-1]:.2f}",
                sum(j >= threshold for j in by_shingle),
            ]
        )
    header = ["pairs", "n", f"FP at {threshold}", "FP, filtered", "Jaccard p95 / max"]
    header += ["filtered p95 / max", "words dropped median / max", "filtered < min_words"]
    header += ["shingle filter: Jaccard p95 / max", f"shingle filter: Jaccard >= {threshold}"]
    print(table(header, rows))
    print(
        "Shingle filter: the variant that drops the 5-word shingles (not lines) the earlier "
        "page also had, for templates whose extraction runs body and boilerplate into one "
        "line; judged by exact Jaccard (no sketch).\n"
    )


def shingle_filtered_jaccard(a: str, b: str, seen: str) -> float:
    """Jaccard of ``a`` and ``b`` after dropping the shingles that ``seen`` also has."""
    known = shingles(seen)
    sa, sb = shingles(a) - known, shingles(b) - known
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def safe_jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def safe_stats(a: str, b: str) -> PairStats | None:
    """:func:`pair_stats`, or None when a text is too short to sketch."""
    if sketch_of(a) is None or sketch_of(b) is None:
        return None
    return pair_stats(a, b)


def report_lookup(
    data: LabelledSet, sizes: Sequence[int], count: int, seed: int, skip_postgres: bool
) -> None:
    print("## B. Lookup cost: `dedup.place()` per item vs stored items\n")
    rng = random.Random(f"{seed}:queries")
    copies = [
        Query(sketch, c.original)
        for c in rng.sample(data.copies, min(count, len(data.copies)))
        if (sketch := sketch_of(c.text)) is not None
    ]
    sentences = sentence_pool(data.articles)
    outlet = [
        Query(sketch, None)
        for _ in range(100)
        if (sketch := sketch_text(filler_text(rng, sentences, outlet=True))) is not None
    ]
    groups = {"corpus copies": copies, "outlet with footer": outlet}
    begin = time.perf_counter()
    fillers = make_fillers(sentences, max(sizes) - len(data.articles), seed)
    print(
        f"Store: the {len(data.articles)} originals (through `add_many`), then filler items "
        f"bulk-inserted up to each size: real sentences of the corpus texts drawn at random "
        f"({len(sentences):,} distinct sentences of 4+ words) until 50-150 words, except "
        f"every {OUTLET_EVERY}th, which is 40-200 words of them followed by one outlet's "
        f"fixed {word_count(OUTLET_FOOTER)}-word "
        f"footer; sketched by `sketch_text` ({len(fillers.words):,} in "
        f"{time.perf_counter() - begin:.0f}s). Queries: {len(copies)} copies of the corpus "
        f"articles (each should find its original), and {len(outlet)} new items of that "
        f"outlet (sentence bodies + the footer; they copy nothing, though they share "
        f"sentences with stored fillers). The store is copied "
        f"(file copy; `CREATE DATABASE ... TEMPLATE`) when it reaches each size but the "
        f"last, then grown, so the sizes can be timed in turns: one warm-up pass per store, "
        f"then 7 rounds of one pass per store; each query's time is its best of the 7 "
        f"(`perf_counter_ns` around `place()`, one session per store); the table gives the "
        f"median and p95 over queries. After each fill: `VACUUM ANALYZE` and `CHECKPOINT` "
        f"on PostgreSQL, `wal_checkpoint(TRUNCATE)` on SQLite (no ANALYZE: the service "
        f"never runs it).\n"
    )
    with tempfile.TemporaryDirectory(prefix="near-dup-lookup-") as tmp:
        timings = lookup_bench(SqliteBackend(tmp), data.articles, groups, fillers, sizes)
    note = ""
    if skip_postgres:
        note = "PostgreSQL: skipped (--skip-postgres).\n"
    elif not PostgresBackend.reachable():
        note = f"PostgreSQL: not reachable at {PG_BASE}, skipped.\n"
    else:
        postgres = PostgresBackend()
        try:
            timings += lookup_bench(postgres, data.articles, groups, fillers, sizes)
        finally:
            postgres.close()
    rows = []
    for t in timings:
        first = next(f for f in timings if (f.backend, f.group) == (t.backend, t.group))
        rows.append(
            [
                t.backend,
                f"{t.stored:,}",
                t.group,
                f"{t.median_us:.0f}",
                f"{t.p95_us:.0f}",
                f"{t.median_us / first.median_us:.2f}",
                f"{t.p95_us / first.p95_us:.2f}",
                f"{t.mean_candidates:.1f} / {t.max_candidates}",
                f"{t.placed}/{t.queries}",
                f"{t.right}/{t.queries}",
            ]
        )
    header = ["backend", "stored items", "queries", "median µs", "p95 µs", "median ratio"]
    header += ["p95 ratio", "candidates mean / max", "placed as dup", "right"]
    print(table(header, rows))
    fills = ", ".join(
        f"{t.backend} to {t.stored:,} in {t.fill_seconds:.0f}s"
        for t in timings
        if t.group == next(iter(groups))
    )
    print(
        "Ratios: against the smallest store of the same backend and query group. 'right': "
        "a copy placed with its own original; an outlet item left alone. Bulk fills: "
        f"{fills}.\n" + note
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--min-words", type=int, default=80, help="shortest original text")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.4, 0.5, 0.6, 0.7])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=500, help="lookups timed per size")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-precision", action="store_true", help="only part B")
    parser.add_argument("--skip-lookup", action="store_true", help="only part A")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    default = DedupPolicy()
    data = labelled_set(args.corpus, args.min_words, args.seed)
    print("# Near-duplicate detection\n")
    print(
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, SQLite "
        f"{sqlite3.sqlite_version}, sketch `{SKETCH_VERSION}`, seed {args.seed}, default "
        f"policy: threshold {default.threshold}, min_words {default.min_words}.\n"
    )
    if not args.skip_precision:
        report_precision(data, args.thresholds, args.min_words)
    if not args.skip_lookup:
        report_lookup(data, sorted(args.sizes), args.queries, args.seed, args.skip_postgres)
    print(f"Total run time: {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
