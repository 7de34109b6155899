"""Shared CLI plumbing: the context object, error handling, output helpers."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from logging import LogRecord
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console, ConsoleRenderable
from rich.logging import RichHandler
from rich.style import StyleType
from rich.text import Text

from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:  # imported when used: light commands (--help, check) start fast
    from rich.progress import Progress

    from monitor.config import Settings
    from monitor.storage import Store

err = Console(stderr=True)
out = Console()
EXIT_USAGE = 2
EXIT_FAILURE = 1


@dataclass
class Context:
    config_path: Path
    verbose: int = 0
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from monitor.config import load_settings

            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                fail(str(exc), EXIT_USAGE)
        return self._settings

    @contextmanager
    def store(self, migrate: bool = True) -> Iterator[Store]:
        from monitor.storage import Store

        settings = self.settings
        with handle_errors():
            store = Store.from_settings(settings, migrate=migrate)
        try:
            yield store
        finally:
            store.close()


# Characters that must not reach a terminal as they are: the C0 controls except tab and
# newline (ESC starts the sequences that clear the screen, retitle the window or plant
# hyperlinks; CR and backspace overwrite what was printed), DEL, the C1 controls (8-bit
# ESC/CSI/OSC), the Unicode line and paragraph separators, the bidi embeddings, overrides
# and isolates that reorder what follows them ("Trojan Source", CVE-2021-42574), and
# lone surrogates, which the console cannot even encode.  LRM, RLM and ALM stay: Arabic
# and Persian text uses them, and they reorder nothing beyond themselves.
_UNSAFE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every character that could act on the terminal written out as an
    escape (ESC -> ``\\x1b``, U+202E -> ``\\u202e``): shown to the analyst, never obeyed."""
    return _UNSAFE.sub(_shown, text)


def safe(text: str | None, style: StyleType = "") -> Text:
    """Feed-supplied text (titles, authors, URLs, server errors...) as Rich data.

    A :class:`~rich.text.Text` is never read as markup (``[red]``, ``[link=...]``) nor
    as emoji codes (``:warning:``), which ``rich.markup.escape`` alone would still turn
    into pictures; control characters are made visible by :func:`visible`.  Every
    string the CLI prints that it did not write itself goes through here."""
    return Text(visible(text or ""), style=style)


def progress_bar() -> Progress:
    """The progress bar of long commands: on stderr, only on a terminal, gone when done.

    Descriptions are plain text (feed and watchlist names come from feeds.yaml, which
    OPML imports fill from outside files), so they carry no markup."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: MESSAGE`` and exit; the message may quote URLs and server text."""
    err.print(Text.assemble(("error:", "bold red"), " ", safe(message)), soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def handle_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except MonitorError as exc:
        fail(str(exc))


class _PlainRichHandler(RichHandler):
    """Log lines quote feed titles, URLs and server errors: plain text, controls visible."""

    def render_message(self, record: LogRecord, message: str) -> ConsoleRenderable:
        record.markup = False  # an ``extra={"markup": True}`` must not turn it back on
        return super().render_message(record, visible(message))


LOG_FORMAT_ENV = "MONITOR_LOG_FORMAT"
LOG_FORMATS = ("text", "json")


def log_format_of(configured: str | None, env: Mapping[str, str] | None = None) -> str:
    """The log format: ``MONITOR_LOG_FORMAT`` if set, else ``service.log_format``, else text.

    The environment wins so that an operator (or a systemd unit) can switch a
    deployment to JSON lines without editing the shared feeds.yaml."""
    env = os.environ if env is None else env
    chosen = env.get(LOG_FORMAT_ENV) or configured or "text"
    if chosen not in LOG_FORMATS:
        fail(
            f"{LOG_FORMAT_ENV}={chosen!r} is not a log format; use text or json "
            f"(or unset it to follow service.log_format in the config)",
            EXIT_USAGE,
        )
    return chosen


def setup_logging(
    verbose: int, default: int = logging.WARNING, log_format: str | None = None
) -> None:
    """Log to stderr: Rich text lines (the default), or one JSON object a line (see
    :mod:`monitor.logfmt`) when :func:`log_format_of` says json."""
    level = {0: default, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler: logging.Handler
    if log_format_of(log_format) == "json":
        from monitor.logfmt import JsonFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logging.captureWarnings(True)  # warnings.warn too: every line of stderr is JSON
    else:
        handler = _PlainRichHandler(console=err, show_path=False, markup=False)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[handler],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler", "uvicorn"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """``--since``: an ISO date or datetime (UTC unless it says otherwise) or an age (2d, 12h)."""
    if not value:
        return None
    from monitor.config import parse_duration

    now = now or datetime.now(UTC)
    if _DATE.match(value):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not an ISO date such as 2026-01-31") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r}: expected an ISO date (2026-01-31), a datetime, or an age such as 2d or 12h"
        ) from None


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"
