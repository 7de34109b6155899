"""``feeds.yaml`` -> :class:`Settings`: defaults, units, database URL and error reports.

Pure tests: every configuration is a file in ``tmp_path``; the environment is
passed explicitly with ``env=`` so the developer's own variables do not leak in.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from monitor.config import DATABASE_ENV, Settings, load_settings, parse_duration, parse_size
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<location>[^:]+): (?P<message>.+)$")


# -- helpers ------------------------------------------------------------------------


def write(directory: Path, text: str, name: str = "feeds.yaml") -> Path:
    """Write ``text`` (dedented) as a config file and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(path: Path, env: dict[str, str] | None = None) -> Settings:
    return load_settings(path, env={} if env is None else env)


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(path, env)
    return info.value


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    location: str
    message: str


def problems(path: Path, env: dict[str, str] | None = None) -> list[Problem]:
    """Load ``path`` expecting failure; every problem must read ``file:line: location: msg``."""
    error = config_error(path, env)
    assert error.problems, f"expected a list of problems, got: {error}"
    parsed = []
    for text in error.problems:
        match = PROBLEM.match(text)
        assert match, f"not in 'file:line: location: message' form: {text!r}"
        parsed.append(
            Problem(match["file"], int(match["line"]), match["location"], match["message"])
        )
    for problem in parsed:
        assert problem.file == str(path), problem
    return parsed


def only_problem(path: Path) -> Problem:
    found = problems(path)
    assert len(found) == 1, found
    return found[0]


def assert_problem(found: list[Problem], line: int, location: str, message: str) -> None:
    """Some problem is at ``line``, its location contains ``location``, its message ``message``."""
    hits = [
        p
        for p in found
        if p.line == line and location in p.location and message.lower() in p.message.lower()
    ]
    assert hits, f"no problem at line {line} in {location!r} about {message!r}: {found}"


FEED_A = "feeds:\n  - name: A\n    url: https://a.example/feed\n"


# -- the repository's own file ----------------------------------------------------------


def test_repository_feeds_yaml_loads() -> None:
    settings = load(REPO / "feeds.yaml")
    assert len(settings.feeds) == 14
    assert [w.name for w in settings.watchlists] == ["Iran and its allies"]
    assert make_url(settings.database_url).database == str(REPO / "monitor.db")
    bbc = settings.feed("BBC News - Middle East")
    guardian = settings.feed("The Guardian - Middle East")
    assert bbc is not None and guardian is not None
    assert bbc.interval == 15 * 60  # its own value
    assert guardian.interval == 30 * 60  # from defaults
    assert all(f.language == "en" and f.full_text for f in settings.feeds)
    assert bbc.tags == ("middle-east", "wire")
    assert settings.fetch.max_bytes == 10 * 1000**2
    assert settings.watchlists[0].recipients == ["analyst@example.org"]


# -- defaults ------------------------------------------------------------------------


def test_defaults_apply_and_feed_values_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        defaults:
          interval: 45m
          language: ar
          full_text: false
        feeds:
          - name: Inherits
            url: https://a.example/feed
          - name: Overrides
            url: https://b.example/feed
            interval: 10m
            language: en
            full_text: true
        """,
    )
    settings = load(path)
    inherits, overrides = settings.feeds
    assert (inherits.interval, inherits.language, inherits.full_text) == (2700, "ar", False)
    assert (overrides.interval, overrides.language, overrides.full_text) == (600, "en", True)


def test_builtin_defaults_without_a_defaults_block(tmp_path: Path) -> None:
    feed = load(write(tmp_path, FEED_A)).feeds[0]
    assert (feed.interval, feed.language, feed.full_text, feed.tags) == (1800, None, True, ())


def test_tags_add_up_without_repeats(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        defaults:
          tags: [desk, english]
        feeds:
          - name: Own tags
            url: https://a.example/feed
            tags: [gulf, desk]
          - name: No tags
            url: https://b.example/feed
        """,
    )
    own, none = load(path).feeds
    assert own.tags == ("desk", "english", "gulf")
    assert none.tags == ("desk", "english")


# -- units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), (600, 600), ("2d", 172800), ("1h", 3600)],
)
def test_durations(tmp_path: Path, value: str | int, seconds: int) -> None:
    assert parse_duration(value) == seconds
    path = write(tmp_path, FEED_A + f"    interval: {value}\n")
    assert load(path).feeds[0].interval == seconds


@pytest.mark.parametrize("value", ["fast", "1h30", "15 minutes", "1.5h", "", True])
def test_bad_durations_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [("10MB", 10_000_000), ("512KiB", 524_288), ("2 MiB", 2 * 1024**2), (4096, 4096)],
)
def test_sizes(tmp_path: Path, value: str | int, size: int) -> None:
    assert parse_size(value) == size
    path = write(tmp_path, f"fetch:\n  max_bytes: {value}\n")
    assert load(path).fetch.max_bytes == size


@pytest.mark.parametrize("value", ["ten megabytes", "10 MBs", "-5", True])
def test_bad_sizes_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(value)


# -- errors: file:line: location: message --------------------------------------------------


def test_unknown_field_names_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        feeds:
          - name: A
            url: https://a.example/feed
            intervall: 15m
        """,
    )
    problem = only_problem(path)
    assert (problem.line, problem.location) == (4, "feeds[0] (A).intervall")
    assert "unknown field" in problem.message


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = write(tmp_path, FEED_A + "watchlist: []\n")
    problem = only_problem(path)
    assert (problem.line, problem.location) == (4, "watchlist")
    assert "unknown field" in problem.message


@pytest.mark.parametrize(
    ("text", "line", "location", "message"),
    [
        (FEED_A + "    full_text: maybe\n", 4, "feeds[0] (A).full_text", "boolean"),
        ("fetch:\n  concurrency: many\n", 2, "fetch.concurrency", "integer"),
        ("feeds: {name: A}\n", 1, "feeds", "list"),
        ("feeds:\n  - name: 5\n    url: https://a.example/feed\n", 2, "feeds[0]", "string"),
    ],
    ids=["bool", "int", "list", "string"],
)
def test_wrong_type(tmp_path: Path, text: str, line: int, location: str, message: str) -> None:
    assert_problem(problems(write(tmp_path, text)), line, location, message)


def test_tags_given_as_a_string_are_a_wrong_type(tmp_path: Path) -> None:
    """``tags: middle-east`` must be refused, not split into single letters."""
    path = write(tmp_path, FEED_A + "    tags: middle-east\n")
    assert_problem(problems(path), 4, "feeds[0] (A).tags", "list")


def test_tags_given_as_a_number_are_a_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, FEED_A + "    tags: 5\n")
    assert_problem(problems(path), 4, "feeds[0] (A).tags", "list")


def test_url_given_as_a_number_is_a_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - name: A\n    url: 42\n")
    assert_problem(problems(path), 3, "feeds[0] (A).url", "url")


@pytest.mark.parametrize("url", ["ftp://a.example/feed", "a.example/feed", "https:// spaces"])
def test_bad_url(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f"feeds:\n  - name: A\n    url: '{url}'\n")
    problem = only_problem(path)
    assert (problem.line, problem.location) == (3, "feeds[0] (A).url")
    assert "http:// or https://" in problem.message


@pytest.mark.parametrize(("value", "message"), [("5x", "duration"), ("5s", "greater than")])
def test_bad_duration_in_a_feed(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path, FEED_A + f"    interval: {value}\n")
    problem = only_problem(path)
    assert (problem.line, problem.location) == (4, "feeds[0] (A).interval")
    assert message in problem.message


def test_duplicate_feed_name_names_the_second_entry(tmp_path: Path) -> None:
    path = write(tmp_path, FEED_A + "  - name: A\n    url: https://b.example/feed\n")
    problem = only_problem(path)
    assert problem.line == 4, problem
    assert "feeds[1]" in problem.location
    assert "duplicate" in problem.message and "'A'" in problem.message


def test_duplicate_feed_url_names_the_second_entry(tmp_path: Path) -> None:
    path = write(tmp_path, FEED_A + "  - name: B\n    url: https://a.example/feed\n")
    problem = only_problem(path)
    assert problem.line == 5, problem
    assert "feeds[1]" in problem.location and "url" in problem.location
    assert "duplicate" in problem.message


def test_empty_rules_in_a_watchlist(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        watchlists:
          - name: W
            rules: []
        """,
    )
    problem = only_problem(path)
    assert (problem.line, problem.location) == (3, "watchlists[0] (W).rules")
    assert "at least 1" in problem.message


def test_empty_rule_string_in_a_watchlist(tmp_path: Path) -> None:
    path = write(tmp_path, 'watchlists:\n  - name: W\n    rules:\n      - ok\n      - ""\n')
    problem = only_problem(path)
    assert (problem.line, problem.location) == (5, "watchlists[0] (W).rules[1]")


def test_bad_recipient_email(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        watchlists:
          - name: W
            rules: [Hezbollah]
            recipients: [desk@example.org, not-an-address]
        """,
    )
    problem = only_problem(path)
    assert (problem.line, problem.location[:21]) == (4, "watchlists[0] (W).rec")
    assert "e-mail" in problem.message and "not-an-address" in problem.message


@pytest.mark.parametrize(
    ("entry", "location", "message"),
    [
        ("interval: 5x", "defaults.interval", "duration"),
        ("interval: 5", "defaults.interval", "greater than"),
        ("full_text: maybe", "defaults.full_text", "boolean"),
        ("languag: en", "defaults.languag", "unknown field"),
    ],
)
def test_bad_default_is_reported_once_at_the_defaults_line(
    tmp_path: Path, entry: str, location: str, message: str
) -> None:
    path = write(
        tmp_path,
        f"""
        defaults:
          {entry}
        feeds:
          - name: A
            url: https://a.example/feed
          - name: B
            url: https://b.example/feed
          - name: C
            url: https://c.example/feed
        """,
    )
    problem = only_problem(path)
    assert (problem.line, problem.location) == (2, location)
    assert message in problem.message


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - name: A\n    url: https://a.example/feed: x\n")
    message = str(config_error(path))
    assert message.startswith(f"{path}:3:32: invalid YAML"), message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    message = str(config_error(path))
    assert message.startswith(f"{path}: no such file"), message
    assert "--config" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    message = str(config_error(path))
    assert message.startswith(f"{path}:1: expected a mapping"), message


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "# nothing yet\n"))
    assert settings.feeds == () and settings.watchlists == ()


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        fetch:
          concurency: 4
        defaults:
          interval: soon
        feeds:
          - name: A
            url: ftp://a.example/feed
          - name: B
            url: https://b.example/feed
            full_text: maybe
        watchlists:
          - name: W
            rules: []
            recipients: [nobody]
        """,
    )
    found = problems(path)
    assert [p.line for p in found] == [2, 4, 7, 10, 13, 14], found
    assert_problem(found, 2, "fetch.concurency", "unknown field")
    assert_problem(found, 4, "defaults.interval", "duration")
    assert_problem(found, 7, "feeds[0] (A).url", "http")
    assert_problem(found, 10, "feeds[1] (B).full_text", "boolean")
    assert_problem(found, 13, "watchlists[0] (W).rules", "at least 1")
    assert_problem(found, 14, "watchlists[0] (W).recipients", "e-mail")
    assert "6 problem(s)" in str(config_error(path))


def test_duplicates_are_listed_with_the_other_problems(tmp_path: Path) -> None:
    """A duplicate name, a duplicate URL and a bad value: three problems, not one or zero."""
    path = write(
        tmp_path,
        """
        feeds:
          - name: A
            url: https://a.example/feed
            interval: soon
          - name: A
            url: https://b.example/feed
          - name: C
            url: https://a.example/feed
        """,
    )
    found = problems(path)
    assert len(found) == 3, found
    assert_problem(found, 4, "feeds[0] (A).interval", "duration")
    assert_problem(found, 5, "feeds[1]", "duplicate")
    assert_problem(found, 8, "feeds[2]", "duplicate")


# -- database URL -----------------------------------------------------------------------


def test_default_database_is_sqlite_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "conf"
    write(config_dir, FEED_A)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(tmp_path)
    settings = load(Path("conf/feeds.yaml"))
    monkeypatch.chdir(elsewhere)
    url = make_url(settings.database_url)
    assert url.drivername == "sqlite"
    assert url.database == str(config_dir / "monitor.db")
    assert settings.config_path == config_dir / "feeds.yaml"


def test_relative_sqlite_path_is_resolved_against_the_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "conf"
    path = write(config_dir, "database: sqlite:///data/news.db\n" + FEED_A)
    monkeypatch.chdir(tmp_path)
    assert make_url(load(path).database_url).database == str(config_dir / "data" / "news.db")


def test_absolute_sqlite_path_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "somewhere" / "m.db"
    path = write(tmp_path / "conf", f"database: sqlite:///{target}\n")
    assert make_url(load(path).database_url).database == str(target)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "database: sqlite:///file.db\n")
    env_url = "postgresql+psycopg://reader:s3cret@db.example:5432/news"
    settings = load(path, env={DATABASE_ENV: env_url})
    assert settings.database_url == env_url


def test_environment_sqlite_url_is_used(tmp_path: Path) -> None:
    target = tmp_path / "env.db"
    settings = load(write(tmp_path, FEED_A), env={DATABASE_ENV: f"sqlite:///{target}"})
    assert make_url(settings.database_url).database == str(target)


def test_password_in_the_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "# db\ndatabase: postgresql://reader:s3cret@db.example/news\n" + FEED_A)
    message = str(config_error(path))
    assert message.startswith(f"{path}:2: database:"), message
    assert DATABASE_ENV in message
    assert "s3cret" not in message


def test_password_in_the_file_is_refused_even_when_env_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "database: postgresql://u:pw@h/db\n")
    with pytest.raises(ConfigError, match=DATABASE_ENV):
        load(path, env={DATABASE_ENV: ""})


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_url_gets_the_psycopg_driver(tmp_path: Path, scheme: str) -> None:
    path = write(tmp_path, f"database: {scheme}://reader@db.example:5432/news\n")
    assert load(path).database_url == "postgresql+psycopg://reader@db.example:5432/news"
    env = {DATABASE_ENV: f"{scheme}://reader:pw@db.example/news"}
    assert load(path, env=env).database_url == "postgresql+psycopg://reader:pw@db.example/news"


def test_unparseable_database_url(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds: []\ndatabase: not a url\n")
    message = str(config_error(path))
    assert message.startswith(f"{path}:2: database:"), message
    assert "not a database URL" in message


def test_masked_database_url_hides_the_password(tmp_path: Path) -> None:
    env = {DATABASE_ENV: "postgresql+psycopg://reader:s3cret@db.example/news"}
    settings = load(write(tmp_path, FEED_A), env=env)
    assert "s3cret" in settings.database_url
    assert "s3cret" not in settings.masked_database_url
    assert settings.masked_database_url == "postgresql+psycopg://reader:***@db.example/news"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(write(tmp_path, FEED_A))
    with pytest.raises(ValidationError):
        settings.database_url = "sqlite:///other.db"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.feeds[0].interval = 10  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.fetch.concurrency = 1  # type: ignore[misc]
    assert isinstance(settings.feeds, tuple)
    assert isinstance(settings.watchlists, tuple)


# -- watchlist rules ----------------------------------------------------------------------


def test_a_rule_that_does_not_parse_names_watchlist_rule_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        watchlists:
          - name: Iran
            rules:
              - Soleimani
              - (Quds AND force
              - {query: "IRGC OR titel:Hezbollah", case_sensitive: true}
        """,
    )
    found = problems(path)
    assert_problem(found, 5, "watchlists[0] (Iran).rules[1]", "column 1: unbalanced parenthesis")
    assert_problem(found, 6, "watchlists[0] (Iran).rules[2]", "column 9: unknown field 'titel'")
    assert len(found) == 2


def test_a_variant_that_does_not_parse_is_reported_at_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        watchlists:
          - name: Iran
            variants:
              Soleimani: ["(Sulaimani"]
            rules: [Soleimani]
        """,
    )
    problem = only_problem(path)
    assert (problem.line, problem.location) == (3, "watchlists[0] (Iran).variants")
    assert "variant" in problem.message and "unbalanced parenthesis" in problem.message


def test_rules_written_as_mappings_keep_their_options(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        watchlists:
          - name: Groups
            fuzzy: true
            rules:
              - {query: HAMAS, case_sensitive: true, fuzzy: false}
              - Hezbollah
        """,
    )
    rules = load(path).watchlists[0].rules
    assert (rules[0].query, rules[0].case_sensitive, rules[0].fuzzy) == ("HAMAS", True, False)
    assert (rules[1].query, rules[1].case_sensitive, rules[1].fuzzy) == ("Hezbollah", False, None)
