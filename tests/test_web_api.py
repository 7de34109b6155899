"""The console's JSON API over a database filled by ``monitor run --once`` (SQLite and
PostgreSQL): every endpoint, its filters and cursors, exports, and 4xx on bad input."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.webdata import HOSTILE_TITLE, WebData, client, csrf_of, webdata  # noqa: F401


@pytest.fixture(scope="module")
def http(webdata: WebData) -> Iterator[TestClient]:  # noqa: F811
    with client(webdata) as test_client:
        test_client.headers["X-CSRF-Token"] = csrf_of(test_client)  # as the pages' scripts do
        yield test_client


def item_id(webdata: WebData, title_part: str) -> int:  # noqa: F811
    return next(i.id for i in webdata.store.items.list(limit=None) if title_part in (i.title or ""))


def test_items_are_listed_newest_first_and_paged_by_cursor(http: TestClient) -> None:
    everything = http.get("/api/items", params={"limit": 200}).json()
    assert len(everything["items"]) == 5 and everything["next_cursor"] is None
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/api/items", params=params).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [i["id"] for i in everything["items"]]
    times = [i["published_at"] for i in everything["items"]]
    assert times == sorted(times, reverse=True)


def test_item_filters(http: TestClient) -> None:
    gulf = http.get("/api/items", params={"feed": "Gulf Wire"}).json()["items"]
    assert gulf and all("Gulf Wire" in i["feeds"] for i in gulf)
    assert http.get("/api/items", params={"language": "fr"}).json()["items"] == []
    late = http.get("/api/items", params={"since": "2020-01-09"}).json()["items"]
    assert late and all(i["published_at"] >= "2020-01-09" for i in late)
    early = http.get("/api/items", params={"until": "2020-01-08"}).json()["items"]
    assert early and all(i["published_at"] < "2020-01-08" for i in early)


def test_item_detail_has_text_sources_matches_and_cluster(
    http: TestClient,
    webdata: WebData,  # noqa: F811
) -> None:
    funeral = item_id(webdata, "mourning Soleimani")
    body = http.get(f"/api/items/{funeral}").json()
    assert body["item"]["id"] == funeral and "Soleimani" in body["text"]
    assert body["field_sources"]["title"]
    assert {h["watchlist"] for h in body["matches"]} == {"Iran"}
    assert any(h["matched"] == "Soleimani" for h in body["matches"])
    assert body["entries"][0]["feed"] == "Levant Ledger"
    # the truce story, carried by both feeds (its title is the first feed's to be read)
    truce = next(i.id for i in webdata.store.items.list(limit=None) if len(i.feeds) == 2)
    detail = http.get(f"/api/items/{truce}").json()
    assert sorted(detail["item"]["feeds"]) == ["Gulf Wire", "Levant Ledger"]
    assert len(detail["entries"]) == 2
    assert isinstance(detail["revisions"], list) and isinstance(detail["cluster"], list)


def test_search_finds_items_in_the_query_language(http: TestClient) -> None:
    body = http.get("/api/search", params={"q": "Soleimani AND Tehran"}).json()
    titles = [h["item"]["title"] for h in body["hits"]]
    assert titles == ["Palestinian delegation joins crowds mourning Soleimani in Tehran"]
    hit = body["hits"][0]
    assert all(hit["snippet"][a:b] for a, b in hit["spans"])
    phrase = http.get("/api/search", params={"q": '"Gaza truce"'}).json()["hits"]
    assert phrase
    one = http.get("/api/search", params={"q": "Soleimani", "limit": 1}).json()
    assert len(one["hits"]) == 1 and one["next_cursor"]
    two = http.get("/api/search", params={"q": "Soleimani", "cursor": one["next_cursor"]}).json()
    assert one["hits"][0]["item"]["id"] not in [h["item"]["id"] for h in two["hits"]]


def test_a_bad_query_is_400_with_the_column(http: TestClient) -> None:
    response = http.get("/api/search", params={"q": 'Soleimani AND "unclosed'})
    assert response.status_code == 400
    assert "'q'" in response.json()["detail"] and "column" in response.json()["detail"]


def test_matches_one_row_per_item_and_watchlist(http: TestClient) -> None:
    body = http.get("/api/matches", params={"watchlist": "Iran"}).json()
    rows = body["rows"]
    assert {r["watchlist"] for r in rows} == {"Iran"}
    assert len({r["item_id"] for r in rows}) == len(rows) == 2
    assert all(r["rules"] and r["hits"] >= 1 and r["title"] for r in rows)
    paged = http.get("/api/matches", params={"watchlist": "Iran", "limit": 1}).json()
    after = http.get(
        "/api/matches", params={"watchlist": "Iran", "cursor": paged["next_cursor"]}
    ).json()
    assert [r["item_id"] for r in paged["rows"] + after["rows"]] == [r["item_id"] for r in rows]
    levant = http.get("/api/matches", params={"tag": "levant"}).json()["rows"]
    assert levant and all("Levant Ledger" in r["feeds"] for r in levant)


def test_review_is_recorded_with_who_and_when_and_filters_the_list(
    http: TestClient,
    webdata: WebData,  # noqa: F811
) -> None:
    funeral = item_id(webdata, "mourning Soleimani")
    path = f"/api/matches/{funeral}/Iran/review"
    response = http.post(path, json={"state": "reviewed", "note": "seen <b>it</b>"})
    assert response.status_code == 200, response.text
    assert response.json()["by"] and response.json()["note"] == "seen <b>it</b>"
    reviewed = http.get("/api/matches", params={"watchlist": "Iran", "review": "reviewed"})
    assert [r["item_id"] for r in reviewed.json()["rows"]] == [funeral]
    open_rows = http.get("/api/matches", params={"watchlist": "Iran", "review": "open"})
    assert funeral not in [r["item_id"] for r in open_rows.json()["rows"]]
    http.post(path, json={"state": "open"})
    history = http.get(path).json()
    assert [h["state"] for h in history] == ["reviewed", "open"]
    missing = http.post(f"/api/matches/{funeral}/Gaza/review", json={"state": "reviewed"})
    assert missing.status_code == 404
    bad = http.post(path, json={"state": "lost"})
    assert bad.status_code == 422 and "state" in bad.json()["detail"]
    nul = http.post(path, json={"state": "reviewed", "note": "a\u0000b"})
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]


def test_exports_csv_defuses_formulas_and_jsonl_is_exact(http: TestClient) -> None:
    response = http.get("/api/matches.csv", params={"watchlist": "Iran"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 2 and all(r["watchlist"] == "Iran" for r in rows)
    lines = http.get("/api/matches", params={"watchlist": "Iran", "format": "jsonl"}).text
    parsed = [json.loads(line) for line in lines.splitlines()]
    assert {p["item_id"] for p in parsed} == {int(r["item_id"]) for r in rows}
    assert HOSTILE_TITLE in [p["title"] for p in parsed]  # exact in JSON lines
    found = http.get("/api/search", params={"q": "Soleimani", "format": "csv"}).text
    titles = [r["title"] for r in csv.DictReader(io.StringIO(found))]
    assert HOSTILE_TITLE in titles and len(titles) == 2
    assert http.get("/api/search.jsonl", params={"q": "Gaza"}).status_code == 200


def test_formula_cells_get_an_apostrophe() -> None:
    from monitor.web.exports import SEARCH_FIELDS, csv_lines

    text = "".join(
        csv_lines([{"id": 1, "title": '=HYPERLINK("x")', "feeds": ["-a"]}], SEARCH_FIELDS)
    )
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["title"] == '\'=HYPERLINK("x")' and row["feeds"] == "'-a"


def test_feeds_and_feed_details(http: TestClient) -> None:
    feeds = http.get("/api/feeds").json()
    assert {f["name"] for f in feeds} == {"Levant Ledger", "Gulf Wire", "Hostile Herald"}
    assert all(f["last_outcome"] and f["items"] >= 1 for f in feeds)
    detail = http.get("/api/feeds/Gulf Wire").json()
    assert detail["feed"]["name"] == "Gulf Wire" and detail["history"]
    assert http.get("/api/feeds/Nowhere").status_code == 404


def test_watchlists_and_one_watchlist(http: TestClient) -> None:
    lists = {w["name"]: w for w in http.get("/api/watchlists").json()}
    assert set(lists) == {"Iran", "Gaza"}
    assert lists["Iran"]["matched_items"] == 2 and lists["Iran"]["atom"] == "/watchlists/Iran/atom"
    one = http.get("/api/watchlists/Iran").json()
    assert one["rules"] == ["Soleimani", "Haniyeh NEAR/8 Hamas"] and one["config"]["name"] == "Iran"
    assert http.get("/api/watchlists/Nope").status_code == 404


def test_preview_counts_and_problems_at_rule_and_column(http: TestClient) -> None:
    body = {"rules": ["Soleimani", "Gaza AND (truce"], "since": "2019-01-01"}
    response = http.post("/api/watchlists/preview", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["items"] == 5 and result["per_rule"][0] == 2 and result["matched"] == 2
    assert [(p["rule_index"], p["column"] > 1) for p in result["problems"]] == [(1, True)]
    assert all(h["title"] and h["snippet"] for h in result["hits"])
    # ``since``: items fetched since then (the fixture's articles, from 2020, came in now)
    today = http.post("/api/watchlists/preview", json={"rules": ["Soleimani"], "since": "1d"})
    assert today.json()["items"] == 5 and today.json()["matched"] == 2
    later = http.post(
        "/api/watchlists/preview", json={"rules": ["Soleimani"], "since": "2999-01-01"}
    )
    assert later.json()["items"] == 0


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/items?limit=0", "limit"),
        ("/api/items?limit=abc", "limit"),
        ("/api/items?since=yesterday", "since"),
        ("/api/items?since=2020-13-45", "since"),
        ("/api/items?since=2020-01-09&until=2020-01-01", "until"),
        ("/api/items?cursor=nonsense", "cursor"),
        ("/api/items/0", "item_id"),
        ("/api/items/abc", "item_id"),
        ("/api/search", "q"),
        ("/api/search?q=x&cursor=%25%25", "cursor"),
        ("/api/matches?review=maybe", "review"),
        ("/api/matches?cursor=zzz", "cursor"),
        ("/api/matches?format=pdf", "format"),
        ("/api/matches?watchlist=Nope", "watchlist"),
        ("/api/feeds/x?history=-1", "history"),
        ("/api/items?since=0001-01-01T00:00:00%2B14:00", "since"),
        ("/api/items?feed=Levant%00Ledger", "feed"),
        ("/api/search?q=Gaza&language=%0D", "language"),
        ("/api/matches?language=en%3B", "language"),
        ("/api/search?q=Soleimani%00", "q"),
        ("/api/feeds/Gulf%00Wire", "path"),
        (
            "/api/matches?cursor=WyIyMDIwLTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgOTk5OTk5OTk5OTksICJ4Il0",
            "cursor",
        ),
        ("/api/items?cursor=WyIyMDIwLTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgOTk5OTk5OTk5OTld", "cursor"),
    ],
)
def test_bad_parameters_are_4xx_naming_them(http: TestClient, path: str, parameter: str) -> None:
    response = http.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert parameter in response.json()["detail"]


def test_unknown_path_and_method_are_clear_json(http: TestClient) -> None:
    missing = http.get("/api/nothing")
    assert missing.status_code == 404 and "/openapi.json" in missing.json()["detail"]
    wrong = http.delete("/api/feeds")
    assert wrong.status_code == 405 and "DELETE" in wrong.json()["detail"]
    assert http.get("/api/items/999999").status_code == 404


def test_openapi_documents_the_paths(http: TestClient) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for path in (
        "/api/items",
        "/api/items/{item_id}",
        "/api/search",
        "/api/matches",
        "/api/matches/{item_id}/{watchlist}/review",
        "/api/feeds",
        "/api/feeds/{name}",
        "/api/watchlists",
        "/api/watchlists/{name}",
        "/api/watchlists/preview",
        "/watchlists/{name}/atom",
    ):
        assert path in paths, path


def test_a_browser_post_without_the_csrf_token_is_403(webdata: WebData) -> None:  # noqa: F811
    with client(webdata) as browser:
        browser.get("/api/feeds")  # the session cookie
        refused = browser.post("/api/watchlists/preview", json={"rules": ["x"]})
        assert refused.status_code == 403
        ok = browser.post(
            "/api/watchlists/preview",
            json={"rules": ["x"]},
            headers={"X-CSRF-Token": csrf_of(browser)},
        )
        assert ok.status_code == 200


def test_security_headers(http: TestClient) -> None:
    response = http.get("/api/feeds")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_until_pages_through_older_items(http: TestClient) -> None:
    first = http.get("/api/items", params={"until": "2020-01-09", "limit": 1}).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = http.get(
        "/api/items", params={"until": "2020-01-09", "cursor": first["next_cursor"]}
    ).json()
    everything = first["items"] + rest["items"]
    assert everything and all(i["published_at"] < "2020-01-09" for i in everything)
    assert len({i["id"] for i in everything}) == len(everything)


def test_monitor_web_rereads_a_changed_config_and_keeps_the_last_good_one(
    webdata: WebData,  # noqa: F811
    tmp_path: Path,
) -> None:
    from monitor.config import load_settings
    from monitor.web.deps import FileSettings

    config = tmp_path / "feeds.yaml"
    original = json.loads(webdata.config.read_text(encoding="utf-8"))
    config.write_text(json.dumps(original), encoding="utf-8")
    provider = FileSettings(config, load_settings(config))
    assert [w.name for w in provider().watchlists] == ["Iran", "Gaza"]
    config.write_text(
        json.dumps({**original, "watchlists": [{"name": "Only", "rules": ["x"]}]}),
        encoding="utf-8",
    )
    assert [w.name for w in provider().watchlists] == ["Only"]
    config.write_text(json.dumps({**original, "watchlists": [{"name": "Bad"}]}), "utf-8")
    assert [w.name for w in provider().watchlists] == ["Only"]  # invalid: the last good one
    assert [w.name for w in provider().watchlists] == ["Only"]


def test_a_malformed_body_is_422_saying_what_is_wrong(http: TestClient) -> None:
    broken = http.post(
        "/api/watchlists/preview", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    empty = http.post("/api/watchlists/preview", json={"rules": []})
    assert empty.status_code == 422 and "'rules'" in empty.json()["detail"]
    control = http.post("/api/watchlists/preview", json={"rules": ["Gaza", "\r"]})
    assert control.status_code == 422 and "rules.1" in control.json()["detail"]
    since = http.post("/api/watchlists/preview", json={"rules": ["x"], "since": "soon"})
    assert since.status_code == 400 and "since" in since.json()["detail"]


def test_watchlists_are_saved_into_feeds_yaml_keeping_its_comments(
    webdata: WebData,  # noqa: F811
    tmp_path: Path,
) -> None:
    import dataclasses

    from monitor.config import load_settings

    config = tmp_path / "feeds.yaml"
    config.write_text(
        "# the desk's own notes\n" + webdata.config.read_text(encoding="utf-8"), "utf-8"
    )
    copy = dataclasses.replace(webdata, config=config, settings=load_settings(config))
    with client(copy) as editor:
        headers = {"X-CSRF-Token": csrf_of(editor)}
        before = editor.get("/api/config-hash").json()["config_hash"]
        body = {
            "rules": ["Beirut", "Hariri NEAR/5 port"],
            "tags": ["levant"],
            "expected_hash": before,
        }
        saved = editor.put("/api/watchlists/Beirut", json=body, headers=headers)
        assert saved.status_code == 200, saved.text
        assert saved.json()["created"] is True and saved.json()["config_hash"] != before
        text = config.read_text(encoding="utf-8")
        assert text.startswith("# the desk's own notes") and "Hariri NEAR/5 port" in text
        assert [r.query for r in load_settings(config).watchlists[-1].rules] == body["rules"]
        assert editor.get("/api/watchlists/Beirut").json()["tags"] == ["levant"]
        stale = editor.put("/api/watchlists/Beirut", json=body, headers=headers)
        assert stale.status_code == 409 and "changed" in stale.json()["detail"]
        wrong = editor.put(
            "/api/watchlists/Beirut", json={"rules": ["Beirut AND (port"]}, headers=headers
        )
        assert wrong.status_code == 422 and "column" in wrong.json()["detail"]
        assert "Beirut AND (port" not in config.read_text(encoding="utf-8")
        gone = editor.delete("/api/watchlists/Beirut", headers=headers)
        assert gone.status_code == 200
        assert "Beirut" not in {w.name for w in load_settings(config).watchlists}
        assert editor.delete("/api/watchlists/Beirut", headers=headers).status_code == 404
        refused = editor.put("/api/watchlists/X", json={"rules": ["x"]})
        assert refused.status_code == 403  # a browser session without its CSRF token


def test_the_reader_zone_comes_from_the_cookie_then_the_config(webdata: WebData) -> None:  # noqa: F811
    from datetime import UTC, datetime

    from starlette.requests import Request

    from monitor.config import WebSettings
    from monitor.web.deps import WebContext, localtime
    from tests.webdata import context

    plain = context(webdata)

    def request(cookie: str, ctx: WebContext = plain) -> Request:
        headers = [(b"cookie", cookie.encode())] if cookie else []
        app = type("App", (), {"state": type("State", (), {"web": ctx})()})()
        return Request({"type": "http", "headers": headers, "app": app})

    assert plain.zone(request("tz=Asia/Tehran")).key == "Asia/Tehran"
    assert plain.zone(request("tz=../../etc/passwd")).key == "UTC"
    assert plain.zone(request("tz=Not/AZone")).key == "UTC"
    assert plain.zone(request("")).key == "UTC"
    paris = webdata.settings.model_copy(update={"web": WebSettings(timezone="Europe/Paris")})
    configured = WebContext(lambda: paris, webdata.store, webdata.config, plain.auth)
    assert configured.zone(request("", configured)).key == "Europe/Paris"
    assert configured.zone(request("tz=Asia/Tehran", configured)).key == "Asia/Tehran"
    noon = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert localtime(noon, request("tz=Asia/Tehran")) == "2026-01-10 15:30"
    assert localtime(None, request("")) == ""
