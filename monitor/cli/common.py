"""Shared CLI plumbing: the context object, error handling, output helpers."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monitor.config import Settings, load_settings, parse_duration
from monitor.errors import ConfigError, MonitorError
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
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                fail(str(exc), EXIT_USAGE)
        return self._settings

    @contextmanager
    def store(self, migrate: bool = True) -> Iterator[Store]:
        settings = self.settings
        with handle_errors():
            store = Store.from_settings(settings, migrate=migrate)
        try:
            yield store
        finally:
            store.close()


def progress_bar() -> Progress:
    """The progress bar of long commands: on stderr, only on a terminal, gone when done."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def handle_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except MonitorError as exc:
        fail(str(exc))


def setup_logging(verbose: int, default: int = logging.WARNING) -> None:
    level = {0: default, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=err, show_path=False, markup=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """``--since``: an ISO date or datetime (UTC unless it says otherwise) or an age (2d, 12h)."""
    if not value:
        return None
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
