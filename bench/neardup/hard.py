"""Hard negatives: real pairs on one event or from one site, the same-event pairs built
around shared facts, and real pages re-bodied with other articles (same template), each
text as monitor's ``extract_page`` returns it."""

from __future__ import annotations

import functools
import itertools
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html

from bench.article_metric import Page
from bench.neardup.corpus import (
    _SENTENCE_END,
    _WORD,
    NegativePair,
    join,
    paragraphs,
)
from monitor.pipeline.extract import extract_page
from monitor.pipeline.sketch import (
    shingles,
)
from monitor.pipeline.text import word_count

# -- hard negatives: same event, same template ------------------------------------------

SAME_EVENT = "same event, other outlet (real pairs)"
SAME_FACTS = "same event, built: B + A's fact sentences"
SAME_SITE = "same site, other article (real pairs)"
TEMPLATE_SHORT = "same template, short bodies"
TEMPLATE_FULL = "same template, full bodies"
HARD_KINDS = (SAME_EVENT, SAME_FACTS, SAME_SITE, TEMPLATE_SHORT, TEMPLATE_FULL)
_FACT = re.compile(r"(?<![.!?]\s)(?<!^)\b(?:[A-Z][\w'-]+|\d[\d,.]*)")
_QUOTE = re.compile('["\u201c\u201d]')
SAME_EVENT_FILE = Path(__file__).resolve().parents[1] / "data" / "neardup_same_event.json"
FIXTURE_PAIR = ("hormuz-tanker.txt", "hormuz-families.txt")  # tests/fixtures/dedup
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "dedup"


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
