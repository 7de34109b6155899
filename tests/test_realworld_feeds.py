"""No entry lost: ``monitor run --once`` over feed documents in the shapes real publishers
produce (``tests/fixtures/realworld``, described in its README), on SQLite and PostgreSQL.

The entries of each document are declared below by hand (:data:`DOCUMENTS`), from what
each document says, not from what a feed parser or monitor makes of it.  After a run,
every declared entry must be exactly one of: a ``feed_items`` row of its feed carrying
its own GUID, URL and title (the item it leads to holding that URL), or an
``entry_rejections`` row of its feed with the reason.  Nothing declared may be missing,
nothing may be recorded twice, nothing undeclared may appear, and entries are one item
exactly when they are declared so (several updates under one live-blog link).  A second
run over the same entries, in documents changed just enough to be parsed again, stores
and rejects nothing new.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import load_settings
from monitor.storage import Store
from monitor.storage.entries import Rejection
from monitor.storage.item_queries import EntryRecord, StoredItem
from tests.conftest import FIXTURES, Site

REALWORLD = FIXTURES / "realworld"
RSS, ATOM, RDF = "application/rss+xml", "application/atom+xml", "application/rdf+xml"


@dataclass(frozen=True)
class Expect:
    """One distinct entry of a document, as the document states it.

    ``url`` is the entry's link in canonical form (tracking parameters dropped, the
    ``#fragment`` kept only where it tells entries of the document apart), ``{base}``
    for the test server; ``urn`` ("guid" or "entry", "*" for either) marks a link-less
    entry instead, stored under monitor's ``urn:monitor:feed:N:<urn>:...`` key.  ``item``: entries
    with the same label are one item.  ``rejected``: a word the reason must contain;
    such an entry's ``link`` is its link as written."""

    title: str | None
    url: str | None = None
    guid: str | None = None
    urn: str | None = None
    item: str | None = None
    rejected: str | None = None
    link: str | None = None
    says: str | None = None  # a phrase the stored item's text must contain


@dataclass(frozen=True)
class Document:
    name: str  # the feed's name in feeds.yaml
    file: str  # in tests/fixtures/realworld
    path: str  # where the test server serves it (the feed URL may add a query)
    content_type: str
    entries: tuple[Expect, ...]
    full_text: bool = False
    pages: tuple[str, ...] = ()  # article pages served for a full_text feed
    query: str = ""
    language: str | None = None


def own_words(path: str) -> str:
    """The phrase only the article page served at ``path`` says (see :func:`page`)."""
    return "filed under " + " ".join(re.findall(r"[a-z0-9]+", path))


def _brief() -> tuple[Expect, ...]:
    issues = [
        Expect(
            f"Morning Brief \u2014 {day} March 2024",
            f"{{base}}/brief/archive/#brief-2024-03-{day:02d}",
            says="weekend edition" if day in (2, 3, 9, 10, 16, 17, 23, 24, 30) else None,
        )
        for day in range(1, 31)
    ]
    # the newest issue links to the page itself, no anchor: an entry of its own
    bare = "/brief/archive/"
    return (
        *issues,
        Expect("Morning Brief \u2014 31 March 2024", "{base}" + bare, says=own_words(bare)),
    )


VIDEOS = {
    "Qx7PwT2dLmA": "Why Basra's lights go out every summer",
    "a3Rk0-9YbVc": "Inside the queue for water in east Amman",
    "Zp_4nE81uQo": "Tanker crews held in the Gulf: the families waiting at home",
    "mK2vH7sJ0fE": "Explained: how Lebanon's deposit caps work",
    "Tg9cX1w_BnY": "Drone strike near Erbil \u2014 what we know so far",
    "R8uLf3Qe-Wk": "The Rafah crossing, hour by hour",
    "bN5yJ0oP2sD": "Tunis budget vote: the MPs who said no",
    "hE6tW9aZ3qM": "Idlib's last open crossing (documentary)",
    "yC1dV4kG8rT": "Sanaa talks: five questions, five answers",
    "Lw0sB7mU5xI": "Port of Beirut, four years on",
    "fJ3nQ6pA9eH": "Live Q&A with our Gulf correspondent",
    "oS8gK2cY7vN": "Hormuz shipping rates, explained in three charts",
}
LIVE_PATH = "/live/2024/mar/05/election-day-polls-close/"
LIVE = "{base}" + LIVE_PATH
LIVE_UPDATES = {
    "live-update-65e78a1f8f08e5a1b2c3d4e5": (
        "Polls have closed: counting begins in all 14 districts"
    ),
    "live-update-65e76c0b8f08e5a1b2c3d4e4": (
        "Turnout at 6pm: 47%, up four points on the last election"
    ),
    "live-update-65e74a2e8f08e5a1b2c3d4e3": "Long queues reported at schools in the old town",
    "live-update-65e7212c8f08e5a1b2c3d4e2": "Observers: no major irregularities so far",
    "live-update-65e6e0f98f08e5a1b2c3d4e1": "Welcome to our live coverage of election day",
}
ANALYSIS = "/politics/2024/mar/05/election-closer-than-polls-suggest/"
EPISODES = {
    "6f1c2a9e-3b1d-4c55-9a77-0e2d41b8c042": "Ep. 42: The water engineers of Amman",
    "b2f5d8e1-77c0-4c1e-8f0a-5d3c9b7a1e02": "Bonus: listener questions, part two",
    "0c8e7f3a-52b4-4d9e-a1c6-7b0f2e9d4041": "Ep. 41: A ferry to nowhere",
    "e9a4c1b7-0d2f-4e83-b6a5-3f1e8c2d7b01": "Bonus: listener questions, part one",
    "4d7b9e2c-8a1f-4b60-9c3e-2f5a7d1b0040": "Ep. 40: Night shift at the border",
    "lc-trailer-2024": "Trailer: The Long Corridor",
}
POSTS = {  # ?p= GUID -> (path, title)
    4417: (
        "/wp/2024/03/15/fishermen-port-rules/",
        "Fishermen say new port rules leave them stranded",
    ),
    4409: (
        "/wp/2024/03/14/council-coastal-road-budget/",
        "Council approves budget for the coastal road",
    ),
    4398: (
        "/wp/2024/03/13/opinion-hospital-not-marina/",
        "Opinion: the shore needs a hospital, not another marina",
    ),
    4391: (
        "/wp/2024/03/12/photos-spring-market/",
        "Photos: the spring market returns to the square",
    ),
    4385: ("/wp/2024/03/11/teachers-end-strike/", "Teachers end strike after pay deal"),
}
NOTES = {  # the resolved path of each relative link -> (Atom id, title)
    "/field-notes/2024/03/amman-water-queues.html": (
        "tag:fieldnotes.invalid,2024-03-12:/field-notes/2024/03/amman-water-queues",
        "Queues for water in east Amman",
    ),
    "/field-notes/archive/basra-grid.html": (  # entry xml:base="archive/"
        "tag:fieldnotes.invalid,2024-03-09:/field-notes/archive/basra-grid",
        "Basra's grid, one summer later",
    ),
    "/field-notes/2024/02/tunis-budget-gallery.html": (  # an absolute path
        "tag:fieldnotes.invalid,2024-02-27:/field-notes/2024/02/tunis-budget-gallery",
        "The Tunis budget vote, from the press gallery",
    ),
    "/field-notes/2024/02/erbil-after-the-strike.html": (  # protocol-relative
        "tag:fieldnotes.invalid,2024-02-21:/field-notes/2024/02/erbil-after-the-strike",
        "After the drone strike near Erbil",
    ),
}
PAPERS = {
    "2403.04117": "Remittances and household resilience after a currency collapse "
    "(WP 2403.04117v1 [econ.GN])",
    "2403.04109": "Electricity rationing and small business survival (WP 2403.04109v1 [econ.GN])",
    "2403.03988": "Ports, tariffs and the geography of informal trade "
    "(WP 2403.03988v2 [econ.GN] UPDATED)",
    "2403.03851": "Measuring drought exposure from satellite images of irrigated plots "
    "(WP 2403.03851v1 [stat.AP])",
}
ARABIC = {  # ?p= GUID -> (path as the publisher wrote it, unescaped; title)
    5512: (
        "/ar/news/2024/03/12/انقطاع-الكهرباء-في-البصرة/",
        "انقطاع الكهرباء في البصرة يدخل أسبوعه الثاني",
    ),
    5509: (
        "/ar/news/2024/03/11/طوابير-المياه-في-عمان/",
        "طوابير على المياه في عمّان مع بدء التقنين",
    ),
    5501: ("/ar/news/2024/03/10/budget-vote-postponed/", "البرلمان يؤجل التصويت على الموازنة"),
    5497: ("/ar/news/2024/03/09/معبر-رفح/", "عاجل: إعادة فتح معبر رفح أمام الجرحى"),
}
DIGEST = "{base}/digest/2024/03"

DOCUMENTS: tuple[Document, ...] = (
    Document(
        "Morning Brief", "briefing.rss", "/brief/feed/", RSS, _brief(), True, ("/brief/archive/",)
    ),
    Document(
        "Harbour Lights",
        "channel.atom",
        "/feeds/videos.xml",
        ATOM,
        tuple(
            Expect(title, f"{{base}}/watch?v={vid}", f"yt:video:{vid}", says="independent newsroom")
            for vid, title in VIDEOS.items()
        ),
        query="?channel_id=UCk3vZ8hLr2Qm5Nw0bTy7XeA",
    ),
    Document(
        "Election live",
        "liveblog.rss",
        "/live/feed/",
        RSS,
        (
            *(
                Expect(title, LIVE, guid, item="live page", says=own_words(LIVE_PATH))
                for guid, title in LIVE_UPDATES.items()
            ),
            Expect(
                "Analysis: why this election is closer than the polls suggest",
                "{base}" + ANALYSIS,
                "article-65e6b7c18f08e5a1b2c3d4d9",
            ),
        ),
        True,
        (LIVE_PATH, ANALYSIS),
    ),
    Document(
        "The Long Corridor",
        "podcast.rss",
        "/podcast/feed.rss",
        RSS,
        tuple(Expect(title, guid=guid, urn="guid") for guid, title in EPISODES.items()),
        True,
    ),
    Document(
        "Eastern Shore Observer",
        "wordpress.rss",
        "/wp/feed/",
        RSS,
        tuple(
            Expect(title, "{base}" + path, f"{{base}}/wp/?p={p}", says=own_words(path))
            for p, (path, title) in POSTS.items()
        ),
        True,
        tuple(path for path, _ in POSTS.values()),
    ),
    Document(
        "Field Notes",
        "notes.atom",
        "/feeds/notes.atom",
        ATOM,
        tuple(
            Expect(title, "{base}" + path, guid, says=own_words(path))
            for path, (guid, title) in NOTES.items()
        ),
        True,
        tuple(NOTES),
    ),
    Document(
        "Working papers",
        "papers.rdf",
        "/papers/rss",
        RDF,
        tuple(  # RSS 1.0 has no GUID: rdf:about is the item's identifier
            Expect(title, f"{{base}}/papers/abs/{n}", f"{{base}}/papers/abs/{n}")
            for n, title in PAPERS.items()
        ),
    ),
    Document(
        "Saltbridge notices",
        "notices.rss",
        "/notices/feed.rss",
        RSS,
        (  # a CMS that gives two notices the channel's URL as GUID
            Expect(
                "Water supply interrupted in the harbour district on Thursday",
                "{base}/notices/view.aspx?id=2291",
                "{base}/notices/",
                says="Quay Street",
            ),
            Expect(
                "Market Road closed to traffic for the spring fair",
                "{base}/notices/view.aspx?id=2288",
                "{base}/notices/",
                says="bus station",
            ),
            Expect(
                "Council meeting moved to the community hall",
                "{base}/notices/view.aspx?id=2284",
                "notice-2284",
            ),
        ),
    ),
    Document(
        "Wire ticker",
        "ticker.rss",
        "/ticker.rss",
        RSS,
        (
            Expect("FLASH: Central bank raises main rate by 150 basis points", urn="entry"),
            Expect("FLASH: Border crossing at Nahr al-Kalb reopens to trucks", urn="entry"),
            Expect(
                "URGENT: Power restored in most of the capital, grid operator says", urn="entry"
            ),
            Expect(None, urn="entry", says="24 March, not 17 March"),  # a description only
        ),
        True,
    ),
    Document(
        "City Radio",
        "radio.rss",
        "/radio/feed.rss",
        RSS,
        (
            Expect(
                "Listen live",
                guid="radio-listen-live",
                rejected="javascript",
                link="javascript:void(window.open('/radio/player','player','width=400,height=600'))",
            ),
            Expect(
                "Morning show: the mayor on the new bus lanes",
                "{base}/radio/shows/morning/2024-03-13-bus-lanes/",
                "radio-show-7781",
            ),
            Expect(
                "Today's schedule",
                rejected="data",
                link="data:text/html;base64,"
                "PGgxPlNjaGVkdWxlPC9oMT48cD42YW0gTW9ybmluZyBzaG93PC9wPg==",
            ),
            Expect(
                "Send us your news tips",
                rejected="mailto",
                link="mailto:newsdesk@cityradio.invalid?subject=Tip",
            ),
            Expect(
                "Evening bulletin: fishermen protest at the port",
                "{base}/radio/news/2024/03/12/fishermen-protest/",
                "radio-news-7769",
            ),
        ),
    ),
    Document(
        "Al-Rafidain",
        "arabic-utf8.rss",
        "/ar/feed/",
        RSS,
        tuple(
            Expect(title, "{base}" + quote(path), f"{{base}}/ar/?p={p}")
            for p, (path, title) in ARABIC.items()
        ),
        language="ar",
    ),
    Document(
        "Gulf portal",
        "arabic-1256.rss",
        "/ar1256/rss.xml",
        RSS,
        (
            Expect(
                "ارتفاع أسعار التأمين على ناقلات النفط في الخليج",
                "{base}/ar1256/news.php?id=8812",
                says="كانون الثاني",
            ),
            Expect("افتتاح محطة تحلية جديدة بعد تأخير دام عاماً", "{base}/ar1256/news.php?id=8807"),
            Expect(
                "گزارش: کاهش صادرات خرما به بازارهاي همسايه",
                "{base}/ar1256/news.php?id=8801",
                says="پ و چ و گ و ژ",
            ),
        ),
        language="ar",
    ),
    Document(
        "Gulf Daily Digest",
        "repeated-entry.rss",
        "/digest/feed.rss",
        RSS,
        tuple(  # the pinned story is listed twice: one entry
            Expect(title, f"{DIGEST}/{slug}", f"{DIGEST}/{slug}")
            for slug, title in (
                ("14/tanker-crew-released", "Tanker crew released after six weeks"),
                ("14/desalination-plant-opens", "Desalination plant opens a year late"),
                ("13/insurers-raise-premiums", "Shipping insurers raise Gulf premiums again"),
            )
        ),
    ),
)

STORM_PATH = "/live/storm-daniel-updates/"
SAME_KEY_DOCUMENTS: tuple[Document, ...] = (
    Document(
        "Valley Herald live",
        "liveblog-noguid.rss",
        "/live/storm-daniel-updates/feed/",
        RSS,
        tuple(  # one page, so one item; each update recorded with its own title
            Expect(title, "{base}" + STORM_PATH, item="storm page", says=own_words(STORM_PATH))
            for title in (
                "Roads to the east of the city reopen",
                "Shelters open in three schools",
                "Dam levels under watch",
                "Welcome to our live coverage",
            )
        ),
        True,
        (STORM_PATH,),
    ),
    Document(
        "Harbour Talk",
        "podcast-reused-guid.rss",
        "/harbour-talk/feed.rss",
        RSS,
        (  # two episodes under one GUID: each an item, known by what it says
            Expect(
                "Episode 19: The last boatbuilder",
                guid="ht-episode-0018",
                urn="*",
                says="wooden boatbuilder",
            ),
            Expect(
                "Episode 18: Night market", guid="ht-episode-0018", urn="*", says="fortune teller"
            ),
            Expect("Episode 17: Lighthouse keepers", guid="ht-episode-0017", urn="guid"),
        ),
        True,
    ),
)

# An article page, without the canonical link and og:url that would name one URL for all.
TEMPLATE = "\n".join(
    line
    for line in (FIXTURES / "pages" / "third-story.html").read_text(encoding="utf-8").split("\n")
    if 'rel="canonical"' not in line and "og:url" not in line
)
runner = CliRunner()


def page(path: str) -> str:
    """A distinct article per path: its own headline and a paragraph of its own."""
    words = own_words(path)
    headline = f"Report {words}"
    own = (
        f"<p>This report, {words}, carries details that no other report on this site "
        f"carries: it was written on its own.</p>\n"
    )
    html = TEMPLATE.replace(
        "Beirut deputies spar over rescue plan as banks tighten limits", headline
    )
    return html.replace('<div class="entry-content">\n', '<div class="entry-content">\n' + own, 1)


def document(doc: Document, base: str, rebuilt: bool = False) -> bytes:
    data = (REALWORLD / doc.file).read_bytes()
    data = data.replace(b"{base}", base.encode()).replace(
        b"{host}", base.split("//", 1)[1].encode()
    )
    if rebuilt:  # a changed channel title: parsed again, not "not modified"
        data, changed = re.subn(rb"(<title[^>]*>)", rb"\1(rebuilt) ", data, count=1)
        assert changed == 1, doc.file
    return data


def serve(site: Site, documents: Sequence[Document], rebuilt: bool = False) -> None:
    for doc in documents:
        site.serve(doc.path, document(doc, site.base, rebuilt), doc.content_type)
        for path in doc.pages:
            site.serve(path, page(path), "text/html; charset=utf-8")


def run_once(config: Path) -> str:
    result = runner.invoke(app, ["--config", str(config), "run", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Snapshot:
    items: dict[int, StoredItem]
    records: dict[int, list[EntryRecord]]
    rejections: list[Rejection]

    def rows(self) -> Counter[tuple[object, ...]]:
        found: Counter[tuple[object, ...]] = Counter()
        for item_id, records in self.records.items():
            found.update((item_id, r.feed, r.guid, r.url, r.title) for r in records)
        found.update((r.feed, r.entry_key, r.guid, r.link, r.title) for r in self.rejections)
        return found


def snapshot(config: Path) -> Snapshot:
    with Store.from_settings(load_settings(config)) as store:
        items = {i.id: i for i in store.items.iter_all()}
        return Snapshot(
            items, store.items.entries(list(items)), store.entries.rejections(limit=None)
        )


def _fill(value: str | None, base: str) -> str | None:
    return value.replace("{base}", base) if value is not None else None


def _is(expect: Expect, record: EntryRecord, base: str) -> bool:
    if record.title != expect.title or record.guid != _fill(expect.guid, base):
        return False
    if expect.urn:
        url = record.url or ""
        return url.startswith("urn:monitor:feed:") and (
            expect.urn == "*" or f":{expect.urn}:" in url
        )
    return record.url == _fill(expect.url, base)


def audit(found: Snapshot, base: str, documents: Sequence[Document]) -> list[str]:
    """What is wrong with the store, against the declared entries of every document."""
    problems: list[str] = []
    item_of_group: dict[str, int] = {}
    group_of_item: dict[int, str] = {}
    claimed: set[tuple[int, int]] = set()  # (item id, index among its records)
    refused: set[int] = set()  # indexes in found.rejections
    for doc in documents:
        records = [
            (item_id, n, r)
            for item_id, rs in found.records.items()
            for n, r in enumerate(rs)
            if r.feed == doc.name
        ]
        rejections = [(n, r) for n, r in enumerate(found.rejections) if r.feed == doc.name]
        for expect in doc.entries:
            what = f"{doc.name}: entry {expect.title!r} ({expect.guid or expect.url})"
            if expect.rejected:
                hits = [
                    (n, r)
                    for n, r in rejections
                    if (r.title, r.guid, r.link) == (expect.title, expect.guid, expect.link)
                ]
                if len(hits) != 1:
                    problems.append(f"{what}: {len(hits)} rejections, not 1")
                    continue
                n, rejection = hits[0]
                refused.add(n)
                if expect.rejected not in rejection.reason or not rejection.permanent:
                    problems.append(f"{what}: rejected for {rejection.reason!r}")
                if rejection.attempts != 1:
                    problems.append(f"{what}: rejected {rejection.attempts} times")
                continue
            matching = [(i, n, r) for i, n, r in records if _is(expect, r, base)]
            if len(matching) != 1:
                near = [
                    (r.guid, r.url, r.title) for _i, _n, r in records if r.title == expect.title
                ]
                gone = [r.reason for _n, r in rejections if r.title == expect.title]
                problems.append(
                    f"{what}: {len(matching)} records, not 1 (same title: {near}, rejected: {gone})"
                )
                continue
            item_id, n, record = matching[0]
            claimed.add((item_id, n))
            item = found.items[item_id]
            if item.canonical_url != record.url:
                problems.append(
                    f"{what}: recorded as {record.url}, its item is {item.canonical_url}"
                )
            if expect.says and expect.says not in (item.text or ""):
                problems.append(f"{what}: item {item_id}'s text lacks {expect.says!r}")
            group = f"{doc.name}: {expect.item}" if expect.item else what
            if item_of_group.setdefault(group, item_id) != item_id:
                problems.append(f"{what}: split over items {item_of_group[group]} and {item_id}")
            if group_of_item.setdefault(item_id, group) != group:
                problems.append(f"{what}: merged into item {item_id} of {group_of_item[item_id]}")
    for item_id, carried in found.records.items():
        if not carried:
            problems.append(f"item {item_id} ({found.items[item_id].canonical_url}): no entry")
        for n, r in enumerate(carried):
            if (item_id, n) not in claimed:
                problems.append(f"undeclared record of item {item_id}: {r}")
    for n, rejection in enumerate(found.rejections):
        if n not in refused:
            problems.append(f"undeclared rejection: {rejection}")
    return problems


def poll_twice(
    site: Site, write_config: Callable[..., Path], documents: Sequence[Document]
) -> None:
    """Run over ``documents``, audit; run again over them rebuilt, audit: nothing new."""
    serve(site, documents)
    config = write_config(
        [
            {
                "name": doc.name,
                "url": site.url(doc.path + doc.query),
                "full_text": doc.full_text,
                **({"language": doc.language} if doc.language else {}),
            }
            for doc in documents
        ]
    )
    output = run_once(config)
    assert f"feeds: {len(documents)} ok, 0 failed" in output, output
    first = snapshot(config)
    problems = audit(first, site.base, documents)
    assert not problems, "\n".join(problems)
    groups = {e.item or (d.name, e) for d in documents for e in d.entries if not e.rejected}
    assert len(first.items) == len(groups)
    served = {doc.path for doc in documents} | {p for doc in documents for p in doc.pages}
    assert set(site.hits) <= served, set(site.hits) - served  # every link resolved right
    assert all(site.hits.get(p) for doc in documents for p in doc.pages)
    pages_fetched = {p: n for p, n in site.hits.items() if p not in {d.path for d in documents}}

    serve(site, documents, rebuilt=True)
    output = run_once(config)
    assert f"feeds: {len(documents)} ok, 0 failed" in output, output
    assert "items: 0 new" in output, output
    second = snapshot(config)
    problems = audit(second, site.base, documents)
    assert not problems, "\n".join(problems)
    assert second.rows() == first.rows()
    assert sorted((r.feed, r.entry_key, r.attempts) for r in second.rejections) == sorted(
        (r.feed, r.entry_key, 1) for r in first.rejections
    )
    assert all(site.hits[d.path] == 2 for d in documents)  # each document read twice
    assert {p: site.hits[p] for p in pages_fetched} == pages_fetched  # no page fetched again


def test_every_entry_of_real_world_documents_is_stored_once_or_rejected(
    site: Site, write_config: Callable[..., Path]
) -> None:
    poll_twice(site, write_config, DOCUMENTS)


def test_entries_told_apart_only_by_their_titles_and_texts_are_each_kept(
    site: Site, write_config: Callable[..., Path]
) -> None:
    """Two shapes in which distinct entries share their whole key: a live blog whose
    updates share one link and carry no GUID, and a podcast whose new episode was
    cloned from the previous one, GUID and all (link-less entries known by GUID).

    At the time of writing this fails: ``identify`` (monitor/pipeline/identity.py) keeps
    the first entry of each key and skips the others as "the same entry twice in one
    document", with neither a ``feed_items`` row nor a rejection, and the document is
    then counted as done.  What is asserted here is what should happen."""
    poll_twice(site, write_config, SAME_KEY_DOCUMENTS)
