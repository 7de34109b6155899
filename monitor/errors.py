"""One error root with families, as the design notes describe.

Outcomes of normal operation (a feed that answers 500, a page that cannot be
extracted) are values, not exceptions; see :mod:`monitor.pipeline.fetch`.
These exceptions are for misuse and for conditions a user must fix.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration file or environment is invalid.

    ``problems`` holds one human-readable line per problem, each naming the
    file, the line and the field.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class StorageError(MonitorError):
    """The database cannot be reached, migrated, or refused an operation."""


class NotFoundError(StorageError, LookupError):
    """A requested feed or item does not exist."""


class OpmlError(MonitorError):
    """An OPML file cannot be read."""


class NotifyError(MonitorError):
    """A digest or alert cannot be built or delivered (template, SMTP, mail output)."""
