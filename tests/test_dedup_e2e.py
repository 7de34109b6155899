"""End to end: every way one story reaches the store twice, and what dedup makes of it.

Feeds and article pages are served on loopback by the ``site`` fixture and
ingested by ``monitor run --once`` (the real fetcher, extractor and writer) on
SQLite and on PostgreSQL (``write_config`` is parametrised over both).

The article texts live in ``tests/fixtures/dedup`` (original, written for these
tests); the pages and feeds around them are built here.  Two hosts stand for two
sites: the server answers as ``localhost`` and as ``127.0.0.1``, which the
canonical-URL rules treat as different sites.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app
from monitor.config import load_settings
from monitor.pipeline.sketch import similarity, sketch_text
from monitor.storage import Store
from monitor.storage.item_queries import Revision, StoredItem
from tests.conftest import FIXTURES, Site

TEXTS = FIXTURES / "dedup"
PUBLISHED = datetime(2024, 3, 12, 9, 30, tzinfo=UTC)
THRESHOLD = 0.5  # dedup.near_duplicate_threshold's default
runner = CliRunner()
WriteConfig = Callable[..., Path]


# -- article texts --------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    """A headline and its paragraphs (a fixture file: headline, blank line, paragraphs)."""

    headline: str
    paragraphs: tuple[str, ...]

    @classmethod
    def load(cls, name: str) -> Article:
        blocks = (TEXTS / f"{name}.txt").read_text(encoding="utf-8").strip().split("\n\n")
        return cls(blocks[0].strip(), tuple(b.strip() for b in blocks[1:]))

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)

    def edited(
        self, headline: str, changes: dict[str, str], appended: Sequence[str] = ()
    ) -> Article:
        """A copy with another headline, some sentences rewritten and paragraphs added."""
        body = "\n\n".join(self.paragraphs)
        for old, new in changes.items():
            assert old in body, f"{old!r} is not in {self.headline!r}"
            body = body.replace(old, new)
        return Article(headline, (*body.split("\n\n"), *appended))

    def says(self, item: StoredItem) -> bool:
        """True when the item's text is this article's body, paragraph for paragraph."""
        return all(p in (item.text or "") for p in self.paragraphs)


# -- sites, pages and feeds -----------------------------------------------------------


def other_host(site: Site) -> str:
    """The same loopback server under another host name: another site for the URL rules."""
    base = site.base.replace("//localhost:", "//127.0.0.1:")
    assert base != site.base, site.base
    return base


@dataclass(frozen=True)
class Outlet:
    """A news outlet: a name, the site it lives on and the path its pages live under."""

    name: str
    base: str
    prefix: str

    def url(self, path: str) -> str:
        return f"{self.base}{self.prefix}{path}"


def page_html(
    outlet: Outlet,
    article: Article,
    *,
    canonical: str | None = None,
    author: str = "Staff reporter",
    published: datetime = PUBLISHED,
    amp: bool = False,
) -> str:
    """An article page in the style of a news site: chrome around one article body."""
    head_extra = (
        '<script async src="https://cdn.ampproject.org/v0.js"></script>\n'
        "<style amp-boilerplate>body{visibility:hidden}</style>"
        if amp
        else f'<link rel="stylesheet" href="{outlet.base}{outlet.prefix}/theme/style.css">'
    )
    canonical_tags = (
        f'<link rel="canonical" href="{escape(canonical)}">\n'
        f'<meta property="og:url" content="{escape(canonical)}">'
        if canonical
        else ""
    )
    body = "\n".join(f"<p>{escape(p)}</p>" for p in article.paragraphs)
    home = outlet.url("/")
    return f"""<!DOCTYPE html>
<html {"amp " if amp else ""}lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(article.headline)} | {escape(outlet.name)}</title>
<meta name="description" content="{escape(article.paragraphs[0])}">
<meta name="author" content="{escape(author)}">
{canonical_tags}
<meta property="og:type" content="article">
<meta property="og:title" content="{escape(article.headline)}">
<meta property="og:site_name" content="{escape(outlet.name)}">
<meta property="article:section" content="Middle East">
<meta property="article:published_time" content="{published.isoformat()}">
{head_extra}
</head>
<body class="single single-post">
<header class="site-header">
  <a class="site-title" href="{home}">{escape(outlet.name)}</a>
  <nav class="main-navigation">
    <a href="{home}category/middle-east/">Middle East</a>
    <a href="{home}category/gulf/">Gulf</a>
    <a href="{home}category/economy/">Economy</a>
    <a href="{home}category/opinion/">Opinion</a>
  </nav>
  <form class="search-form" action="{home}"><input type="search" name="s"
    placeholder="Search {escape(outlet.name)}"><button>Search</button></form>
</header>
<main id="main" class="site-main">
<article class="post type-post hentry category-middle-east">
  <h1 class="entry-title">{escape(article.headline)}</h1>
  <p class="entry-meta">By <a href="{home}author/staff/" rel="author">{escape(author)}</a>
    &middot; <time class="entry-date published" datetime="{published.isoformat()}">
    {published:%B %d, %Y}</time></p>
  <div class="entry-content">
{body}
  </div>
  <div class="share-bar"><span>Share this story:</span>
    <a href="https://twitter.com/intent/tweet">Twitter</a>
    <a href="https://www.facebook.com/sharer/sharer.php">Facebook</a>
    <a href="mailto:?subject=News">E-mail</a></div>
</article>
<aside class="widget related-posts">
  <h2 class="widget-title">More from {escape(outlet.name)}</h2>
  <ul>
    <li><a href="{home}2024/03/11/markets-close-mixed/">Gulf markets close mixed</a></li>
    <li><a href="{home}2024/03/10/weather-warning/">Sandstorm warning for the weekend</a></li>
  </ul>
</aside>
</main>
<footer class="site-footer">
  <p>&copy; 2024 {escape(outlet.name)} &middot; <a href="{home}about/">About us</a>
    &middot; <a href="{home}privacy/">Privacy policy</a></p>
</footer>
</body>
</html>
"""


@dataclass
class Entry:
    """One feed item.  Mutable: a test may re-date it between runs."""

    title: str
    link: str
    summary: str
    guid: str | None = None
    published: datetime = PUBLISHED
    updated: datetime | None = None

    @classmethod
    def of(cls, article: Article, link: str, guid: str | None = None) -> Entry:
        return cls(article.headline, link, article.paragraphs[0], guid or link)

    def rss(self) -> str:
        updated = (
            f"\n    <atom:updated>{self.updated.isoformat()}</atom:updated>" if self.updated else ""
        )
        return f"""  <item>
    <title>{escape(self.title)}</title>
    <link>{escape(self.link)}</link>
    <guid isPermaLink="false">{escape(self.guid or self.link)}</guid>
    <pubDate>{format_datetime(self.published)}</pubDate>{updated}
    <description>{escape(self.summary)}</description>
  </item>"""


@dataclass
class Feed:
    """An RSS feed served on the site; every request rebuilds it (``lastBuildDate`` moves
    on), so each run parses it again instead of stopping at "not modified"."""

    name: str
    path: str
    outlet: Outlet
    entries: list[Entry] = field(default_factory=list)
    builds: int = 0

    def render(self) -> str:
        built = PUBLISHED + timedelta(hours=6, minutes=self.builds)
        items = "\n".join(e.rss() for e in self.entries)
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{escape(self.outlet.name)}</title>
  <link>{escape(self.outlet.url("/"))}</link>
  <description>News from the Middle East and North Africa</description>
  <lastBuildDate>{format_datetime(built)}</lastBuildDate>
  <language>en</language>
{items}
</channel>
</rss>
"""

    def serve_on(self, site: Site) -> Feed:
        def handler(_request: Request) -> Response:
            self.builds += 1
            return Response(self.render(), content_type="application/rss+xml; charset=utf-8")

        site.route(self.path, handler)
        return self

    def config(self, site: Site) -> dict[str, Any]:
        # served from its outlet's own host: allow_private lets a feed reach its own host only
        return {"name": self.name, "url": self.outlet.base + self.path}


def path_of(url: str) -> str:
    """The path of a URL on the loopback server (what ``site.route`` and ``site.hits`` use)."""
    return "/" + url.split("//", 1)[1].split("/", 1)[1].split("?", 1)[0]


def serve_page(site: Site, outlet: Outlet, url: str, article: Article, **page: Any) -> None:
    site.serve(path_of(url), page_html(outlet, article, **page), "text/html; charset=utf-8")


def redirect(site: Site, path: str, to: str) -> None:
    site.route(path, lambda _r: Response(status=302, headers={"Location": to}))


# -- running the CLI and reading the store -------------------------------------------


def monitor(config: Path, *args: str) -> str:
    result = runner.invoke(
        app, ["--config", str(config), *args], catch_exceptions=False, env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def run_once(config: Path, *feeds: str) -> str:
    """``monitor run --once`` (only the named feeds, if any); every feed must succeed."""
    output = monitor(config, "run", "--once", *(a for f in feeds for a in ("--feed", f)))
    assert " 0 failed" in output, output
    return output


def stored(config: Path) -> list[StoredItem]:
    with Store.open(load_settings(config).database_url) as store:
        return list(store.items.iter_all())


def revisions(config: Path, item_id: int) -> list[Revision]:
    with Store.open(load_settings(config).database_url) as store:
        return store.items.revisions(item_id)


def only(items: Sequence[StoredItem]) -> StoredItem:
    assert len(items) == 1, [(i.id, i.canonical_url) for i in items]
    return items[0]


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich tables in ``output``, as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.strip().startswith("│")
    ]


def exported(config: Path) -> list[dict[str, Any]]:
    output = monitor(config, "items", "export", "--format", "jsonl")
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


# -- the scenarios (each registers its pages and feeds, and returns the feeds) ---------


def ledger(site: Site) -> Outlet:
    return Outlet("The Levant Ledger", site.base, "/ledger")


def tracking_link_story(site: Site) -> list[Feed]:
    """One article in the main feed, and in a section feed with ``utm_*`` appended."""
    outlet, article = ledger(site), Article.load("rafah-crossing")
    url = outlet.url("/2024/03/12/aid-convoys-resume-through-rafah/")
    serve_page(site, outlet, url, article, canonical=url)
    return [
        Feed("Ledger: all news", "/ledger/feed/", outlet, [Entry.of(article, url)]).serve_on(site),
        Feed(
            "Ledger: Middle East",
            "/ledger/middle-east/feed/",
            outlet,
            [Entry.of(article, url + "?utm_source=rss&utm_medium=feed", guid="ledger-me-1")],
        ).serve_on(site),
    ]


def redirect_story(site: Site) -> list[Feed]:
    """A feed whose link is a 302 to the article; another feed links the article directly."""
    outlet, article = Outlet("Tigris Courier", site.base, "/courier"), Article.load("erbil-drone")
    url = outlet.url("/2024/03/12/drones-shot-down-near-erbil-airport/")
    serve_page(site, outlet, url, article)  # no rel=canonical: the final URL is the key
    redirect(site, "/courier/go/4821", url)
    short = Entry.of(article, outlet.url("/go/4821"))
    feeds = [
        Feed("Courier: short links", "/courier/short/feed/", outlet, [short]),
        Feed("Courier: Iraq", "/courier/iraq/feed/", outlet, [Entry.of(article, url)]),
    ]
    return [f.serve_on(site) for f in feeds]


AMMAN_ARTICLE = "/observer/2024/03/12/jordan-signs-desalination-contract/"


def amp_story(site: Site) -> list[Feed]:
    """An AMP page declaring the normal article (same site) canonical; a second feed
    carries the normal link."""
    outlet, article = Outlet("Amman Observer", site.base, "/observer"), Article.load("amman-water")
    url, amp_url = site.url(AMMAN_ARTICLE), site.url(AMMAN_ARTICLE.replace("/2024", "/amp/2024"))
    serve_page(site, outlet, url, article, canonical=url)
    serve_page(site, outlet, amp_url, article, canonical=url, amp=True)
    feeds = [
        Feed("Observer: mobile", "/observer/amp/feed/", outlet, [Entry.of(article, amp_url)]),
        Feed("Observer: Jordan", "/observer/jordan/feed/", outlet, [Entry.of(article, url)]),
    ]
    return [f.serve_on(site) for f in feeds]


def foreign_canonical_story(site: Site) -> tuple[list[Feed], str]:
    """A republished page whose rel=canonical names the original on another site."""
    outlet, article = ledger(site), Article.load("beirut-port")
    url = outlet.url("/2024/03/12/lebanon-invites-bids-for-port-silos/")
    original = other_host(site) + "/cedar/2024/03/12/beirut-port-silos-tender/"
    serve_page(site, outlet, url, article, canonical=original)
    feed = Feed("Ledger: Lebanon", "/ledger/lebanon/feed/", outlet, [Entry.of(article, url)])
    return [feed.serve_on(site)], url


def query_parameter_stories(site: Site) -> list[Feed]:
    """``/story?id=N`` pages: ``id`` selects the article, ``src`` (configured) only tracks."""
    outlet = Outlet("Maghreb Monitor", site.base, "/maghreb")
    articles = {"7": Article.load("basra-power"), "8": Article.load("tunis-budget")}

    def story(request: Request) -> Response:
        article = articles.get(request.args.get("id", ""))
        if article is None:
            return Response("no such story", status=404)
        html = page_html(outlet, article)
        return Response(html, content_type="text/html; charset=utf-8")

    site.route("/maghreb/story", story)
    link = outlet.url("/story")
    return [
        Feed(
            "Maghreb: rss",
            "/maghreb/feed/",
            outlet,
            [
                Entry.of(articles["7"], f"{link}?id=7&src=rss"),
                Entry.of(articles["8"], f"{link}?src=rss&id=8"),
            ],
        ).serve_on(site),
        Feed(
            "Maghreb: Iraq",
            "/maghreb/iraq/feed/",
            outlet,
            [Entry.of(articles["7"], f"{link}?id=7")],
        ).serve_on(site),
    ]


def exact_copy_story(site: Site) -> tuple[list[Feed], list[str]]:
    """The same article text on two sites, under two headlines, each site with its feed."""
    article = Article.load("sanaa-talks")
    wire = Outlet("Gulf Wire", site.base, "/wire")
    cedar = Outlet("Cedar & Crescent Daily", other_host(site), "/cedar")
    copy = replace(article, headline="Yemen detainee swap lists agreed in Oman")
    wire_url = wire.url("/2024/03/12/yemen-prisoner-exchange-lists/")
    cedar_url = cedar.url("/news/yemen-detainee-swap-lists-agreed/")
    serve_page(site, wire, wire_url, article, canonical=wire_url)
    serve_page(site, cedar, cedar_url, copy, canonical=cedar_url, author="Cedar & Crescent Desk")
    feeds = [
        Feed("Gulf Wire: Yemen", "/wire/yemen/feed/", wire, [Entry.of(article, wire_url)]),
        Feed("Cedar: Yemen", "/cedar/yemen/feed/", cedar, [Entry.of(copy, cedar_url)]),
    ]
    return [f.serve_on(site) for f in feeds], [wire_url, cedar_url]


BOILERPLATE = (
    "This article was republished from Gulf Wire under a syndication agreement. "
    "Cedar & Crescent Daily is not responsible for the content of agency copy. To receive "
    "our morning briefing on Gulf affairs, sign up for the newsletter on our website."
)

REWRITTEN_BY_CEDAR = {
    "The company said it had lost contact with the 23 crew members, most of them Indian and "
    "Filipino nationals, shortly after 4 a.m. local time.": (
        "The operator said contact with the 23 sailors, mostly from India and the Philippines, "
        "was lost at around 4 a.m."
    ),
    "Brent crude rose more than two per cent in early trading in London.": (
        "Oil prices climbed by over 2% in early London trade."
    ),
}


def syndicated_story(site: Site) -> tuple[Feed, Feed, Article, Article]:
    """A wire story, and the same story republished by another outlet: new headline,
    the outlet's boilerplate paragraph, two sentences rewritten."""
    wire_story = Article.load("hormuz-tanker")
    republished = wire_story.edited(
        "Gunboats take crude carrier off Oman, operator says",
        REWRITTEN_BY_CEDAR,
        appended=[BOILERPLATE],
    )
    wire = Outlet("Gulf Wire", site.base, "/wire")
    cedar = Outlet("Cedar & Crescent Daily", other_host(site), "/cedar")
    wire_url = wire.url("/2024/03/12/oil-tanker-seized-near-hormuz/")
    cedar_url = cedar.url("/news/gunboats-take-crude-carrier-off-oman/")
    serve_page(site, wire, wire_url, wire_story, canonical=wire_url)
    serve_page(site, cedar, cedar_url, republished, canonical=cedar_url)
    wire_feed = Feed("Gulf Wire: top", "/wire/feed/", wire, [Entry.of(wire_story, wire_url)])
    cedar_feed = Feed("Cedar: Gulf", "/cedar/gulf/feed/", cedar, [Entry.of(republished, cedar_url)])
    return wire_feed.serve_on(site), cedar_feed.serve_on(site), wire_story, republished


def same_topic_story(site: Site) -> tuple[Feed, Article]:
    """Another article about the same seizure: same ship, names and places, its own text."""
    article = Article.load("hormuz-families")
    outlet = ledger(site)
    url = outlet.url("/2024/03/13/sea-lantern-crew-families-wait/")
    serve_page(site, outlet, url, article, canonical=url, published=PUBLISHED + timedelta(days=1))
    feed = Feed("Ledger: Gulf", "/ledger/gulf/feed/", outlet, [Entry.of(article, url)])
    return feed.serve_on(site), article


@dataclass
class ChangingStory:
    """An article whose page text a test can change between runs."""

    url: str
    outlet: Outlet
    article: Article

    def serve_on(self, site: Site) -> None:
        def handler(_request: Request) -> Response:
            html = page_html(self.outlet, self.article, canonical=self.url)
            return Response(html, content_type="text/html; charset=utf-8")

        site.route(path_of(self.url), handler)


def changing_story(site: Site) -> tuple[Feed, ChangingStory]:
    outlet = Outlet("Gulf Wire", site.base, "/wire")
    story = ChangingStory(
        outlet.url("/2024/03/12/syria-border-crossing-reopens/"),
        outlet,
        Article.load("idlib-crossing"),
    )
    story.serve_on(site)
    feed = Feed(
        "Gulf Wire: Syria", "/wire/syria/feed/", outlet, [Entry.of(story.article, story.url)]
    )
    return feed.serve_on(site), story


UPDATED_IDLIB = {
    "Twelve lorries loaded with flour, blankets and heating fuel crossed in the morning": (
        "Forty-one lorries loaded with flour, blankets and heating fuel had crossed by the evening"
    ),
    "More were expected to follow during the day once inspections were complete.": (
        "A second convoy of thirty lorries is due to cross on Wednesday, the coordinator said."
    ),
}


# -- 1. tracking parameters -------------------------------------------------------------


def test_tracking_parameters_do_not_make_a_second_item(
    site: Site, write_config: WriteConfig
) -> None:
    feeds = tracking_link_story(site)
    config = write_config([f.config(site) for f in feeds])
    output = run_once(config)
    assert "items: 1 new" in output, output
    item = only(stored(config))
    assert item.canonical_url == site.url("/ledger/2024/03/12/aid-convoys-resume-through-rafah/")
    assert set(item.feeds) == {"Ledger: all news", "Ledger: Middle East"}
    assert item.extraction_method == "trafilatura"
    assert Article.load("rafah-crossing").says(item)


# -- 2. redirects -------------------------------------------------------------------------


def test_redirected_link_is_stored_once_under_its_final_url(
    site: Site, write_config: WriteConfig
) -> None:
    feeds = redirect_story(site)
    config = write_config([f.config(site) for f in feeds])
    run_once(config)
    item = only(stored(config))
    final = site.url("/courier/2024/03/12/drones-shot-down-near-erbil-airport/")
    assert item.url == final
    assert item.canonical_url == final
    assert set(item.feeds) == {"Courier: short links", "Courier: Iraq"}
    assert Article.load("erbil-drone").says(item)


def test_redirect_to_an_article_already_stored_links_it(
    site: Site, write_config: WriteConfig
) -> None:
    short, direct = redirect_story(site)
    config = write_config([short.config(site), direct.config(site)])
    run_once(config, direct.name)
    first = only(stored(config))
    page = path_of(first.url)
    assert site.hits[page] == 1
    run_once(config, short.name)
    item = only(stored(config))
    assert item.id == first.id
    assert set(item.feeds) == {"Courier: short links", "Courier: Iraq"}
    assert site.hits["/courier/go/4821"] == 1
    # the short link is remembered: the next poll neither follows it nor fetches the page
    run_once(config)
    assert site.hits["/courier/go/4821"] == 1
    assert site.hits[page] == 2  # once directly, once at the end of the redirect
    assert only(stored(config)).revision == 1


# -- 3. rel=canonical -------------------------------------------------------------------


def test_amp_page_is_stored_under_the_article_url_it_declares(
    site: Site, write_config: WriteConfig
) -> None:
    feeds = amp_story(site)
    config = write_config([f.config(site) for f in feeds])
    output = run_once(config)
    assert "items: 1 new" in output, output
    item = only(stored(config))
    assert item.canonical_url == site.url(
        "/observer/2024/03/12/jordan-signs-desalination-contract/"
    )
    assert set(item.feeds) == {"Observer: mobile", "Observer: Jordan"}
    assert item.revision == 1
    assert Article.load("amman-water").says(item)


def test_normal_link_after_amp_page_is_recognised_without_fetching(
    site: Site, write_config: WriteConfig
) -> None:
    mobile, normal = amp_story(site)
    config = write_config([mobile.config(site), normal.config(site)])
    run_once(config, mobile.name)
    run_once(config, normal.name)
    item = only(stored(config))
    assert item.canonical_url == site.url(
        "/observer/2024/03/12/jordan-signs-desalination-contract/"
    )
    assert set(item.feeds) == {"Observer: mobile", "Observer: Jordan"}
    assert site.hits.get(AMMAN_ARTICLE, 0) == 0


def test_canonical_pointing_to_another_site_is_ignored(
    site: Site, write_config: WriteConfig
) -> None:
    feeds, url = foreign_canonical_story(site)
    config = write_config([f.config(site) for f in feeds])
    run_once(config)
    item = only(stored(config))
    assert item.canonical_url == url
    assert item.url == url
    assert Article.load("beirut-port").says(item)


def test_amp_rendering_fetched_in_the_same_poll_is_not_a_revision(
    site: Site, write_config: WriteConfig
) -> None:
    """AMP pages leave things out (here the closing paragraph).  A feed listing both the AMP
    and the normal link (two feeds polled together do the same) stores one item; nothing
    said the article changed, so there is no revision."""
    outlet, article = Outlet("Amman Observer", site.base, "/observer"), Article.load("amman-water")
    url = outlet.url("/2024/03/12/jordan-signs-desalination-contract/")
    amp_url = outlet.url("/amp/2024/03/12/jordan-signs-desalination-contract/")
    serve_page(site, outlet, url, article, canonical=url)
    amp_article = replace(article, paragraphs=article.paragraphs[:-1])
    serve_page(site, outlet, amp_url, amp_article, canonical=url, amp=True)
    feed = Feed(
        "Observer: all links",
        "/observer/all/feed/",
        outlet,
        [Entry.of(article, amp_url), Entry.of(article, url)],
    ).serve_on(site)
    config = write_config([feed.config(site)])
    run_once(config)
    item = only(stored(config))
    assert item.canonical_url == url
    assert revisions(config, item.id) == []
    assert item.revision == 1


# -- 4. configured tracking parameters, meaningful parameters ---------------------------


def test_configured_tracking_parameter_is_stripped_and_meaningful_one_kept(
    site: Site, write_config: WriteConfig
) -> None:
    feeds = query_parameter_stories(site)
    config = write_config([f.config(site) for f in feeds], dedup={"tracking_params": ["src"]})
    output = run_once(config)
    assert "items: 2 new" in output, output
    items = {i.canonical_url: i for i in stored(config)}
    seven, eight = site.url("/maghreb/story?id=7"), site.url("/maghreb/story?id=8")
    assert set(items) == {seven, eight}
    assert set(items[seven].feeds) == {"Maghreb: rss", "Maghreb: Iraq"}
    assert items[eight].feeds == ("Maghreb: rss",)
    assert Article.load("basra-power").says(items[seven])
    assert Article.load("tunis-budget").says(items[eight])


# -- 5. exact copies ----------------------------------------------------------------------


def test_exact_copy_on_another_site_is_one_item_carried_by_both_feeds(
    site: Site, write_config: WriteConfig
) -> None:
    feeds, urls = exact_copy_story(site)
    config = write_config([f.config(site) for f in feeds])
    output = run_once(config)
    assert "items: 1 new" in output, output
    item = only(stored(config))
    assert item.canonical_url in urls
    assert set(item.feeds) == {"Gulf Wire: Yemen", "Cedar: Yemen"}
    assert item.duplicate_of is None
    assert Article.load("sanaa-talks").says(item)


# -- 6. near duplicates -----------------------------------------------------------------


def test_syndicated_copy_joins_the_wire_story_cluster(
    site: Site, write_config: WriteConfig
) -> None:
    wire_feed, cedar_feed, wire_story, republished = syndicated_story(site)
    assert republished.words >= 150
    config = write_config([wire_feed.config(site), cedar_feed.config(site)])
    run_once(config, wire_feed.name)  # the wire first, so which one copies which is known
    run_once(config, cedar_feed.name)
    original, copy = stored(config)
    assert wire_story.says(original) and republished.says(copy)
    assert BOILERPLATE in (copy.text or "")
    assert original.cluster_id == original.id
    assert original.duplicate_of is None
    assert copy.cluster_id == original.id
    assert copy.duplicate_of == original.id
    assert copy.similarity is not None and copy.similarity >= THRESHOLD
    assert copy.similarity < 1.0
    sketches = sketch_text(original.text), sketch_text(copy.text)
    assert sketches[0] and sketches[1]
    assert copy.similarity == similarity(sketches[0].signature, sketches[1].signature)

    shown = monitor(config, "items", "show", str(original.id))
    assert f"the same story elsewhere (cluster {original.id})" in shown
    others = [row for row in table_rows(shown) if row[0] == str(copy.id)]
    assert others, shown
    assert others[0][1] == "Cedar & Crescent Daily"
    assert others[0][3] == f"{copy.similarity:.2f}"
    shown_copy = monitor(config, "items", "show", str(copy.id))
    copy_of = rf"copy of\s+item {original.id} \(similarity {copy.similarity:.2f}\)"
    assert re.search(copy_of, shown_copy), shown_copy

    listed = monitor(config, "items", "list", "--collapse")
    assert "1 stories" in listed, listed
    (row,) = table_rows(listed)
    assert row[0] == str(original.id)
    assert row[3] == "1"  # copies

    rows = {r["id"]: r for r in exported(config)}
    assert rows[original.id]["cluster_id"] == original.id
    assert rows[original.id]["duplicate_of"] is None
    assert rows[copy.id]["cluster_id"] == original.id
    assert rows[copy.id]["duplicate_of"] == original.id
    assert rows[copy.id]["similarity"] == copy.similarity


def test_near_duplicate_threshold_comes_from_the_configuration(
    site: Site, write_config: WriteConfig
) -> None:
    wire_feed, cedar_feed, _, _ = syndicated_story(site)
    config = write_config(
        [wire_feed.config(site), cedar_feed.config(site)],
        dedup={"near_duplicate_threshold": 0.95},
    )
    run_once(config, wire_feed.name)
    run_once(config, cedar_feed.name)
    original, copy = stored(config)
    assert (original.cluster_id, copy.cluster_id) == (original.id, copy.id)
    assert copy.duplicate_of is None and copy.similarity is None


# -- 7. a different article on the same story -------------------------------------------


def test_different_article_on_the_same_topic_is_its_own_story(
    site: Site, write_config: WriteConfig
) -> None:
    wire_feed, cedar_feed, wire_story, _ = syndicated_story(site)
    other_feed, families = same_topic_story(site)
    config = write_config([f.config(site) for f in (wire_feed, cedar_feed, other_feed)])
    run_once(config, wire_feed.name)
    run_once(config)
    items = stored(config)
    assert len(items) == 3
    original = next(i for i in items if wire_story.says(i))
    different = next(i for i in items if families.says(i))
    assert different.cluster_id == different.id
    assert different.duplicate_of is None
    assert different.similarity is None
    assert {i.cluster_id for i in items} == {original.id, different.id}
    assert [o.id for o in (store_cluster(config, different.id))] == []
    listed = monitor(config, "items", "list", "--collapse")
    assert "2 stories" in listed, listed
    copies = {row[0]: row[3] for row in table_rows(listed)}
    assert copies == {str(original.id): "1", str(different.id): ""}


def store_cluster(config: Path, item_id: int) -> list[StoredItem]:
    with Store.open(load_settings(config).database_url) as store:
        return store.items.cluster(item_id)


# -- 8. revisions -------------------------------------------------------------------------


def test_changed_article_with_a_later_feed_date_is_revised(
    site: Site, write_config: WriteConfig
) -> None:
    feed, story = changing_story(site)
    config = write_config([feed.config(site)])
    run_once(config)
    first = only(stored(config))
    original_text = first.text
    page = path_of(story.url)
    assert site.hits[page] == 1

    story.article = story.article.edited(story.article.headline, UPDATED_IDLIB)
    feed.entries[0].updated = PUBLISHED + timedelta(hours=3)
    output = run_once(config)
    assert "items: 0 new" in output, output
    assert site.hits[page] == 2
    item = only(stored(config))
    assert item.id == first.id
    assert item.revision == 2
    assert story.article.says(item)
    assert "Twelve lorries" not in (item.text or "")
    (earlier,) = revisions(config, item.id)
    assert earlier.number == 1
    assert earlier.text == original_text
    assert "Twelve lorries" in (earlier.text or "")
    shown = monitor(config, "items", "show", str(item.id))
    assert re.search(r"revision\s+2; earlier texts kept: 1 \(replaced", shown), shown
    assert [r["revision"] for r in exported(config)] == [2]

    # the same later date again: nothing to fetch, nothing revised
    run_once(config)
    assert site.hits[page] == 2
    assert only(stored(config)).revision == 2
    assert len(revisions(config, item.id)) == 1


def test_later_feed_date_with_unchanged_text_is_not_a_revision(
    site: Site, write_config: WriteConfig
) -> None:
    feed, story = changing_story(site)
    config = write_config([feed.config(site)])
    run_once(config)
    first = only(stored(config))
    feed.entries[0].published = PUBLISHED + timedelta(hours=2)
    output = run_once(config)
    assert "items: 0 new" in output, output
    assert site.hits[path_of(story.url)] == 2  # the feed's date made it look again
    item = only(stored(config))
    assert item.revision == 1
    assert item.text == first.text
    assert revisions(config, item.id) == []
    assert "revision" not in monitor(config, "items", "show", str(item.id))


def test_changed_text_of_an_exact_copy_stays_carried_by_its_feed(
    site: Site, write_config: WriteConfig
) -> None:
    feeds, (_, cedar_url) = exact_copy_story(site)
    wire_feed, cedar_feed = feeds
    config = write_config([f.config(site) for f in feeds])
    run_once(config, wire_feed.name)
    run_once(config, cedar_feed.name)  # an exact copy: linked to the wire's item
    first = only(stored(config))
    assert set(first.feeds) == {"Gulf Wire: Yemen", "Cedar: Yemen"}

    cedar = cedar_feed.outlet
    amended = Article.load("sanaa-talks").edited(
        "Yemen detainee swap lists agreed in Oman",
        {},
        appended=[
            "Editor's note: this story was updated on Tuesday to add that negotiators said "
            "each side holds a roughly equal number of the detainees on the lists."
        ],
    )
    serve_page(site, cedar, cedar_url, amended, canonical=cedar_url)
    cedar_feed.entries[0].updated = PUBLISHED + timedelta(hours=5)
    run_once(config)
    items = stored(config)
    assert all(i.feeds for i in items), [(i.id, i.canonical_url, i.feeds) for i in items]
    assert any(amended.says(i) and "Cedar: Yemen" in i.feeds for i in items)
    fetched = site.hits[path_of(cedar_url)]
    run_once(config)
    assert site.hits[path_of(cedar_url)] == fetched


def test_article_moved_to_a_new_slug_under_the_same_guid_is_revised(
    site: Site, write_config: WriteConfig
) -> None:
    """A CMS renames the slug when the headline is edited; the entry keeps its GUID, the
    feed dates it later and the old URL redirects to the new one."""
    feed, story = changing_story(site)
    feed.entries[0].guid = site.url("/wire/?p=4410")
    config = write_config([feed.config(site)])
    run_once(config)
    first = only(stored(config))

    updated = story.article.edited(
        "Forty-one aid lorries cross into north-west Syria", UPDATED_IDLIB
    )
    new_url = story.outlet.url("/2024/03/12/forty-one-aid-lorries-cross-into-syria/")
    serve_page(site, story.outlet, new_url, updated, canonical=new_url)
    redirect(site, path_of(story.url), new_url)
    entry = feed.entries[0]
    entry.link, entry.title = new_url, updated.headline
    entry.updated = PUBLISHED + timedelta(hours=4)
    run_once(config)
    items = stored(config)
    assert all(i.feeds for i in items), [(i.id, i.canonical_url, i.feeds) for i in items]
    assert any(updated.says(i) and feed.name in i.feeds for i in items)
    assert first.id in {i.id for i in items}
    fetched = site.hits[path_of(new_url)]
    run_once(config)
    assert site.hits[path_of(new_url)] == fetched


# -- 9. idempotence -----------------------------------------------------------------------


def test_second_run_over_everything_adds_nothing_and_fetches_no_page(
    site: Site, write_config: WriteConfig
) -> None:
    wire_feed, cedar_feed, wire_story, republished = syndicated_story(site)
    feeds = [
        wire_feed,
        cedar_feed,
        *tracking_link_story(site),
        *redirect_story(site),
        *amp_story(site),
        *foreign_canonical_story(site)[0],
        *query_parameter_stories(site),
        *exact_copy_story(site)[0],
        same_topic_story(site)[0],
        changing_story(site)[0],
    ]
    config = write_config([f.config(site) for f in feeds], dedup={"tracking_params": ["src"]})
    output = run_once(config)
    assert f"feeds: {len(feeds)} ok, 0 failed" in output, output
    assert "items: 11 new" in output, output
    before = {i.id: i for i in stored(config)}
    assert len(before) == 11
    feed_paths = {f.path for f in feeds}
    pages_before = {p: n for p, n in site.hits.items() if p not in feed_paths}

    output = run_once(config)
    assert "items: 0 new" in output, output
    assert all(f.builds == 2 for f in feeds), {f.name: f.builds for f in feeds}  # re-parsed
    after = {i.id: i for i in stored(config)}
    assert after == before
    # the wire story and its republication, stored in the same run, make one cluster
    (original,) = (i for i in after.values() if wire_story.says(i))
    (copy,) = (i for i in after.values() if republished.says(i))
    assert {original.cluster_id, copy.cluster_id} == {min(original.id, copy.id)}
    assert {p: n for p, n in site.hits.items() if p not in feed_paths} == pages_before
