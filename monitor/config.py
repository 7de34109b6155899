"""Configuration: ``feeds.yaml`` plus the environment -> one frozen :class:`Settings`.

The file is read with ruamel.yaml so that every validation problem can be
reported with its line number; pydantic does the validation.  Nothing in the
program reads the environment or the file except :func:`load_settings`, and the
resulting object is passed explicitly (no module-level global).

Secrets come only from the environment: a database URL with a password in the
file is refused, ``MONITOR_DATABASE_URL`` is where it belongs.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import reprlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    NodeEvent,
    ScalarEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError

from monitor import fastyaml
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
    """A feed URL: http or https, a host, no spaces; each refusal says how to fix it."""
    expected = "expected an http:// or https:// URL"
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {value!r}; write the feed's address in full")
    url = value.strip()
    if re.search(r"\s", url):
        raise ValueError(f"{expected} without spaces, got {url!r}; remove them or write %20")
    if re.match(r"^https?://[^/?#]+", url, re.IGNORECASE):
        return url
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):(?!\d)", url, re.IGNORECASE)
    if scheme is None:
        raise ValueError(f"{expected}, got {url!r}; add the scheme: https://{url}")
    if scheme.group(1).lower() in ("http", "https"):
        raise ValueError(f"{expected}, got {url!r}; write the host name after the //")
    raise ValueError(
        f"{expected}, got {url!r}; monitor cannot poll {scheme.group(1)}: URLs, "
        "give the feed's http or https address"
    )


class FeedDefaults(_Model):
    interval: Duration = 1800
    language: str | None = None
    full_text: bool = True
    tags: list[str] = Field(default_factory=list)
    allow_private: bool = False
    # the adaptive schedule keeps each feed's interval within these bounds (None: the
    # schedule: section's); retention: how long its items are kept (None: service's)
    min_interval: Duration | None = None
    max_interval: Duration | None = None
    retention: Duration | None = None


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
    min_interval: Duration | None = None  # None: schedule.min_interval
    max_interval: Duration | None = None  # None: schedule.max_interval
    retention: Duration | None = None  # None: housekeeping.retention (keep forever if unset)


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


def _is_email(address: Any) -> bool:
    return isinstance(address, str) and bool(
        re.match(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$", address)
    )


def _email(address: str) -> str:
    if not _is_email(address):
        raise ValueError(f"expected an e-mail address such as analyst@example.org, got {address!r}")
    return address


def _retry_delays_digest(value: Any) -> Any:
    """``backoff: [1m, 5m]`` or one delay -> seconds each (see :func:`_retry_delays`)."""
    return _retry_delays(value)


class DigestConfig(_Model):
    """A watchlist's digest e-mail: who gets it, when, and what it looks like.

    ``schedule`` is a five-field cron expression read in ``timezone`` (an IANA
    zone such as Asia/Beirut); both are checked here so that a typo is a
    config error with its line, not a service that never sends."""

    to: list[str] = Field(min_length=1)
    schedule: str = "0 7 * * *"  # cron, in ``timezone``
    timezone: str = "UTC"
    empty: Literal["skip", "send"] = "skip"
    group_by: Literal["rule", "feed"] = "rule"
    template_dir: str | None = None  # templates overriding the shipped ones
    # a digest the SMTP server refused is tried again after each delay in turn, then after
    # the last one for ever; after fail_after attempts it is shown (and logged) as failed
    backoff: Annotated[
        list[Annotated[int, Field(ge=1, le=86400)]], BeforeValidator(_retry_delays_digest)
    ] = Field(default_factory=lambda: [60, 300, 900, 3600], min_length=1)
    fail_after: int = Field(default=3, ge=1, le=1000)

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_email(address) for address in value]

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if len(value.split()) != 5:
            raise ValueError(
                f"expected a cron expression of 5 fields (minute hour day month weekday), "
                f'got {value!r}; e.g. "0 7 * * *" for 07:00 every day'
            )
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(
                f'{value!r} is not a valid cron expression ({exc}); e.g. "0 7 * * 1-5" '
                "for 07:00 on weekdays"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; write an IANA zone name such as "
                "Asia/Beirut, Europe/London or UTC"
            ) from None
        return value


def _retry_delays(value: Any) -> Any:
    """``backoff: [10s, 30s, 2m]`` or one delay (``backoff: 1m``) -> seconds each."""
    items = value if isinstance(value, list) else [value]
    return [parse_duration(item) for item in items]


class AlertConfig(_Model):
    """A watchlist's real-time alerts: a webhook POSTed within seconds of a match.

    A failed POST is tried again after each delay of ``backoff`` in turn, then
    after its last delay for ever; after ``fail_after`` attempts the alert is
    shown as failed (``monitor alerts list``) but still tried: none is dropped."""

    webhook: Annotated[str, BeforeValidator(_http_url)]
    format: Literal["json", "slack"] = "json"
    # POST to the webhook even when its host is on a loopback or private address (a
    # receiver on the same machine or network); public addresses only by default
    allow_private: bool = False
    backoff: Annotated[
        list[Annotated[int, Field(ge=1, le=86400)]], BeforeValidator(_retry_delays)
    ] = Field(default_factory=lambda: [10, 30, 120, 600, 1800, 3600], min_length=1)
    fail_after: int = Field(default=5, ge=1, le=1000)

    @field_validator("webhook")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        if re.match(r"^https?://[^/?#]*@", value, re.IGNORECASE):
            raise ValueError(
                "a webhook URL with user:password@ is not accepted; put the secret in the "
                "path or query as the receiver documents it"
            )
        return value


class WatchlistConfig(_Model):
    """A watchlist; its rules are matched by the watch stage (see docs/design.md)."""

    name: str = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    feeds: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    fuzzy: bool = False
    variants: dict[str, list[str]] = Field(default_factory=dict)
    digest: DigestConfig | None = None
    alert: AlertConfig | None = None

    @field_validator("recipients")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [_email(address) for address in value]

    @model_validator(mode="before")
    @classmethod
    def _recipients_are_digest_to(cls, data: Any) -> Any:
        """``recipients:`` without a ``digest:`` block still means a daily digest to them
        (07:00 UTC), as the documentation always said; with one, ``digest.to`` wins."""
        if isinstance(data, Mapping) and "digest" not in data:
            recipients = data.get("recipients")
            if recipients and _scalars(recipients) and all(map(_is_email, recipients)):
                data = {**data, "digest": {"to": list(recipients)}}
            # otherwise recipients: reports what is wrong with it, once
        return data


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
    # politeness, per host, for feeds and article pages alike: at least this many seconds
    # between the starts of two requests to one host (per_host bounds how many at once);
    # one a second, the pace polite crawlers keep to a site that asks nothing else
    per_host_delay: float = Field(default=1.0, ge=0, le=600)


class ExtractSettings(_Model):
    workers: int = Field(default=0, ge=0, le=64, description="0 = one per CPU core")
    keep_raw_html: bool = True
    future_skew: Duration = 900


class DedupSettings(_Model):
    """How duplicates are recognised (docs/configuration.md, "dedup")."""

    near_duplicate_threshold: float = Field(default=0.5, ge=0.2, le=1.0)
    min_words: int = Field(default=40, ge=1)
    tracking_params: list[str] = Field(default_factory=list)


class ScheduleSettings(_Model):
    """When feeds are polled (docs/configuration.md, "schedule")."""

    # each feed's interval follows the rate of new entries it is seen to publish
    adaptive: bool = True
    min_interval: Duration = 300
    max_interval: Duration = 86400
    # a random share of the interval added or taken off each poll, so feeds spread out
    jitter: float = Field(default=0.1, ge=0, le=0.5)


class HttpSettings(_Model):
    """The service's HTTP endpoint: /healthz, /metrics (and later the web console)."""

    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(default=8425, ge=0, le=65535)  # 0: any free port (tests)


class ServiceSettings(_Model):
    """What ``monitor run`` does besides polling (docs/configuration.md, "service")."""

    http: HttpSettings = Field(default_factory=HttpSettings)
    # feeds.yaml is checked for changes this often (and re-read on SIGHUP); 0: SIGHUP only
    reload_check: Annotated[int, BeforeValidator(parse_duration), Field(ge=0)] = 30
    # /healthz says degraded when no feed was polled successfully for this long
    stale_after: Duration = 3600
    log_format: Literal["text", "json"] = "text"


class WebSettings(_Model):
    """The analysts' web console (docs/configuration.md, "web"): ``monitor web``, and
    inside ``monitor run`` when ``enabled``."""

    enabled: bool = False
    # on any address but a loopback one, every request needs a login (monitor.web.auth);
    # the secrets come only from the environment
    bind: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    # dates are shown in this zone unless the browser says its own (None: UTC)
    timezone: str | None = None


class HousekeepingSettings(_Model):
    """Retention and history (docs/configuration.md, "housekeeping")."""

    retention: Duration | None = None  # None: items are kept for ever
    # items a watchlist matched are kept at least this long (None: for ever); the longer of
    # this and their feeds' retention applies (monitor.storage.retention)
    matched_retention: Duration | None = None
    # a pruned entry's tombstone goes once its feed, read after this long, no longer lists it
    tombstone_ttl: Duration = 30 * 86400
    prune_every: Duration = 3600
    prune_batch: int = Field(default=1000, ge=1, le=100_000)
    history: int = Field(default=50, ge=1, le=10_000)  # polls of fetch history kept per feed


class SmtpSettings(_Model):
    """Where digests are sent from (docs/configuration.md, "smtp")."""

    host: str | None = Field(default=None, min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None  # the password is read from this environment variable
    from_: str = Field(alias="from", min_length=3)
    timeout: float = Field(default=30.0, gt=0)
    # instead of SMTP: add each digest to the Maildir at this path (relative to feeds.yaml)
    output: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _somewhere(self) -> SmtpSettings:
        if not self.host and not self.output:
            raise ValueError(
                "smtp: needs a host: (the SMTP server) or an output: (a Maildir path for "
                "digests written to disk); add one of them"
            )
        return self


class _File(_Model):
    """The shape of ``feeds.yaml`` itself."""

    # orders versions of this file across workers (monitor.storage.config_version)
    config_version: int | None = Field(default=None, ge=0)
    database: str | None = None
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    housekeeping: HousekeepingSettings = Field(default_factory=HousekeepingSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    smtp: SmtpSettings | None = None
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
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    housekeeping: HousekeepingSettings = Field(default_factory=HousekeepingSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    smtp: SmtpSettings | None = None
    config_version: int | None = None

    @property
    def masked_database_url(self) -> str:
        return mask_url(self.database_url)

    def feed(self, name: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.name == name), None)


def mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database url>"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


# -- reading the file: every refusal names the file, the line and field if any, and a fix --

MAX_CONFIG_BYTES = 4 * 1024**2  # ten thousand feeds are about 1 MB; more is not a feeds.yaml
MAX_DEPTH = 32  # feeds.yaml nests five levels at most; a runaway paste is reported, not a crash
_NO_LINE = "so there is no line to point at"
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_NOT_PRINTABLE = re.compile("[^\t\n\r -~\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SYNTAX_HINTS = (
    ("'\\t'", "YAML does not allow tabs for indentation: indent with spaces"),
    ("duplicate key", "a key may appear only once in a mapping: keep one of them"),
    (
        "mapping values are not allowed",
        "a value that contains ': ' must be quoted (url: \"...\"); otherwise check the indentation",
    ),
    ("could not find expected ':'", "write each entry as key: value, with a space after the colon"),
    ("end of stream", "the quote or bracket opened here is never closed: close it"),
    ("expected <block end>", "the indentation is off: align the keys of one entry"),
    ("undefined alias", "an *alias needs an &anchor of the same name above it"),
)


class _Short(reprlib.Repr):
    """A bounded repr that also bounds ruamel's lists and mappings (an alias bomb is huge)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring, self.maxother, self.maxlevel = 80, 80, 1
        self.maxlist = self.maxtuple = self.maxdict = 4

    # reprlib dispatches on the type's name: repr_<TypeName>
    def repr_CommentedSeq(self, value: Any, level: int) -> str:
        return self.repr_list(value, level)

    def repr_CommentedMap(self, value: Any, level: int) -> str:
        return self.repr_dict(value, level)


_short = _Short()


def read_yaml(path: Path) -> Any:
    """Read ``path`` with line information kept; raise ConfigError saying what to fix."""
    return _read_document(path)[0]


def _read_document(path: Path) -> tuple[Any, str]:
    """The YAML document of ``path`` (None when it has none) and the file's text."""
    text = _decode(path, _read_bytes(path))
    return _parse_document(path, text), text


def _parse_document(path: Path, text: str) -> Any:
    """``text`` read in round-trip mode, every node with its line; ConfigError if it is not
    YAML, naming the line and field and what to fix."""
    cut = _bracket_cut(text)
    if cut is not None:  # ruamel's scanner is quadratic in flow depth: look at the start only
        too_deep = _too_deep(path, text[:cut])
        if too_deep is not None:
            raise too_deep
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        raise _syntax_error(path, text, exc) from None
    except ReaderError as exc:  # a character YAML forbids, such as NUL in a binary file
        raise _bad_character(path, text, exc.position) from None
    except RecursionError:  # the composer recurses once per level of nesting
        raise _too_deep(path, text) or ConfigError(
            f"{path}: nested too deeply to read, {_NO_LINE}; feeds.yaml needs five levels at "
            "most. Look for a runaway paste or unclosed brackets."
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file. Create it (see feeds.yaml in the repository for an "
            "example) or pass --config PATH."
        ) from None
    except IsADirectoryError:
        inside = path / DEFAULT_CONFIG.name
        example = f", e.g. --config {inside}" if inside.is_file() else ""
        raise ConfigError(
            f"{path}: is a directory, not a file, {_NO_LINE}. Pass --config with the path "
            f"of the YAML file itself{example}."
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{path}: permission denied: {_user()} may not read it, {_NO_LINE}. Make it "
            f"readable (e.g. chmod a+r {path}) or run monitor as a user who may read it."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot be read ({exc.strerror or exc}), {_NO_LINE}. Check the path "
            "given to --config."
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_CONFIG_BYTES // 1024**2} MiB, {_NO_LINE}; a feeds.yaml "
            "is a few hundred KB at most. Check that --config names the configuration, not a "
            "database, a log or an export."
        )
    return data


def _user() -> str:
    uid = os.geteuid()
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _decode(path: Path, data: bytes) -> str:
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ConfigError(
                f"{path}: the whole file is {name} (it starts with a {name} byte-order mark), "
                f"{_NO_LINE}; monitor reads UTF-8. Save it as UTF-8, e.g. with "
                f"iconv -f {name} -t UTF-8."
            )
    if b"\x00" in data:  # before decoding: a binary file fails both ways, NUL says which
        text = data.decode("utf-8", errors="replace")
        nul = len(data[: data.index(b"\x00")].decode("utf-8", errors="replace"))
        raise _bad_character(path, text, nul)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        line, column = _position(data[: exc.start].decode("utf-8", errors="replace"))
        field = _trace(text, line, column)[0]
        raise ConfigError(
            f"{path}:{line}:{column}: {field or '(top level)'}: not UTF-8: byte "
            f"0x{data[exc.start]:02x} cannot be decoded (the file was perhaps saved as Latin-1 "
            "or Windows-1252). Save it as UTF-8, e.g. with iconv -f LATIN1 -t UTF-8."
        ) from None


def _position(prefix: str) -> tuple[int, int]:
    """1-based line and column just after ``prefix``."""
    return prefix.count("\n") + 1, len(prefix) - prefix.rfind("\n")


def _syntax_error(path: Path, text: str, exc: MarkedYAMLError) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc.context or "unreadable YAML")
    if "end of stream" in problem and exc.context_mark is not None:
        # an unclosed quote or bracket: where it opens is the place to fix
        mark, problem = exc.context_mark, f"{problem} {exc.context}"
    hint = next((h for key, h in _SYNTAX_HINTS if key in problem), None)
    hint = hint or "fix the syntax at that spot (often a missing quote, colon or space)"
    if mark is None:
        return ConfigError(f"{path}: invalid YAML: {problem}; {hint}.")
    field, inside = _trace(text, mark.line + 1, mark.column + 1)
    where = f" {'in' if inside else 'after'} {field}" if field else ""
    return ConfigError(
        f"{path}:{mark.line + 1}:{mark.column + 1}: invalid YAML{where}: {problem}; {hint}."
    )


def _bad_character(path: Path, text: str, position: int) -> ConfigError:
    line, column = _position(text[:position])
    field = _trace(_NOT_PRINTABLE.sub("\ufffd", text), line, column)[0] or "(top level)"
    code = ord(text[position]) if position < len(text) else 0
    if code == 0:
        what = (
            "a NUL byte: this is a binary file, not YAML. Check that --config names your "
            "feeds.yaml and not the database or another file"
        )
    else:
        what = (
            f"the control character U+{code:04X}, which YAML does not allow. Delete it (it "
            "often comes from text pasted out of a PDF or a word processor)"
        )
    return ConfigError(f"{path}:{line}:{column}: {field}: {what}.")


def _bracket_cut(text: str) -> int | None:
    """Where ``[`` and ``{`` first nest deeper than MAX_DEPTH + 1, quotes ignored.

    A cheap test that may overcount (brackets in quoted text); the parser decides.
    """
    depth = 0
    for bracket in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if bracket.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH + 1:
            return bracket.end()
    return None


def _too_deep(path: Path, text: str) -> ConfigError | None:
    """The error for the first node nested deeper than MAX_DEPTH, if there is one."""
    for depth, event, label, _inside in _walk(text):
        if depth > MAX_DEPTH:
            mark = event.start_mark
            return ConfigError(
                f"{path}:{mark.line + 1}:{mark.column + 1}: {label or '(top level)'}: nested "
                f"more than {MAX_DEPTH} levels deep; feeds.yaml needs five at most. Look there "
                "for unclosed [ or { brackets."
            )
    return None


@dataclass
class _Frame:
    """One open mapping or sequence while the YAML events are followed."""

    sequence: bool
    index: int = -1
    key: str | None = None
    in_value: bool = False
    name: str | None = None


def _trace(text: str, line: int, column: int) -> tuple[str, bool]:
    """The field the parser was in at ``line:column`` (1-based), and whether inside its value.

    Used where no tree exists (a syntax error, bytes that do not decode): the event
    stream is followed up to that spot or up to the error, whichever comes first.
    """
    field, inside, last = "", False, None
    for _depth, event, label, in_value in _walk(text):
        if (event.start_mark.line + 1, event.start_mark.column + 1) > (line, column):
            break
        field, inside, last = label, in_value, event
    if inside and isinstance(last, ScalarEvent) and last.end_mark.line + 1 < line:
        # the key's value was on its own line, which the parser had not handed over yet
        rest = text.split("\n")[last.end_mark.line][last.end_mark.column :].lstrip(" :")
        inside = not rest.strip() or rest.startswith("#")
    return field, inside


def _walk(text: str) -> Iterator[tuple[int, Event, str, bool]]:
    """Yield (depth, event, field label, inside a value) after each YAML event of ``text``."""
    frames: list[_Frame] = []
    try:
        for event in _yaml().parse(text):
            _follow(frames, event)
            yield (len(frames), event, *_label(frames))
    except (YAMLError, RecursionError):
        return  # the syntax error itself: the last state yielded is where the parser stood


def _follow(frames: list[_Frame], event: Event) -> None:
    if isinstance(event, CollectionEndEvent):
        if frames:
            frames.pop()
        if frames:
            frames[-1].in_value = False
        return
    if not isinstance(event, NodeEvent):
        return  # stream and document events
    parent = frames[-1] if frames else None
    opens = isinstance(event, CollectionStartEvent)
    if parent is not None and parent.sequence:
        parent.index += 1
    elif parent is not None and not parent.in_value:  # a key
        parent.key, parent.in_value = str(getattr(event, "value", "?")), True
        if not opens:
            return
    elif parent is not None:  # a value
        if parent.key == "name" and isinstance(event, ScalarEvent):
            parent.name = str(event.value)
        parent.in_value = opens
    if opens:
        frames.append(_Frame(sequence=isinstance(event, SequenceStartEvent)))


def _label(frames: list[_Frame]) -> tuple[str, bool]:
    """``feeds[2] (X).interval`` for the open frames, as :func:`_describe` writes it."""
    parts: list[str] = []
    for position, frame in enumerate(frames[:12]):
        if frame.sequence and frame.index >= 0:
            child = frames[position + 1] if position + 1 < len(frames) else None
            name = child.name if child is not None and not child.sequence else None
            parts.append(f"[{frame.index}]" + (f" ({name})" if name else ""))
        elif not frame.sequence and frame.key is not None:
            parts.append(("." if parts else "") + frame.key)
        else:
            break
    if len(frames) > 12:
        parts.append("...")
    inside = bool(frames) and (frames[-1].sequence or frames[-1].in_value)
    return "".join(parts), inside


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
                if _scalars(base) and _scalars(own):
                    entry["tags"] = list(dict.fromkeys(str(t) for t in [*base, *own]))
                # otherwise the wrong type is left in place for validation to report
                merged.append(entry)
            else:
                merged.append(feed)
        data["feeds"] = merged
    return data


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float)


def _scalars(value: Any) -> bool:
    """A list of plain values (never str() a nested or aliased structure: it may be huge)."""
    return isinstance(value, list) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    )


def _duplicates(raw: Any) -> list[tuple[tuple[str, int, str], int]]:
    """Each feed name, feed URL or watchlist name used above it, with the first index."""
    found: list[tuple[tuple[str, int, str], int]] = []
    if not isinstance(raw, Mapping):
        return found
    for section, fields in (("feeds", ("name", "url")), ("watchlists", ("name",))):
        entries = raw.get(section)
        if not isinstance(entries, list):
            continue
        for field in fields:
            seen: dict[str, int] = {}
            for index, entry in enumerate(entries):
                value = entry.get(field) if isinstance(entry, Mapping) else None
                if not isinstance(value, str):
                    continue
                key = value.strip()
                if key in seen:
                    found.append(((section, index, field), seen[key]))
                seen.setdefault(key, index)
    return found


def _strip(kind: Any) -> Any:
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    return kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _schema(loc: tuple[int | str, ...]) -> tuple[Any, FieldInfo | None]:
    """The declared type at ``loc`` in the file's schema, and the model field ``loc`` ends in."""
    kind: Any = _File
    info: FieldInfo | None = None
    for key in loc:
        kind, info = _strip(kind), None
        if isinstance(key, str) and _is_model(kind) and key in kind.model_fields:
            info = kind.model_fields[key]
            kind = info.annotation
        elif isinstance(key, int) and get_origin(kind) in (list, tuple):
            kind = get_args(kind)[0]
        elif isinstance(key, str) and get_origin(kind) is dict:
            kind = get_args(kind)[1]
        else:
            return None, None
    return _strip(kind), info


_UNITS = {parse_duration: ("seconds", "s", "15m"), parse_size: ("bytes", " bytes", "1MB")}


def _unit(info: FieldInfo | None) -> tuple[str, str, str] | None:
    """(unit, suffix, example) of a duration or size field."""
    for item in info.metadata if info else ():
        func = getattr(item, "func", None)
        if func in _UNITS:
            return _UNITS[func]
    return None


def _unknown_field(loc: tuple[int | str, ...]) -> str:
    model = _schema(loc[:-1])[0]
    fields = list(model.model_fields) if _is_model(model) else []
    close = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean {close[0]}? (docs/configuration.md lists them all)"
    known = f" the fields here are {', '.join(fields)};" if fields else ""
    return f"unknown field;{known} check its spelling against docs/configuration.md"


def _message(error: ErrorDetails, loc: tuple[int | str, ...]) -> str:
    """pydantic's message for one error, rewritten to say what to write instead."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    got = f"got {_short.repr(value)}"
    declared, info = _schema(loc)
    if kind == "extra_forbidden":
        return _unknown_field(loc)
    if kind == "missing":
        return f"required field is missing; add a {loc[-1]}: line to this entry"
    if value is None and kind.endswith("_type"):
        return "has no value (nothing after the colon); write one or delete the line"
    if kind in ("list_type", "tuple_type"):
        if loc[-1] in ("feeds", "watchlists"):
            return f"expected a list of {loc[-1]}, each entry a '- name: ...' line, {got}"
        return f"expected a list such as [a, b], {got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        needs = [n for n, f in declared.model_fields.items() if f.is_required()]
        fields = " with " + " and ".join(f"{n}:" for n in needs) if _is_model(declared) else ""
        return f"expected a mapping{fields} (key: value lines), {got}"
    unit = _unit(info)
    if kind in ("greater_than_equal", "greater_than") and unit:
        bound = ctx.get("ge", ctx.get("gt"))
        return (
            f"{got} but it should be greater than or equal to {bound} {unit[0]} "
            f"({bound}{unit[1]}); write e.g. {unit[2]}"
        )
    rewritten = {
        "bool_parsing": f"expected a boolean (true or false), {got}",
        "bool_type": f"expected a boolean (true or false), {got}",
        "int_parsing": f"expected an integer (a whole number), {got}",
        "int_type": f"expected an integer (a whole number), {got}",
        "int_from_float": f"expected an integer (a whole number), {got}",
        "float_parsing": f"expected a number such as 10 or 2.5, {got}",
        "float_type": f"expected a number such as 10 or 2.5, {got}",
        "string_type": f"expected a string (text), {got}; "
        + ("put it in quotes" if _is_scalar(value) else "write plain text, not a list or mapping"),
        "string_too_short": "must not be empty; write a value or delete the line",
        "too_short": f"should have at least {ctx.get('min_length')} item(s), got none; add one",
        "greater_than_equal": f"should be greater than or equal to {ctx.get('ge')}, {got}",
        "greater_than": f"should be greater than {ctx.get('gt')}, {got}",
        "less_than_equal": f"should be at most {ctx.get('le')}, {got}",
        "less_than": f"should be less than {ctx.get('lt')}, {got}",
    }
    if kind in rewritten:
        return rewritten[kind]
    message = error["msg"].removeprefix("Value error, ")
    return message if kind == "value_error" else f"{message}; see docs/configuration.md"


def _database_url(file_value: str | None, config_dir: Path, env: Mapping[str, str]) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

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
    """Load and validate ``path``; raise :class:`ConfigError` listing every problem.

    A file is first read with libyaml (:mod:`monitor.fastyaml`, same values, no lines,
    ten to thirty times faster on a large file); only when that reader is unsure of a value or
    the file does not validate is it read again in round-trip mode, so that every
    message names its line exactly as it always did."""
    path = Path(path)
    env = os.environ if env is None else env
    text = _decode(path, _read_bytes(path))
    if _bracket_cut(text) is None:  # a deeply nested file: the round-trip checks say where
        fast = fastyaml.load(text, MAX_DEPTH)
        if fast is not fastyaml.UNSURE:
            try:
                return _settings(path, fast, text, env)
            except ConfigError:
                pass  # read again with lines, for the messages
    return _settings(path, _parse_document(path, text), text, env)


def _settings(path: Path, raw: Any, text: str, env: Mapping[str, str]) -> Settings:
    """Validate the document ``raw`` read from ``path``; ConfigError listing every problem
    (with lines when ``raw`` came from the round-trip reader)."""
    if raw is None and not text.strip():
        raise ConfigError(
            f"{path}: the file is empty ({'0 bytes' if not text else 'blank space only'}), "
            f"{_NO_LINE}; "
            "a configuration lists its feeds under feeds:. Write them in it (see "
            "docs/configuration.md), or pass --config with the file you meant."
        )
    if raw is None:
        raw = {}  # only comments: a configuration that lists nothing yet
    if not isinstance(raw, Mapping):
        lc = getattr(raw, "lc", None)
        line = lc.line + 1 if lc is not None and lc.line is not None else 1
        raise ConfigError(
            f"{path}:{line}: expected a mapping at the top level with keys such as feeds:, "
            f"defaults:, watchlists:, got {_short.repr(raw)}. Start the file with a line "
            "feeds: and list the feeds under it (see docs/configuration.md)."
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
            loc = _source_loc(raw, tuple(error["loc"]))
            report(loc, _message(error, loc))
    if parsed is not None:
        for position, watchlist in enumerate(parsed.watchlists):
            problem = _compile_problem(watchlist)
            if problem:
                report(("watchlists", position, "variants"), problem)
    for loc, first in _duplicates(raw):
        section, index, field = loc
        value = raw[section][index][field]
        what = "feed" if section == "feeds" else "watchlist"
        report(
            loc,
            f"duplicate {what} {field} {value!r}, already used by {section}[{first}] at line "
            f"{_line_of(raw, (section, first, field))}: each must be unique; rename or remove one",
        )
    if problems or parsed is None:
        problems.sort(key=_line_key)
        raise ConfigError(
            f"{path}: {len(problems)} problem(s) in the configuration; fix each one below, "
            "then run monitor check",
            problems,
        )
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
        schedule=parsed.schedule,
        service=parsed.service,
        housekeeping=parsed.housekeeping,
        web=parsed.web,
        smtp=parsed.smtp,
        config_version=parsed.config_version,
    )
