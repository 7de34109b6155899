"""Configuration: ``feeds.yaml`` plus the environment -> one frozen :class:`Settings`.

The file is read with ruamel.yaml so that every validation problem can be
reported with its line number; pydantic does the validation.  Nothing in the
program reads the environment or the file except :func:`load_settings`, and the
resulting object is passed explicitly (no module-level global).

Secrets come only from the environment: a database URL with a password in the
file is refused, ``MONITOR_DATABASE_URL`` is where it belongs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.errors import ConfigError

DATABASE_ENV = "MONITOR_DATABASE_URL"
DEFAULT_CONFIG = Path("feeds.yaml")
DEFAULT_USER_AGENT = (
    "monitor/0.1 (media-monitoring feed reader; +https://github.com/monitor-ingest/monitor)"
)

_DURATION_RE = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    None: 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_duration(value: Any) -> int:
    """``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 1h or 90s")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match and any(match.groups()):
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return days * 86400 + hours * 3600 + minutes * 60 + seconds
    raise ValueError(f"expected a duration such as 15m, 1h or 90s, got {value!r}")


def parse_size(value: Any) -> int:
    """``1048576``, ``"10MB"``, ``"512 KiB"`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match:
            unit = match.group(2).lower() if match.group(2) else None
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"expected a size such as 10MB or 512KiB, got {value!r}")


Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=10)]
Size = Annotated[int, BeforeValidator(parse_size), Field(ge=1024)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    url = value.strip()
    if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
    return url


class FeedDefaults(_Model):
    interval: Duration = 1800
    language: str | None = None
    full_text: bool = True
    tags: list[str] = Field(default_factory=list)
    allow_private: bool = False


class FeedConfig(_Model):
    """One feed as the analyst listed it (defaults already applied)."""

    name: str = Field(min_length=1)
    url: Annotated[str, BeforeValidator(_http_url)]
    tags: tuple[str, ...] = ()
    interval: Duration = 1800
    language: str | None = None
    full_text: bool = True
    # Fetch this feed (and article pages on its own host) even when the host is on a
    # loopback, private or link-local address (SECURITY.md, "private networks").
    allow_private: bool = False


def _rule_mapping(value: Any) -> Any:
    return {"query": value} if isinstance(value, str) else value


class RuleConfig(_Model):
    """One rule: a term, a phrase or a query (docs/configuration.md, "watchlists")."""

    query: str = Field(min_length=1)
    case_sensitive: bool = False
    fuzzy: bool | None = None  # None: the watchlist's setting
    variants: list[str] = Field(default_factory=list)

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str) -> str:
        from monitor.watch.query import QueryError, parse_rule

        try:
            parse_rule(value)
        except QueryError as exc:
            raise ValueError(
                f"column {exc.column}: {exc.message} in {value!r}; see docs/configuration.md "
                "for the query syntax"
            ) from None
        return value


Rule = Annotated[RuleConfig, BeforeValidator(_rule_mapping)]


class WatchlistConfig(_Model):
    """A watchlist; its rules are matched by the watch stage (see docs/design.md)."""

    name: str = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    feeds: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    fuzzy: bool = False
    variants: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", address):
                raise ValueError(f"expected an e-mail address, got {address!r}")
        return value


class FetchSettings(_Model):
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    max_bytes: Size = 10 * 1000**2
    concurrency: int = Field(default=16, ge=1, le=256)
    per_host: int = Field(default=4, ge=1, le=64)
    # the whole request, connect to last byte: a server that drips bytes is cut off here
    total_timeout: float = Field(default=60.0, gt=0)
    # one poll of one feed: its new entries are worked newest first within these budgets,
    # the rest on the next polls
    feed_budget: Duration = 300
    max_entries_per_poll: int = Field(default=500, ge=1)
    # an article page that failed temporarily (timeout, 429, 5xx) is retried this long
    page_retry_for: Duration = 86400


class ExtractSettings(_Model):
    workers: int = Field(default=0, ge=0, le=64, description="0 = one per CPU core")
    keep_raw_html: bool = True
    future_skew: Duration = 900


class DedupSettings(_Model):
    """How duplicates are recognised (docs/configuration.md, "dedup")."""

    near_duplicate_threshold: float = Field(default=0.5, ge=0.2, le=1.0)
    min_words: int = Field(default=40, ge=1)
    tracking_params: list[str] = Field(default_factory=list)


class _File(_Model):
    """The shape of ``feeds.yaml`` itself."""

    database: str | None = None
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    defaults: FeedDefaults = Field(default_factory=FeedDefaults)
    feeds: list[FeedConfig] = Field(default_factory=list)
    watchlists: list[WatchlistConfig] = Field(default_factory=list)


class Settings(_Model):
    """Everything the program needs, validated and frozen."""

    config_path: Path
    database_url: str
    fetch: FetchSettings
    extract: ExtractSettings
    defaults: FeedDefaults
    feeds: tuple[FeedConfig, ...]
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    watchlists: tuple[WatchlistConfig, ...]

    @property
    def masked_database_url(self) -> str:
        return mask_url(self.database_url)

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)


def mask_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database url>"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def read_yaml(path: Path) -> Any:
    """Read ``path`` with line information kept; raise ConfigError on syntax errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file. Create it (see feeds.yaml in the repository for an "
            "example) or pass --config PATH."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}).") from None
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(
            f"{where}: invalid YAML: {exc.problem or exc.context}. Fix the syntax at that spot."
        ) from None


def _line_of(root: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node of ``loc`` that exists in the YAML tree."""
    node, line = root, None
    for key in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, Mapping) and key in node:
                if lc is not None:
                    line = lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                if lc is not None:
                    line = lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line


def _describe(loc: tuple[int | str, ...], raw: Any) -> str:
    """``('feeds', 2, 'interval')`` -> ``feeds[2] (name: "X").interval``."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node) and isinstance(node[key], Mapping):
                name = node[key].get("name")
                if name:
                    label += f" ({name})"
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(key))
        if isinstance(node, Mapping | list):
            try:
                node = node[key]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                node = None
        if isinstance(node, str | int | float | bool):
            break  # a rule written as a string stands for its "query" field
    return "".join(parts) or "(top level)"


def _source_loc(raw: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Point a feed field that was inherited from ``defaults:`` back at the defaults."""
    if len(loc) >= 3 and loc[0] == "feeds" and isinstance(loc[1], int):
        feeds = raw.get("feeds") if isinstance(raw, Mapping) else None
        feed = feeds[loc[1]] if isinstance(feeds, list) and loc[1] < len(feeds) else None
        if isinstance(feed, Mapping) and loc[2] not in feed:
            defaults = raw.get("defaults")
            if isinstance(defaults, Mapping) and loc[2] in defaults:
                return ("defaults", *loc[2:])
    return loc


def _apply_defaults(raw: Any) -> Any:
    """Merge the ``defaults:`` block into each feed mapping (feed keys win, tags add up)."""
    if not isinstance(raw, Mapping):
        return raw
    data = dict(raw)
    defaults = data.get("defaults") or {}
    feeds = data.get("feeds")
    if isinstance(defaults, Mapping) and isinstance(feeds, list):
        merged = []
        for feed in feeds:
            if isinstance(feed, Mapping):
                entry = {k: v for k, v in defaults.items() if k != "tags"}
                entry.update(feed)
                base, own = defaults.get("tags") or [], feed.get("tags") or []
                if isinstance(base, list) and isinstance(own, list):
                    entry["tags"] = list(dict.fromkeys(str(t) for t in [*base, *own]))
                # otherwise the wrong type is left in place for validation to report
                merged.append(entry)
            else:
                merged.append(feed)
        data["feeds"] = merged
    return data


def _duplicates(raw: Any) -> list[tuple[int | str, ...]]:
    """Locations of every feed name, feed URL or watchlist name already used above it."""
    found: list[tuple[int | str, ...]] = []
    if not isinstance(raw, Mapping):
        return found
    for section, fields in (("feeds", ("name", "url")), ("watchlists", ("name",))):
        entries = raw.get(section)
        if not isinstance(entries, list):
            continue
        for field in fields:
            seen: set[str] = set()
            for index, entry in enumerate(entries):
                value = entry.get(field) if isinstance(entry, Mapping) else None
                if not isinstance(value, str):
                    continue
                key = value.strip()
                if key in seen:
                    found.append((section, index, field))
                seen.add(key)
    return found


def _database_url(file_value: str | None, config_dir: Path, env: Mapping[str, str]) -> str:
    from_env = env.get(DATABASE_ENV)
    url = from_env or file_value or "sqlite:///monitor.db"
    try:
        parsed = make_url(url)
    except ArgumentError:
        source = DATABASE_ENV if from_env else "database"
        raise ValueError(
            f"{source}: {url!r} is not a database URL; expected e.g. sqlite:///monitor.db "
            "or postgresql+psycopg://user@host/dbname"
        ) from None
    if not from_env and parsed.password:
        raise ValueError(
            "database: the URL contains a password; secrets belong in the environment. "
            f"Remove it from the file and set {DATABASE_ENV} instead."
        )
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        db_path = Path(parsed.database)
        if not db_path.is_absolute():
            parsed = parsed.set(database=str((config_dir / db_path).resolve()))
            url = parsed.render_as_string(hide_password=False)
    elif parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _compile_problem(watchlist: WatchlistConfig) -> str | None:
    """Why the watchlist's rules with their variants cannot be compiled, if they cannot."""
    from monitor.watch.matcher import Matcher
    from monitor.watch.query import QueryError
    from monitor.watch.stage import rules_of

    try:
        Matcher.compile(rules_of(watchlist))
    except QueryError as exc:
        return f"{exc}; fix the variant or the rule"
    return None


def _line_key(problem: str) -> int:
    match = re.match(r"^.*?:(\d+): ", problem)
    return int(match.group(1)) if match else 0


def load_settings(
    path: Path | str = DEFAULT_CONFIG, env: Mapping[str, str] | None = None
) -> Settings:
    """Load and validate ``path``; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    env = os.environ if env is None else env
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{path}:1: expected a mapping with keys such as feeds:, defaults:, watchlists:"
        )
    problems: list[str] = []

    def report(loc: tuple[int | str, ...], message: str) -> None:
        line = _line_of(raw, loc)
        where = f"{path}:{line}" if line else str(path)
        problem = f"{where}: {_describe(loc, raw)}: {message}"
        if problem not in problems:  # a bad default is reported once, not per feed
            problems.append(problem)

    parsed: _File | None = None
    try:
        parsed = _File.model_validate(_apply_defaults(raw))
    except ValidationError as exc:
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field; check its spelling against docs/configuration.md"
            elif error["type"] == "missing":
                message = "required field is missing"
            elif error["type"] in ("list_type", "tuple_type"):
                message = f"expected a list such as [a, b], got {error['input']!r}"
            report(_source_loc(raw, tuple(error["loc"])), message)
    if parsed is not None:
        for position, watchlist in enumerate(parsed.watchlists):
            problem = _compile_problem(watchlist)
            if problem:
                report(("watchlists", position, "variants"), problem)
    for loc in _duplicates(raw):
        section, index, field = loc
        value = raw[section][index][field]
        what = "feed" if section == "feeds" else "watchlist"
        report(loc, f"duplicate {what} {field} {value!r}: each must be unique; rename or remove it")
    if problems or parsed is None:
        problems.sort(key=_line_key)
        raise ConfigError(f"{path}: {len(problems)} problem(s) in the configuration", problems)
    try:
        database_url = _database_url(parsed.database, path.resolve().parent, env)
    except ValueError as exc:
        line = _line_of(raw, ("database",))
        where = f"{path}:{line}" if line else str(path)
        raise ConfigError(f"{where}: {exc}") from None
    return Settings(
        config_path=path.resolve(),
        database_url=database_url,
        fetch=parsed.fetch,
        extract=parsed.extract,
        dedup=parsed.dedup,
        defaults=parsed.defaults,
        feeds=tuple(parsed.feeds),
        watchlists=tuple(parsed.watchlists),
    )
