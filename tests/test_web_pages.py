"""The console's HTML pages over a database filled through the real pipeline
(tests/webdata.py), on SQLite and PostgreSQL, through Starlette's TestClient.

Each page: its status, the content an analyst needs, filters and pagination,
triage with and without its CSRF token, and the hostile feed's markup coming out
as text.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from html import escape, unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ruamel.yaml import YAML
from typer.testing import CliRunner
from werkzeug import Request, Response

from monitor.cli import app as cli
from monitor.config import load_settings
from monitor.storage import Store
from tests.conftest import Site, config_file
from tests.webdata import HOSTILE_TITLE, WebData, client, webdata  # noqa: F401

RAW_HOSTILE = (
    '<script>alert("title")</script>',
    "<b>bold</b>",
    "<img src=x onerror",
    "<i>Herald</i>",
)
TAG = re.compile(r"<[^>]+>")


def text_of(html: str) -> str:
    """What a reader sees: tags removed, entities decoded, spaces collapsed."""
    body = html.split("<main>", 1)[-1]
    return " ".join(unescape(TAG.sub(" ", body)).split())


def assert_no_hostile_markup(html: str) -> None:
    for raw in RAW_HOSTILE:
        assert raw not in html, f"{raw!r} came out as markup"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def match_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="card match [a-z]+" id="item-(\d+)"', html)]


def hostile_id(data: WebData) -> int:
    found = [i.id for i in data.store.items.list() if i.title == HOSTILE_TITLE]
    assert found, "the hostile feed's item was not ingested"
    return found[0]


@pytest.fixture
def http(webdata: WebData) -> Any:  # noqa: F811
    with client(webdata) as test_client:
        test_client.cookies.set("tz", "Asia/Beirut")
        yield test_client


def test_overview(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    page = http.get("/")
    assert page.status_code == 200
    assert "<title>Watchlists · monitor</title>" in page.text
    seen = text_of(page.text)
    for name in ("Iran", "Gaza"):
        assert f'href="/watchlists/{name}"' in page.text
    # matched today (in Beirut), the count in the chart and the unreviewed link
    counts = webdata.store.matches.per_day(None, 14, "Asia/Beirut")
    total = sum(counts["Iran"].values())
    assert total >= 1
    assert f"{total} matched in 14 days" in seen
    assert 'href="/watchlists/Iran?review=open"' in page.text
    assert "Times in Asia/Beirut." in seen


def test_match_list_rows_and_filters(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    page = http.get("/watchlists/Iran")
    assert page.status_code == 200
    rows = webdata.store.matches.summaries("Iran").rows
    assert rows and match_ids(page.text) == [r.item_id for r in rows]
    seen = text_of(page.text)
    first = rows[0]
    assert (first.title or first.url) in seen
    assert ", ".join(first.feeds) in seen
    assert f"{first.hits} hit" in seen and "Soleimani" in seen
    assert "<mark>" in page.text  # the best snippet, highlighted
    assert_no_hostile_markup(page.text)
    # a feed filter keeps only that feed's items
    gulf = http.get("/watchlists/Gaza", params={"feed": "Gulf Wire"})
    assert gulf.status_code == 200
    expected = [r.item_id for r in webdata.store.matches.summaries("Gaza", feed="Gulf Wire").rows]
    assert match_ids(gulf.text) == expected and expected
    assert (
        match_ids(
            http.get(
                "/watchlists/Gaza", params={"feed": "Hostile Herald", "review": "dismissed"}
            ).text
        )
        == []
    )
    empty = http.get("/watchlists/Iran", params={"from": "2001-01-01", "to": "2001-01-02"})
    assert empty.status_code == 200 and match_ids(empty.text) == []
    assert "No match with these filters" in text_of(empty.text)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"review": "maybe"}, "review: expected one of"),
        ({"from": "yesterday"}, "from: expected a date as YYYY-MM-DD"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "the end date is before the start date"),
        ({"cursor": "not-a-cursor"}, "bad cursor"),
        ({"per_page": "0"}, "per_page: expected 1 to 100"),
    ],
)
def test_match_list_bad_parameters(http: TestClient, params: dict[str, str], says: str) -> None:
    page = http.get("/watchlists/Iran", params=params)
    assert page.status_code == 400
    assert says in unescape(page.text) and "<html" in page.text


def test_match_list_pagination_keeps_filters(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    everything = [r.item_id for r in webdata.store.matches.summaries("Gaza", review="open").rows]
    assert len(everything) >= 2
    url = "/watchlists/Gaza?review=open&per_page=1"
    seen: list[int] = []
    pages: list[str] = []
    while url:
        page = http.get(url)
        assert page.status_code == 200
        seen.extend(match_ids(page.text))
        pages.append(url)
        found = re.search(r'<a href="([^"]+)" rel="next">', page.text)
        url = unescape(found.group(1)) if found else ""
        if url:
            assert "review=open" in url and "per_page=1" in url
    assert seen == everything
    # previous from the last page goes back one page, filters kept
    last = http.get(pages[-1])
    back = re.search(r'<a href="([^"]+)" rel="prev">', last.text)
    assert back is not None
    previous = http.get(unescape(back.group(1)))
    assert match_ids(previous.text) == [everything[-2]]
    assert 'rel="prev"' not in http.get("/watchlists/Gaza?review=open&per_page=1").text


def test_unknown_pages_say_what_to_do(http: TestClient) -> None:
    missing = http.get("/watchlists/Nope")
    assert missing.status_code == 404 and "no watchlist named &#39;Nope&#39;" in missing.text
    assert http.get("/items/999999").status_code == 404
    assert "no feed named" in http.get("/feeds/Nope").text
    assert http.get("/items/not-a-number").status_code == 422


def test_triage_needs_csrf_and_goes_back(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    store = webdata.store
    item_id = next(r.item_id for r in store.matches.summaries("Gaza").rows)
    form = {"watchlist": "Gaza", "state": "reviewed", "back": "/watchlists/Gaza?review=open"}
    refused = http.post(f"/items/{item_id}/review", data=form, follow_redirects=False)
    assert refused.status_code == 403
    forged = http.post(
        f"/items/{item_id}/review", data={**form, "csrf": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert store.reviews.get(item_id, "Gaza") is None
    token = csrf_of(http.get("/watchlists/Gaza").text)
    done = http.post(
        f"/items/{item_id}/review",
        data={**form, "csrf": token, "note": "checked <b>twice</b>"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/watchlists/Gaza?review=open#item-{item_id}"
    review = store.reviews.get(item_id, "Gaza")
    assert review is not None and review.state == "reviewed"
    assert review.note == "checked <b>twice</b>" and review.by
    # shown on the list and the item page, the note as text
    listed = http.get("/watchlists/Gaza", params={"review": "reviewed"})
    assert item_id in match_ids(listed.text)
    assert item_id not in match_ids(http.get("/watchlists/Gaza?review=open").text)
    assert "checked &lt;b&gt;twice&lt;/b&gt;" in listed.text
    item = http.get(f"/items/{item_id}")
    assert "Triage history" in item.text and "reviewed by" in text_of(item.text)
    # a redirect elsewhere is refused: back to the item instead
    away = http.post(
        f"/items/{item_id}/review",
        data={**form, "state": "open", "csrf": token, "back": "//evil.example/x"},
        follow_redirects=False,
    )
    assert away.status_code == 303 and away.headers["location"].startswith(f"/items/{item_id}")
    assert store.reviews.get(item_id, "Gaza") is None
    bad = http.post(
        f"/items/{item_id}/review",
        data={**form, "state": "wow", "csrf": token},
        follow_redirects=False,
    )
    assert bad.status_code == 400 and "unknown review state" in unescape(bad.text)
    nothing = http.post(
        f"/items/{item_id}/review",
        data={**form, "watchlist": "Nope", "csrf": token},
        follow_redirects=False,
    )
    assert nothing.status_code == 404


def test_item_page(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    store = webdata.store
    row = store.matches.summaries("Iran").rows[0]
    item = store.items.get(row.item_id)
    assert item is not None
    page = http.get(f"/items/{item.id}", params={"watchlist": "Iran"})
    assert page.status_code == 200
    seen = text_of(page.text)
    assert (item.title or "") in seen
    marks = re.findall(r"<mark>(.*?)</mark>", page.text.split('class="card item-text"', 1)[1])
    hits = [h for h in store.matches.hits(item.id) if h.field == "text"]
    assert marks and len(marks) <= len(hits)
    assert all(unescape(m).casefold() in {h.matched.casefold() for h in hits} for m in marks)
    # metadata with where each field came from
    for name, source in item.field_sources.items():
        if name in ("title", "language", "published_at") and getattr(item, name, None):
            assert re.search(
                rf"<td data-label=\"field\">{name}</td>.*?<code>{re.escape(source)}</code>",
                page.text,
                re.S,
            ), name
    assert item.extraction_method in seen
    for feed in item.feeds:
        assert feed in seen
    assert "Every hit" in seen and row.rules[0] in seen


def test_item_shared_by_two_feeds_and_clusters(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    shared = [i for i in webdata.store.items.list() if len(i.feeds) > 1]
    assert shared
    page = http.get(f"/items/{shared[0].id}")
    seen = text_of(page.text)
    for feed in shared[0].feeds:
        assert f"{feed}, first seen" in seen
    cluster = webdata.store.items.cluster(shared[0].id)
    if cluster:
        assert all(f'href="/items/{other.id}"' in page.text for other in cluster)
    else:
        assert "No other outlet carried this story" in seen


def test_hostile_feed_text_is_escaped_everywhere(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    item_id = hostile_id(webdata)
    for url in (
        f"/items/{item_id}",
        "/search?q=Soleimani",
        "/watchlists/Iran",
        "/watchlists/Gaza",
        "/feeds",
        "/feeds/Hostile%20Herald",
    ):
        page = http.get(url)
        assert page.status_code == 200, url
        assert_no_hostile_markup(page.text)
    item = http.get(f"/items/{item_id}").text
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in item
    assert HOSTILE_TITLE in text_of(item)
    feed = http.get("/feeds/Hostile%20Herald").text
    assert "Hostile &lt;i&gt;Herald&lt;/i&gt;" in feed  # the channel's own title, as text
    # the category that would be a spreadsheet formula is shown as text
    assert "=HYPERLINK(" in unescape(item)


def test_feeds_pages(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    page = http.get("/feeds")
    assert page.status_code == 200
    seen = text_of(page.text)
    for row in webdata.store.feeds.health():
        assert f'href="/feeds/{row.name.replace(" ", "+")}"' in page.text or row.name in seen
        assert row.name in seen
    assert "items per day" in seen and "15m" in seen
    one = http.get("/feeds/Levant%20Ledger")
    assert one.status_code == 200
    seen = text_of(one.text)
    details = webdata.store.feeds.details("Levant Ledger")
    assert details is not None and details.history
    assert "Fetch history" in seen and details.history[0].outcome in seen
    assert one.text.count('<td data-label="when">') == len(details.history)


def test_search_pages_and_errors(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    blank = http.get("/search")
    assert blank.status_code == 200 and "Search every stored item" in text_of(blank.text)
    page = http.get("/search", params={"q": "Soleimani"})
    assert page.status_code == 200
    expected = [h.item.id for h in webdata.store.search.search("Soleimani", limit=25).hits]
    found = [int(n) for n in re.findall(r'<article class="card match" id="item-(\d+)"', page.text)]
    assert found == expected and found
    assert "<mark>Soleimani</mark>" in page.text
    # paginated: one a page, next links until the end, the query kept
    url, walked = "/search?q=Soleimani&per_page=1", list[int]()
    while url:
        step = http.get(url)
        walked.extend(int(n) for n in re.findall(r'id="item-(\d+)"', step.text))
        nxt = re.search(r'<a href="([^"]+)" rel="next">', step.text)
        url = unescape(nxt.group(1)) if nxt else ""
        assert not url or "q=Soleimani" in url
    assert walked == expected
    bad = http.get("/search", params={"q": '"Soleimani'})
    assert bad.status_code == 400
    seen = text_of(bad.text)
    assert "does not parse at column 1" in seen or "does not parse at column" in seen
    assert "^" in bad.text
    none = http.get("/search", params={"q": "zzzqqqxxx"})
    assert none.status_code == 200 and "Nothing matches" in text_of(none.text)


def _yaml_copy(data: WebData, tmp_path: Path, digest: bool = False) -> WebData:
    """The same database and feeds, in a YAML feeds.yaml with comments (JSON has none)."""
    raw = json.loads(data.config.read_text(encoding="utf-8"))  # webdata writes JSON
    if digest:
        raw["watchlists"][0]["recipients"] = ["desk@example.org"]
    body = io.StringIO()
    YAML().dump(raw, body)
    lines = ["# the newsroom's feeds: comments must survive an edit in the console"]
    lines += [body.getvalue(), "# end of file"]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return replace(data, config=path, settings=load_settings(path))


def test_editor_preview_fragment(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    page = http.get("/watchlists/new")
    assert page.status_code == 200 and 'data-preview="/watchlists/preview"' in page.text
    fragment = http.get(
        "/watchlists/preview", params={"rules": "Soleimani\nGaza AND (\nzzzqqq", "days": "7"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    seen = text_of("<main>" + fragment.text)
    docs = sum(1 for _ in webdata.store.items.iter_documents(None))
    assert f"of {docs} items from the last 7 days would match" in seen
    assert "rule 2, column" in seen  # the broken rule, at its column
    assert "<mark>" in fragment.text
    counts = re.findall(r'<td class="num">([^<]+)</td>', fragment.text)
    assert counts[1] == "\u2013" and counts[2] == "0" and int(counts[0]) >= 1
    assert_no_hostile_markup(fragment.text)
    edit = http.get("/watchlists/Iran/edit")
    assert edit.status_code == 200 and "Haniyeh NEAR/8 Hamas" in unescape(edit.text)


def test_editor_saves_into_feeds_yaml(webdata: WebData, tmp_path: Path) -> None:  # noqa: F811
    pytest.importorskip("monitor.config_edit")
    data = _yaml_copy(webdata, tmp_path)
    with client(data) as http:
        form_page = http.get("/watchlists/new")
        token = csrf_of(form_page.text)
        stamp = re.search(r'name="expected_hash" value="([^"]*)"', form_page.text)
        assert stamp is not None
        fields = {
            "csrf": token,
            "expected_hash": stamp.group(1),
            "name": "Hormuz desk",
            "rules": 'Hormuz\n"Strait of Hormuz"',
            "feeds": "Gulf Wire",
            "days": "7",
        }
        shown = http.post("/watchlists/new", data={**fields, "preview": "1"})
        assert shown.status_code == 200 and "Hormuz desk" not in data.config.read_text()
        assert (
            http.post(
                "/watchlists/new", data={k: v for k, v in fields.items() if k != "csrf"}
            ).status_code
            == 403
        )
        bad = http.post("/watchlists/new", data={**fields, "rules": "Hormuz AND ("})
        assert bad.status_code == 400 and "rule 1, column" in text_of(bad.text)
        saved = http.post("/watchlists/new", data={**fields, "save": "1"}, follow_redirects=False)
        assert saved.status_code == 303, saved.text
        text = data.config.read_text(encoding="utf-8")
        assert text.startswith("# the newsroom's feeds: comments must survive")
        assert "# end of file" in text
        reloaded = load_settings(data.config)
        mine = next(w for w in reloaded.watchlists if w.name == "Hormuz desk")
        assert [r.query for r in mine.rules] == ["Hormuz", '"Strait of Hormuz"']
        assert mine.feeds == ["Gulf Wire"]
        assert [w.name for w in reloaded.watchlists][:2] == ["Iran", "Gaza"]
        # a second save with the hash from before the first is refused, nothing lost
        stale = http.post("/watchlists/new", data={**fields, "name": "Late", "save": "1"})
        assert stale.status_code == 409
        assert "changed by someone else" in text_of(stale.text)
        assert "Late" not in data.config.read_text(encoding="utf-8")
        # the name is taken now
        again = http.get("/watchlists/new")
        fresh = re.search(r'name="expected_hash" value="([^"]*)"', again.text)
        assert fresh is not None
        dup = http.post("/watchlists/new", data={**fields, "expected_hash": fresh.group(1)})
        assert dup.status_code == 400 and "exists already" in unescape(dup.text)


def test_digest_preview(webdata: WebData, tmp_path: Path) -> None:  # noqa: F811
    data = _yaml_copy(webdata, tmp_path, digest=True)
    with client(data) as http:
        assert http.get("/digest/Gaza").status_code == 404  # no recipients, no digest
        page = http.get("/digest/Iran")
        assert page.status_code == 200
        seen = text_of(page.text)
        assert "desk@example.org" in seen and "Subject:" in seen
        assert 'src="/digest/Iran/html"' in page.text and "sandbox" in page.text
        assert "unreviewed" in seen or "reviewed" in seen
        html = http.get("/digest/Iran/html")
        assert html.status_code == 200 and "<html" in html.text.lower()
        assert "sandbox" in html.headers["content-security-policy"]
        assert_no_hostile_markup(html.text)


def test_item_page_shows_a_revision_with_its_diff(
    site: Site, write_config: Callable[..., Path]
) -> None:
    """A feed re-dates its entry with a changed text (``full_text: false``): the item page
    shows version 1 -> 2 with the sentence removed and the one added, escaped."""
    state = {"day": "06", "text": "The talks in Doha were postponed until further notice."}

    def feed(_: Request) -> Response:
        body = escape(" ".join([state["text"], "Officials said <b>nothing</b> more."] * 6))
        rss = (
            "<?xml version='1.0'?><rss version='2.0' "
            "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel><title>Desk</title>"
            f"<link>{site.base}/</link><item><title>Doha talks</title>"
            f"<link>{site.url('/doha/')}</link><guid>doha-1</guid>"
            f"<pubDate>{state['day']} Jan 2020 10:00:00 +0000</pubDate>"
            f"<content:encoded><![CDATA[<p>{body}</p>]]></content:encoded></item>"
            "</channel></rss>"
        )
        return Response(rss, content_type="application/rss+xml")

    site.route("/desk.rss", feed)
    config = write_config(
        [{"name": "Desk", "url": site.url("/desk.rss"), "full_text": False}],
        watchlists=[{"name": "Doha", "rules": ["Doha"]}],
    )
    run = CliRunner()
    assert run.invoke(cli, ["--config", str(config), "run", "--once"]).exit_code == 0
    state["day"], state["text"] = "07", "The talks in Doha resumed on Tuesday after a delay."
    assert run.invoke(cli, ["--config", str(config), "run", "--once"]).exit_code == 0
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        data = WebData(config, settings, store, site.base, settings.database_url)
        (item,) = list(store.items.iter_all())
        assert item.revision == 2
        with client(data) as http:
            page = http.get(f"/items/{item.id}")
    assert page.status_code == 200
    diff = page.text.split('id="revisions"', 1)[1]
    assert "Version 1 → 2" in diff
    assert (
        '<span class="removed">The talks in Doha were postponed until further notice.</span>'
        in diff
    )
    assert '<span class="added">The talks in Doha resumed on Tuesday after a delay.</span>' in diff
    assert "Officials said &lt;b&gt;nothing&lt;/b&gt; more." in diff and "<b>nothing" not in diff
    assert "revised (version 2)" in text_of(page.text)
    # the current text's hits are marked in the text
    assert "<mark>Doha</mark>" in page.text.split('class="card item-text"', 1)[1]


def test_match_list_tag_and_language_filters(http: TestClient, webdata: WebData) -> None:  # noqa: F811
    store = webdata.store
    gulf = [r.item_id for r in store.matches.summaries("Gaza", tag="gulf").rows]
    assert gulf and match_ids(http.get("/watchlists/Gaza", params={"tag": "gulf"}).text) == gulf
    every = [r.item_id for r in store.matches.summaries("Gaza").rows]
    english = http.get("/watchlists/Gaza", params={"language": "en"})
    assert match_ids(english.text) == every
    arabic = http.get("/watchlists/Gaza", params={"language": "ar"})
    assert arabic.status_code == 200 and match_ids(arabic.text) == []
    # the filters stay selected in the form
    assert "<option selected>gulf</option>" in http.get("/watchlists/Gaza?tag=gulf").text


def test_empty_states_say_what_to_do(db_url: str, tmp_path: Path) -> None:
    config = config_file(tmp_path, db_url, [])
    settings = load_settings(config)
    with Store.open(settings.database_url) as store:
        data = WebData(config, settings, store, "", settings.database_url)
        with client(data) as http:
            overview = text_of(http.get("/").text)
            assert "No watchlist yet" in overview and "Create a watchlist" in overview
            assert str(config) in overview
            feeds = text_of(http.get("/feeds").text)
            assert "No feed in the database yet" in feeds and "monitor run --once" in feeds
            search = http.get("/search", params={"q": "Soleimani"})
            assert search.status_code == 200 and "Nothing matches" in text_of(search.text)
            preview = text_of("<main>" + http.get("/watchlists/preview?rules=x").text)
            assert "No item was ingested in the last 7 days" in preview


def test_pages_behind_a_login(webdata: WebData) -> None:  # noqa: F811
    """Bound to another address: the pages need a login, then triage works with the new
    session's CSRF token (and not with the one from before the login)."""
    token = "s3cret-token-for-the-desk"
    with client(webdata, env={"MONITOR_WEB_TOKENS": f"ana:{token}"}) as http:
        assert http.get("/watchlists/Gaza", follow_redirects=False).status_code in (302, 303, 401)
        login = http.get("/login")
        before = csrf_of(login.text)
        done = http.post(
            "/login", data={"csrf": before, "token": token, "next": "/watchlists/Gaza"}
        )
        assert done.status_code == 200 and 'href="/watchlists/Gaza/atom"' in done.text
        assert '<span class="who">ana</span>' in done.text and 'action="/logout"' in done.text
        item_id = match_ids(done.text)[0]
        form = {"watchlist": "Gaza", "state": "dismissed", "back": "/watchlists/Gaza"}
        stale = http.post(
            f"/items/{item_id}/review", data={**form, "csrf": before}, follow_redirects=False
        )
        assert stale.status_code == 403
        fresh = csrf_of(done.text)
        ok = http.post(
            f"/items/{item_id}/review", data={**form, "csrf": fresh}, follow_redirects=False
        )
        assert ok.status_code == 303
        review = webdata.store.reviews.get(item_id, "Gaza")
        assert review is not None and review.by == "ana" and review.state == "dismissed"
        webdata.store.reviews.set(item_id, "Gaza", "open", by="test")  # leave it as found
        out = http.post("/logout", data={"csrf": fresh}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
