"""The fast YAML path (monitor/fastyaml.py) gives today's values or steps aside.

The law: for any text, :func:`monitor.fastyaml.load` returns either ``UNSURE`` or
exactly what the round-trip reader (``monitor.config._parse_document``) gives, type
for type (``True`` is not ``1``, ``"10"`` is not ``10``).  Checked on the repository's
feeds.yaml, the YAML in the documentation, the tests' generated configs, hand-made
YAML 1.1 / 1.2 edge cases and random scalars; and ``load_settings`` must build the same
Settings either way.  Files in ``tmp_path``, no network.

And its companion on the same ``run --once`` path: the feeds sync that skips its ORM
work when the rows already say what the configuration says (real SQLite and
PostgreSQL), only then.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor import config, fastyaml
from monitor.config import ConfigError, FeedConfig, load_settings
from monitor.pipeline.types import Validators
from monitor.storage import Store
from monitor.storage import feeds as feeds_module
from monitor.storage.feeds import FetchRecord
from monitor.storage.schema import Feed
from tests.conftest import config_file

REPO = Path(__file__).resolve().parents[1]

needs_libyaml = pytest.mark.skipif(not fastyaml.available(), reason="PyYAML without libyaml")


def plain(value: Any) -> Any:
    """The round-trip tree as plain types: CommentedMap -> dict, ScalarFloat -> float..."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    assert value is None, f"the round-trip reader gave a {type(value).__name__}: {value!r}"
    return value


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type at every level (``==`` says True == 1 == 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            same(ka, kb) and same(a[ka], b[kb]) for ka, kb in zip(a, b, strict=True)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def round_trip(text: str) -> Any:
    return plain(config._parse_document(Path("feeds.yaml"), text))


def assert_agrees(text: str) -> Any:
    """fastyaml on ``text``: UNSURE, or the round-trip reader's values exactly."""
    fast = fastyaml.load(text, config.MAX_DEPTH)
    if fast is fastyaml.UNSURE:
        return fast
    try:
        slow = round_trip(text)
    except ConfigError as exc:  # libyaml read what ruamel refuses: the fast path must not
        pytest.fail(f"fast path accepted a file the round-trip reader refuses: {exc}")
    assert same(fast, slow), f"{text!r}: fast {fast!r}, round trip {slow!r}"
    return fast


def yaml_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown.read_text(encoding="utf-8"), re.DOTALL)


def real_configs(tmp_path: Path) -> list[Path]:
    """Every configuration the project ships or its tests write."""
    paths = [REPO / "feeds.yaml"]
    for doc in (REPO / "README.md", REPO / "docs" / "configuration.md"):
        for number, block in enumerate(yaml_blocks(doc)):
            path = tmp_path / f"{doc.stem}-{number}.yaml"
            path.write_text(block, encoding="utf-8")
            paths.append(path)
    generated = tmp_path / "generated"
    generated.mkdir()
    paths.append(
        config_file(
            generated,
            "sqlite:///x.db",
            [{"name": "A", "url": "http://127.0.0.1:1/a.xml", "tags": ["x"]}],
            watchlists=[{"name": "w", "rules": ["acme", {"query": '"big deal"'}]}],
        )
    )
    return paths


@needs_libyaml
def test_the_project_configs_read_fast_with_the_same_values(tmp_path: Path) -> None:
    configs = real_configs(tmp_path)
    assert len(configs) >= 4, "the documentation's YAML blocks were not found"
    for path in configs:
        text = path.read_text(encoding="utf-8")
        fast = assert_agrees(text)
        if path.name in ("feeds.yaml",):  # the plain ones must take the fast path
            assert fast is not fastyaml.UNSURE, f"{path} fell back to the round-trip reader"


@needs_libyaml
def test_load_settings_builds_the_same_settings_either_way(tmp_path: Path) -> None:
    env = {"MONITOR_SMTP_PASSWORD": "x"}
    checked = 0
    for path in real_configs(tmp_path):
        text = path.read_text(encoding="utf-8")
        if fastyaml.load(text, config.MAX_DEPTH) is fastyaml.UNSURE:
            continue
        try:
            slow = config._settings(path, config._parse_document(path, text), text, env)
        except ConfigError:  # a documentation fragment, not a whole configuration
            with pytest.raises(ConfigError):
                load_settings(path, env)
            continue
        assert load_settings(path, env) == slow
        checked += 1
    assert checked >= 2


YAML_11_VS_12 = [
    # (value as written, what the round-trip reader gives, or None: must fall back)
    ("yes", "yes"),
    ("no", "no"),
    ("on", "on"),
    ("off", "off"),
    ("Y", "Y"),
    ("n", "n"),
    ("true", True),
    ("False", False),
    ("TRUE", True),
    ("~", None),
    ("null", None),
    ("", None),
    ("12", 12),
    ("-3", -3),
    ("+5", 5),
    ("0", 0),
    ("1.5", 1.5),
    ("10.", 10.0),
    ("1e3", 1000.0),
    ("-2.5e-3", -0.0025),
    ("1:30", "1:30"),  # sexagesimal 90 in YAML 1.1
    ("15m", "15m"),
    ("1h30m", "1h30m"),
    ("010", None),  # octal 8 in YAML 1.1, 10 in 1.2: left to ruamel
    ("0o17", None),
    ("0x1f", None),
    ("0b101", None),
    ("1_000", None),
    (".inf", None),
    ("-.inf", None),
    (".nan", None),
    ("2024-01-01", None),  # a timestamp
    ("2024-01-01 10:00:00", None),
    ("=", None),
    ('"10"', "10"),
    ("'yes'", "yes"),
    ('"true"', "true"),
    ('"a\\tb\\u00e9"', "a\tb\u00e9"),
    ("'it''s'", "it's"),
    ("!!str 10", None),  # a TaggedScalar in ruamel, not a str
    ("!!int '3'", None),
    ("!!float 1", None),
    ("! foo", "foo"),  # the non-specific tag: a string in both
    ("!local x", None),
    ("https://a.example/feed?x=1&y=2#z", "https://a.example/feed?x=1&y=2#z"),
    ("caf\u00e9 \u65b0\u805e", "caf\u00e9 \u65b0\u805e"),
]


@needs_libyaml
@pytest.mark.parametrize(("written", "expected"), YAML_11_VS_12)
def test_scalars_as_the_round_trip_reader_reads_them(written: str, expected: Any) -> None:
    text = f"value: {written}\n"
    fast = assert_agrees(text)
    if expected is None and written not in ("~", "null", ""):
        assert fast is fastyaml.UNSURE
    else:
        assert fast is not fastyaml.UNSURE and same(fast["value"], expected)


SHAPES = {
    "block scalars": "a: |\n  one\n  two\nb: >\n  folded\n  text\n\nc: |-\n  kept\n",
    "multi-line plain": "a: one\n  two\n  three\n",
    "flow": "a: [1, two, {b: c, d: [e]}]\n",
    "comments": "# top\na: 1  # trailing\n# middle\nb:\n  - x # item\n",
    "crlf": "a: 1\r\nb:\r\n  - two\r\n",
    "nested empty": "a: {}\nb: []\nc:\n",
    "document markers": "---\na: 1\n...\n",
    "keys of several types": "1: a\nfalse: b\n~: c\n'1': d\n",
    "long feeds list": "feeds:\n"
    + "".join(f"  - name: f{i}\n    url: http://h{i}.example/x\n" for i in range(50)),
}
FALLBACK = {
    "anchor and alias": "a: &x [1, 2]\nb: *x\n",
    "merge key": "base: &b {x: 1}\nfeed:\n  <<: *b\n  y: 2\n",
    "duplicate key": "a: 1\na: 2\n",
    "duplicate key after a tag": "a: 1\n!!str a: 2\n",
    "YAML 1.1 directive": "%YAML 1.1\n---\na: yes\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "complex key": "? [a, b]\n: c\n",
    "set": "a: !!set {x, y}\n",
    "omap": "a: !!omap [x: 1]\n",
    "NEL line break": "a: one\x85two\n",
    "tab indentation": "a:\n\t- b\n",
    "syntax error": "a: [1, 2\n",
    "empty": "",
    "comments only": "# nothing yet\n",
    "too deep": "a: " + "[" * 40 + "]" * 40 + "\n",
}


@needs_libyaml
@pytest.mark.parametrize("name", list(SHAPES))
def test_shapes_read_fast_and_alike(name: str) -> None:
    assert assert_agrees(SHAPES[name]) is not fastyaml.UNSURE


@needs_libyaml
@pytest.mark.parametrize("name", list(FALLBACK))
def test_what_needs_the_round_trip_reader_falls_back(name: str) -> None:
    assert fastyaml.load(FALLBACK[name], config.MAX_DEPTH) is fastyaml.UNSURE


SCALAR_CHARS = "0123456789.:-+_eExXoObB yYnNtTrRuUfFlLsSaA~=<!&*'\"#[]{},\\"


@needs_libyaml
@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=SCALAR_CHARS, max_size=12))
def test_random_scalars_agree_or_fall_back(value: str) -> None:
    for text in (f"value: {value}\n", f"- {value}\n", f"{{k: {value}}}\n"):
        assert_agrees(text)


@needs_libyaml
def test_a_problem_in_a_fast_file_is_reported_with_its_line(tmp_path: Path) -> None:
    """The fast reader has no lines: a file that does not validate is read again."""
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - name: A\n    url: https://a.example/feed\n    interval: soon\n",
        encoding="utf-8",
    )
    assert fastyaml.load(path.read_text(encoding="utf-8"), config.MAX_DEPTH) is not (
        fastyaml.UNSURE
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert caught.value.problems == [
        f"{path}:4: feeds[0] (A).interval: expected a duration such as 15m, 1h or 90s, got 'soon'"
    ]


@needs_libyaml
def test_a_thousand_feeds_load_in_a_fraction_of_the_round_trip_time(tmp_path: Path) -> None:
    feeds = [
        {"name": f"f{i:04d}", "url": f"http://127.0.1.{i % 250}:8000/{i}.xml"} for i in range(1000)
    ]
    path = tmp_path / "feeds.yaml"
    path.write_text(json.dumps({"feeds": feeds}, indent=1), encoding="utf-8")
    text = path.read_text(encoding="utf-8")

    def best(func: Any) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            func()
            times.append(time.perf_counter() - started)
        return min(times)

    fast = best(lambda: fastyaml.load(text, config.MAX_DEPTH))
    slow = best(lambda: config._parse_document(path, text))
    assert len(load_settings(path, {}).feeds) == 1000
    assert fast * 4 < slow, f"fast {fast:.3f} s, round trip {slow:.3f} s"


# -- the feeds sync that has nothing to do (monitor/storage/feeds.py, _in_step) --------------
# Real databases (``db_url``: SQLite and PostgreSQL).  The law: whenever the light check
# says the rows are in step, the full ORM sync would have changed no column of any row.

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def feeds_config(**changes: dict[str, Any]) -> list[FeedConfig]:
    base = {
        "A": {"url": "https://a.example/feed", "tags": ("x",), "interval": 900},
        "B": {"url": "https://b.example/feed", "language": "fr"},
        "C": {"url": "https://c.example/feed", "allow_private": True, "max_interval": 7200},
    }
    for name, fields in changes.items():
        base[name] = {**base.get(name, {}), **fields}
    return [FeedConfig(name=n, **f) for n, f in base.items() if f.get("url")]


def rows(store: Store) -> list[tuple[Any, ...]]:
    with store._sessions() as session:
        return [
            tuple(r)
            for r in session.execute(select(*Feed.__table__.columns).order_by(Feed.id)).all()
        ]


def poll_record(**fields: Any) -> FetchRecord:
    values: dict[str, Any] = {
        "outcome": "ok",
        "status": 200,
        "error": None,
        "validators": Validators('"e"', None, None),
        "title": "T",
        "site_url": None,
        "new_items": 0,
        "duration": 0.1,
        "failed": False,
        "next_fetch_at": NOW + timedelta(hours=1),
    }
    return FetchRecord(**{**values, **fields})


def feed_id(store: Store, name: str) -> int:
    with store._sessions() as session:
        return int(session.scalars(select(Feed.id).where(Feed.name == name)).one())


def moved(store: Store) -> None:
    store.feeds.record(feed_id(store, "A"), poll_record(moved_to="https://a.example/new"), NOW)


def gone(store: Store) -> None:
    store.feeds.record(
        feed_id(store, "B"), poll_record(outcome="gone", status=410, gone="410 Gone"), NOW
    )


SCENARIOS: dict[str, tuple[Any, dict[str, Any], bool]] = {
    # name: (what happened to the database, the configuration synced next, in step?)
    "nothing changed": (None, {}, True),
    "a feed moved (301), the config still names the old URL": (moved, {}, True),
    "the config caught up with the move": (moved, {"A": {"url": "https://a.example/new"}}, False),
    "a feed gone (410)": (gone, {}, True),
    "a new URL for the gone feed": (gone, {"B": {"url": "https://b.example/v2"}}, False),
    "a feed added": (None, {"D": {"url": "https://d.example/feed"}}, False),
    "a feed removed": (None, {"C": {"url": None}}, False),
    "a feed renamed": (None, {"A": {"url": None}, "A2": {"url": "https://a.example/feed"}}, False),
    "an interval changed": (None, {"A": {"interval": 1800}}, False),
    "tags changed": (None, {"A": {"tags": ("x", "y")}}, False),
    "a language set": (None, {"A": {"language": "de"}}, False),
    "full_text off": (None, {"B": {"full_text": False}}, False),
    "allow_private off": (None, {"C": {"allow_private": False}}, False),
    "min_interval set": (None, {"B": {"min_interval": 600}}, False),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_sync_is_skipped_only_when_it_would_change_nothing(db_url: str, scenario: str) -> None:
    happened, changes, in_step = SCENARIOS[scenario]
    with Store.open(db_url) as store:
        store.feeds.sync(feeds_config(), NOW)
        if happened is not None:
            happened(store)
        configs = feeds_config(**changes)
        with store._sessions() as session:
            columns = session.execute(select(*feeds_module._SYNCED_COLUMNS)).all()
        assert feeds_module._in_step(configs, columns) is in_step
        before = rows(store)
        with store._sessions.begin() as session:
            feeds_module._sync_all(session, configs, NOW + timedelta(minutes=1))
        after = rows(store)
        if in_step:
            assert after == before, "the full sync changed rows the check said were in step"
        else:
            assert after != before, "the check asked for a sync that changes nothing"
        # and through the public entry point, the sync leaves what the full sync leaves
        store.feeds.sync(configs, NOW + timedelta(minutes=2))
        assert rows(store) == after


def test_a_second_run_once_does_not_sync_row_by_row(db_url: str) -> None:
    """One SELECT of the configured columns, no ORM load, when nothing changed."""
    from sqlalchemy import event

    with Store.open(db_url) as store:
        store.feeds.sync(feeds_config(), NOW)
        statements: list[str] = []
        engine = store.engine
        listener = lambda *args: statements.append(str(args[2]))  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            store.feeds.sync(feeds_config(), NOW + timedelta(minutes=1))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
