"""Bounded fuzzing of the ingest stages: parse, extract, assemble, store.

Feeds and pages come from anyone.  The documents here are the fixture feeds and
pages mutated (bit flips, truncation, deletion, duplication, and insertion of
hostile fragments: XML external entities, entity bombs, NUL bytes, invalid
UTF-8, huge attributes, deep nesting, ``javascript:`` links, impossible dates,
right-to-left text, terminal controls), templates filled with random text, and
plain random bytes.  The laws:

* :func:`parse_feed` returns a :class:`ParsedFeed` for every document, with a
  ``problem`` when it found no entry;
* :func:`extract_page` never raises, and a kept page decompresses to its bytes;
* every draft :func:`assemble` / :func:`extract_and_assemble` make is stored by
  the real storage layer (SQLite) without error and reads back unchanged.  No
  exception is tolerated there, not even a ``StorageError``: an item the store
  refuses is an article lost, and one hostile entry must not cost that;
* nothing read from a local file through an XML entity (``/etc/passwd``, or a
  secret file of the test's own) appears in any field, nor any request is made.

CI runs a fixed number of derandomised examples without an example database, so
every run tries the same inputs (the file takes well under 20 s).  For a longer
hunt, ``MONITOR_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` runs that many
random examples per test; a failure prints the blob that reproduces it.

The defects it found are fixed and their cases kept as plain tests below: an HTML
fragment holding a C0 control character (``html_to_text``), a numeric character
reference to a surrogate or past U+10FFFF in a document feedparser's loose parser
reads, an XML declaration whose encoding name is not UTF-8, and a NUL reaching
PostgreSQL.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.pipeline.assemble import assemble, extract_and_assemble
from monitor.pipeline.extract import decompress, extract_page
from monitor.pipeline.parse import parse_feed
from monitor.pipeline.text import word_count
from monitor.pipeline.types import (
    Extraction,
    Fetched,
    ItemDraft,
    Outcome,
    PageDate,
    ParsedEntry,
    ParsedFeed,
)
from monitor.storage import Store
from monitor.storage.items import NewItem
from tests.conftest import FIXTURES, Site
from tests.test_storage import add_feeds

pytestmark = pytest.mark.slow

# -- settings ------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("MONITOR_FUZZ_EXAMPLES") or 0)
HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def fuzz(examples: int) -> settings:
    """``examples`` fixed examples in CI; ``MONITOR_FUZZ_EXAMPLES`` random ones instead."""
    if EXAMPLES:
        return settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            print_blob=True,
            suppress_health_check=HEALTH,
        )
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=HEALTH,
    )


# -- secrets that must never leak ------------------------------------------------------

SECRET_DIR = Path(tempfile.gettempdir()) / f"monitor-fuzz-{os.getpid()}"
SECRET_FILE = SECRET_DIR / "secret.txt"
SECRET = f"monitor-fuzz-secret-{uuid.uuid4().hex}"


def _passwd_line() -> str | None:
    try:
        first = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return first[0] if first and first[0].strip() else None


PASSWD = _passwd_line()
LEAKS = tuple(s for s in (SECRET, PASSWD) if s)


@pytest.fixture(scope="module", autouse=True)
def _secret_file() -> Iterator[None]:
    SECRET_DIR.mkdir(parents=True, exist_ok=True)
    SECRET_FILE.write_text(SECRET + "\n", encoding="utf-8")
    yield
    SECRET_FILE.unlink(missing_ok=True)
    SECRET_DIR.rmdir()


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a dataclass, tuple, dict or bytes value, recursively."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", errors="replace")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from strings_in(item)
    elif hasattr(value, "__dataclass_fields__"):
        for field in fields(value):
            yield from strings_in(getattr(value, field.name))


def assert_no_leak(value: Any) -> None:
    for text in strings_in(value):
        for secret in LEAKS:
            assert secret not in text, f"local file contents leaked into {value!r}"


# -- the known defect --------------------------------------------------------------------


# -- seeds and hostile fragments -----------------------------------------------------------

BASE = "https://levant.example"
FEED_URL = f"{BASE}/feed/"


def _seeds(folder: str, suffixes: tuple[str, ...]) -> list[bytes]:
    return [
        path.read_bytes().replace(b"{base}", BASE.encode())
        for path in sorted((FIXTURES / folder).iterdir())
        if path.suffix in suffixes
    ]


FEED_SEEDS = _seeds("feeds", (".rss", ".atom", ".html"))
PAGE_SEEDS = _seeds("pages", (".html",))


def laughs(depth: int, width: int = 10) -> bytes:
    """A billion-laughs entity block (``&lolN;`` expands to width**depth "lol"s)."""
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * width) for n in range(1, depth + 1)
    )
    return b"<!DOCTYPE rss [" + entities + b"]>"


XXE_FILE = b'<!DOCTYPE rss [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
XXE_SECRET = b'<!DOCTYPE rss [<!ENTITY e SYSTEM "file://@SECRET@">]>'
XXE_PARAMETER = b'<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://@SECRET@"> %p;]>'
# A bomb past expat's amplification limit costs ~0.7 s to refuse: as a prolog it is in
# test_entity_bombs_are_bounded, and only inserted (anywhere) among the fragments here.
DOCTYPES = [XXE_FILE, XXE_SECRET, XXE_PARAMETER, laughs(4)]
HOSTILE = [
    *DOCTYPES,
    laughs(9),
    b"&e;",
    b"&lol9;",
    b"&lol4;",
    b"\x00",
    b"\x00" * 17,
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xe2\x82",  # a truncated sequence
    b'<a href="' + b"x" * 200_000 + b'">big</a>',
    b"<div>" * 3000,
    b"<b><i>" * 1500,
    b'<a href="javascript:alert(1)">click</a>',
    b"<link>javascript:alert(1)</link>",
    b'<link rel="canonical" href="javascript:alert(1)">',
    b'<link rel="canonical" href="http://[::1">',
    b'<base href="javascript:alert(1)//">',
    b'<meta property="og:url" content="http://levant.example:99999/x">',
    b"<link>http://[::1/x</link>",
    b'<guid isPermaLink="true">//evil.example/%00</guid>',
    b"<pubDate>Fri, 31 Dec 9999 23:59:59 +0000</pubDate>",
    b"<pubDate>Sat, 01 Jan 0001 00:00:00 -2400</pubDate>",
    b"<pubDate>32 Foo 20x1 25:61:61 +9999</pubDate>",
    b"<updated>0000-00-00T00:00:00Z</updated>",
    b"<published>99999-12-31T99:99:99+99:99</published>",
    b'<meta property="article:published_time" content="9999-12-31T23:59:59Z">',
    b'<meta property="article:published_time" content="-0001-13-45">',
    b'<time datetime="2999-01-01T00:00:00Z">later</time>',
    "<title>\u0645\u0631\u0641\u0623 \u0628\u064a\u0631\u0648\u062a \u202egnp.exe</title>".encode(),
    "\u062a\u0647\u0631\u0627\u0646 \u200f\u06a9\u0647 \u200c\u0645\u06cc".encode(),
    b"\x1b[2J\x1b]8;;http://evil.example/\x07x\x1b]8;;\x07\r\x08\x0c\x7f",
    "\u009b31m \u2028 \u2066".encode(),
    b"&#0;&#x1b;&#xD800;&#1114112;&#x202e;&#xFFFE;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b'<?xml version="1.0" encoding="x-no-such-charset"?>',
    b'<?xml version="1.0" encoding="utf-16"?>',
    b'<?xml version="1.0" encoding="\xd5TF-8"?>',
    b'<meta charset="utf-7">+ADw-script+AD4-alert(1)+ADw-/script+AD4-',
    b"<script>alert(1)</script>",
    b"[red]pwned[/red] [link=http://evil.example/]x[/link]",
    b"<?php system('id'); ?>",
]
fragments = st.one_of(
    st.sampled_from(HOSTILE),
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed document with one to four random edits."""
    doc = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        size = len(doc)
        op = draw(st.sampled_from(("flip", "truncate", "insert", "after_tag", "cut", "copy")))
        if op == "flip" and size:
            doc[draw(st.integers(0, size - 1))] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del doc[draw(st.integers(0, size)) :]
        elif op == "insert":
            at = draw(st.integers(0, size))
            doc[at:at] = draw(fragments)
        elif op == "after_tag":  # inside an element's text, where a parser keeps it
            ends = [m.end() for m in re.finditer(rb">", doc)] or [0]
            at = draw(st.sampled_from(ends))
            doc[at:at] = draw(fragments)
        elif op in ("cut", "copy") and size:
            start = draw(st.integers(0, size - 1))
            end = draw(st.integers(start, min(size, start + 400)))
            if op == "cut":
                del doc[start:end]
            else:
                doc[end:end] = doc[start:end]
    return bytes(doc)


@st.composite
def with_doctype(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed whose prolog declares hostile entities, referenced from its text."""
    doc = draw(st.sampled_from(seeds))
    body = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", doc)
    doctype = draw(st.sampled_from(DOCTYPES))
    reference = b"&e;" if b"ENTITY e " in doctype else b"&lol4;"
    tags = [m.end() for m in re.finditer(rb"<(title|description|summary|p|h1)[^>]*>", body)]
    for at in sorted(draw(st.lists(st.sampled_from(tags or [0]), max_size=4)), reverse=True):
        body = body[:at] + reference + body[at:]
    return b'<?xml version="1.0" encoding="utf-8"?>' + doctype + body


def secret_in(doc: bytes) -> bytes:
    return doc.replace(b"@SECRET@", str(SECRET_FILE).encode())


any_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("<>&\x00\x1b"),
    max_size=80,
)


@st.composite
def filled_feed(draw: st.DrawFn) -> bytes:
    """An RSS or Atom template whose fields hold random text, escaped or raw."""
    raw = draw(st.booleans())

    def value() -> str:
        text = draw(any_text)
        if raw:
            return text
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    if draw(st.booleans()):
        entries = "".join(
            f"<item><title>{value()}</title><link>{value()}</link><guid>{value()}</guid>"
            f"<pubDate>{value()}</pubDate><author>{value()}</author>"
            f"<category>{value()}</category><description>{value()}</description></item>"
            for _ in range(draw(st.integers(0, 3)))
        )
        doc = f'<rss version="2.0"><channel><title>{value()}</title>{entries}</channel></rss>'
    else:
        entries = "".join(
            f"<entry><title type='html'>{value()}</title><link href='{value()}'/>"
            f"<id>{value()}</id><updated>{value()}</updated><author><name>{value()}</name>"
            f"</author><content type='html'>{value()}</content></entry>"
            for _ in range(draw(st.integers(0, 3)))
        )
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{value()}</title>{entries}</feed>'
    return doc.encode("utf-8", "surrogatepass")


content_types = st.sampled_from(
    [
        None,
        "application/rss+xml",
        "application/atom+xml; charset=utf-8",
        "text/xml; charset=iso-8859-1",
        "text/html",
        "application/json",
        "text/plain; charset=x-no-such",
    ]
)
charsets = st.sampled_from([None, "utf-8", "windows-1256", "iso-8859-1", "utf-16", "x-no-such"])


# -- the laws -----------------------------------------------------------------------------


def check_feed(feed: ParsedFeed) -> None:
    assert isinstance(feed, ParsedFeed)
    assert isinstance(feed.entries, tuple)
    assert all(isinstance(entry, ParsedEntry) for entry in feed.entries)
    if not feed.entries:
        assert isinstance(feed.problem, str) and feed.problem
    for entry in feed.entries:
        for when in (entry.published, entry.updated):
            assert when is None or when.tzinfo is not None
        assert isinstance(entry.categories, tuple)
    assert_no_leak(feed)


def check_extraction(extraction: Extraction, content: bytes, keep_raw: bool) -> None:
    assert isinstance(extraction, Extraction)
    if extraction.text is None:
        assert extraction.error
    if extraction.date is not None:
        assert isinstance(extraction.date, PageDate) and extraction.date.value.tzinfo is not None
    if keep_raw:
        assert extraction.raw_html is not None and decompress(extraction.raw_html) == content
    assert_no_leak(extraction)


def check_draft(draft: ItemDraft, now: datetime, skew: timedelta) -> None:
    assert isinstance(draft, ItemDraft)
    assert draft.published_at is None or draft.published_at <= now + skew
    assert draft.updated_at is None or draft.updated_at <= now + skew
    assert draft.word_count == word_count(draft.text)
    assert_no_leak(draft)


# -- parse_feed ---------------------------------------------------------------------------


@fuzz(250)
@given(doc=st.one_of(mutated(FEED_SEEDS), with_doctype(FEED_SEEDS)), content_type=content_types)
def test_parse_feed_survives_mutated_feeds(doc: bytes, content_type: str | None) -> None:
    feed = parse_feed(secret_in(doc), FEED_URL, content_type)
    if feed is not None:
        check_feed(feed)


@fuzz(150)
@given(doc=filled_feed(), content_type=content_types)
def test_parse_feed_survives_random_fields(doc: bytes, content_type: str | None) -> None:
    feed = parse_feed(doc, FEED_URL, content_type)
    if feed is not None:
        check_feed(feed)


@fuzz(150)
@given(doc=st.binary(max_size=4096), content_type=content_types)
def test_parse_feed_survives_random_bytes(doc: bytes, content_type: str | None) -> None:
    feed = parse_feed(doc, FEED_URL, content_type)
    if feed is not None:
        check_feed(feed)


# -- extract_page ---------------------------------------------------------------------------


@fuzz(80)
@given(
    doc=st.one_of(mutated(PAGE_SEEDS), with_doctype(PAGE_SEEDS)),
    charset=charsets,
    keep_raw=st.booleans(),
)
def test_extract_page_never_raises_on_mutated_pages(
    doc: bytes, charset: str | None, keep_raw: bool
) -> None:
    doc = secret_in(doc)
    check_extraction(extract_page(doc, f"{BASE}/2020/01/07/x/", charset, keep_raw), doc, keep_raw)


@fuzz(60)
@given(
    doc=st.one_of(
        st.binary(max_size=4096),
        any_text.map(lambda t: f"<html><body><article><p>{t}</p></article></body></html>".encode()),
    ),
    charset=charsets,
    keep_raw=st.booleans(),
)
def test_extract_page_never_raises_on_random_bytes(
    doc: bytes, charset: str | None, keep_raw: bool
) -> None:
    check_extraction(extract_page(doc, f"{BASE}/x", charset, keep_raw), doc, keep_raw)


# -- assemble and store ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, int]]:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    with Store.open(f"sqlite:///{path}") as store:
        yield store, add_feeds(store, "Fuzz")["Fuzz"]


def store_and_check(store: Store, feed_id: int, draft: ItemDraft, entry_url: str | None) -> None:
    """The draft stores without any exception; a new item reads back as it was given."""
    now = datetime.now(UTC)
    [result] = store.items.add_many([NewItem(feed_id, draft, entry_url, now)])
    assert isinstance(result.item_id, int)
    item = store.items.get(result.item_id)
    assert item is not None
    assert_no_leak(item)
    if result.created:
        for name in ("url", "canonical_url", "title", "author", "summary", "text", "site_name"):
            assert getattr(item, name) == getattr(draft, name), name
        assert item.categories == draft.categories
        assert item.field_sources == draft.field_sources


@fuzz(80)
@given(
    feed_doc=st.one_of(mutated(FEED_SEEDS), with_doctype(FEED_SEEDS), filled_feed()),
    page_doc=st.one_of(mutated(PAGE_SEEDS), with_doctype(PAGE_SEEDS)),
    charset=charsets,
    future=st.sampled_from([timedelta(0), timedelta(minutes=15), timedelta(days=3650)]),
)
def test_assembled_drafts_are_stored(
    fuzz_store: tuple[Store, int],
    feed_doc: bytes,
    page_doc: bytes,
    charset: str | None,
    future: timedelta,
) -> None:
    store, feed_id = fuzz_store
    feed = parse_feed(secret_in(feed_doc), FEED_URL, "application/rss+xml")
    now = datetime.now(UTC)
    page_doc = secret_in(page_doc)
    for entry in [e for e in feed.entries if e.link][:3]:  # as the orchestrator: linked ones
        link = entry.link or ""
        for full_text in (False, True):
            draft = assemble(
                entry,
                None,
                None,
                feed_title=feed.title,
                feed_language=feed.language,
                full_text=full_text,
                now=now,
                future_skew=future,
            )
            check_draft(draft, now, future)
            store_and_check(store, feed_id, draft, link)
        page = Fetched(
            link,
            Outcome.OK,
            final_url=link,
            status=200,
            content=page_doc,
            content_type="text/html",
            charset=charset,
        )
        draft = extract_and_assemble(
            entry,
            page,
            feed_title=feed.title,
            feed_language=feed.language,
            now=now,
            future_skew=future,
            keep_raw=True,
        )
        check_draft(draft, now, future)
        store_and_check(store, feed_id, draft, link)


# -- hostile documents, one by one ------------------------------------------------------------


def rss(prolog: bytes, title: bytes, description: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?>' + prolog + b'<rss version="2.0"><channel>'
        b"<title>" + title + b"</title><link>https://levant.example/</link><item><title>"
        + title + b"</title><link>https://levant.example/1</link><description>"
        + description + b"</description></item></channel></rss>"
    )  # fmt: skip


def page(prolog: bytes, text: bytes) -> bytes:
    sentence = b"The envoy crossed the border at dawn and met the delegation. "
    return (
        b'<?xml version="1.0"?>' + prolog + b"<html><head><title>" + text + b"</title></head>"
        b"<body><article><h1>" + text + b"</h1><p>" + sentence * 8 + text + b"</p>"
        b"</article></body></html>"
    )


def test_external_entities_are_neither_read_nor_fetched(site: Site) -> None:
    """file:// and http:// entities, general and parameter ones, in feeds and pages: no
    file's contents in any field, and not one request to the URL they name."""
    remote = site.url("/xxe.dtd").encode()
    site.serve("/xxe.dtd", f'<!ENTITY e "{SECRET}">', "application/xml-dtd")
    prologs = [
        XXE_FILE,
        secret_in(XXE_SECRET),
        secret_in(XXE_PARAMETER),
        b'<!DOCTYPE rss [<!ENTITY e SYSTEM "' + remote + b'">]>',
        b'<!DOCTYPE rss [<!ENTITY % p SYSTEM "' + remote + b'"> %p;]>',
        b'<!DOCTYPE rss SYSTEM "' + remote + b'">',
    ]
    for prolog in prologs:
        feed = parse_feed(rss(prolog, b"News &e;", b"&e;"), FEED_URL, "application/rss+xml")
        check_feed(feed)
        extraction = extract_page(page(prolog, b"Report &e;"), f"{BASE}/1", "utf-8")
        check_extraction(extraction, b"", keep_raw=False)
    assert site.hits.get("/xxe.dtd", 0) == 0


def test_entity_bombs_are_bounded() -> None:
    """A billion laughs, and a quadratic blow-up: answered within seconds, and small."""
    quadratic = b'<!DOCTYPE rss [<!ENTITY a "' + b"a" * 50_000 + b'">]>'
    bombs = [(laughs(9), b"&lol9;"), (laughs(5), b"&lol5;"), (quadratic, b"&a;" * 2000)]
    started = datetime.now(UTC)
    for prolog, reference in bombs:
        feed = parse_feed(rss(prolog, reference, reference), FEED_URL, "application/rss+xml")
        check_feed(feed)
        assert sum(len(s) for s in strings_in(feed)) < 10_000_000
        extraction = extract_page(page(prolog, reference), f"{BASE}/1", "utf-8")
        check_extraction(extraction, b"", keep_raw=False)
        assert sum(len(s) for s in strings_in(extraction)) < 10_000_000
    assert datetime.now(UTC) - started < timedelta(seconds=20)


@pytest.mark.parametrize("control", ["\x01", "\x08", "\x0c", "\x1b", "\x1f"], ids=repr)
def test_parse_feed_reads_html_content_holding_control_characters(control: str) -> None:
    doc = rss(b"", b"Title", f"&lt;p&gt;before{control}after&lt;/p&gt;".encode())
    feed = parse_feed(doc, FEED_URL, "application/rss+xml")
    [entry] = feed.entries
    assert entry.summary is not None and "before" in entry.summary


@pytest.mark.postgres
def test_a_nul_in_a_feed_entry_is_stored_on_postgresql(pg_url: str) -> None:
    feed = parse_feed(rss(b"", b"Title\x00with a NUL", b"Body\x00text"), FEED_URL, None)
    [entry] = feed.entries
    now = datetime.now(UTC)
    draft = assemble(
        entry, None, None, feed_title=feed.title, feed_language=None, full_text=True, now=now
    )
    with Store.open(pg_url) as store:
        store_and_check(store, add_feeds(store, "Fuzz")["Fuzz"], draft, entry.link)


@pytest.mark.parametrize("reference", ["&#xD800;", "&#57343;", "&#x110000;", "&#99999999999;"])
def test_parse_feed_reads_out_of_range_character_references(reference: str) -> None:
    doc = rss(b"", f"Cedar {reference} Crescent & Daily".encode())  # the bare & is malformed
    feed = parse_feed(doc, FEED_URL, "application/rss+xml")
    check_feed(feed)
    [entry] = feed.entries
    assert entry.title is not None and "Crescent" in entry.title


@pytest.mark.parametrize("name", [b"\xd5TF-8", b"\xff"], ids=repr)
def test_parse_feed_reads_an_undecodable_encoding_name(name: bytes) -> None:
    declared = b'encoding="' + name + b'"'
    doc = rss(b"", b"Cedar Crescent Daily").replace(b'encoding="utf-8"', declared)
    check_feed(parse_feed(doc, FEED_URL, "application/rss+xml"))
