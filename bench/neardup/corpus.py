"""The labelled set's material: the corpus articles, their generated copies (headline,
boilerplate, edits, removals, revisions), the outlet texts they borrow, and the plain
negatives (TF-IDF nearest, random, same boilerplate, short texts with one paywall notice)."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from monitor.pipeline.text import normalised_text_hash, word_count

COPY_KINDS = ("headline", "boilerplate", "edited", "removed", "combined", "revised")
NEGATIVE_KINDS = ("tfidf-nearest", "random", "nearest+same boilerplate")
PROBE_KIND = "short+same paywall notice"
LENGTH_BUCKETS = ((80, 200), (200, 500), (500, 1000), (1000, 10**9))

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"\u201d\u2019)])\s+")
_NUMBER = re.compile(r"\d+")

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
