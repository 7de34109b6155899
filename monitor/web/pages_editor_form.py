"""The watchlist editor's form: read from a request, checked, turned into the mapping
``feeds.yaml`` gets (pure: tested without a server).

Rules are one per line.  A rule that the file gave options of its own
(``case_sensitive``, ``fuzzy``, ``variants``) keeps them as long as its text is
unchanged, so editing one rule in the console does not drop another's settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.config import WatchlistConfig
from monitor.watch.preview import check_rules

MAX_RULES = 200
MAX_RULE = 2000
MAX_DAYS = 90
DEFAULT_DAYS = 7
RESERVED = frozenset({"new", "preview"})  # /watchlists/new and /watchlists/preview
_EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")


def split_list(value: str) -> list[str]:
    """``a, b`` or one a line -> ``["a", "b"]``, blanks and repeats dropped."""
    parts = (p.strip() for p in re.split(r"[,\n]", value))
    return list(dict.fromkeys(p for p in parts if p))


@dataclass
class EditorForm:
    name: str = ""
    rules_text: str = ""
    fuzzy: bool = False
    feeds: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    days: int = DEFAULT_DAYS
    expected_hash: str = ""

    @property
    def rules(self) -> list[str]:
        return [line.strip() for line in self.rules_text.splitlines() if line.strip()]

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> EditorForm:
        """From a query string or a posted form (strings; a checkbox is present or not)."""

        def text(key: str, limit: int = 20_000) -> str:
            value = values.get(key)
            return value[:limit] if isinstance(value, str) else ""

        try:
            days = int(text("days", 10) or DEFAULT_DAYS)
        except ValueError:
            days = DEFAULT_DAYS
        return cls(
            name=text("name", 200).strip(),
            rules_text=text("rules", MAX_RULES * MAX_RULE),
            fuzzy=text("fuzzy", 10) in ("on", "1", "true", "yes"),
            feeds=split_list(text("feeds")),
            tags=split_list(text("tags")),
            recipients=split_list(text("recipients")),
            days=min(max(days, 1), MAX_DAYS),
            expected_hash=text("expected_hash", 200),
        )

    @classmethod
    def of(cls, watchlist: WatchlistConfig, expected_hash: str) -> EditorForm:
        return cls(
            name=watchlist.name,
            rules_text="\n".join(r.query for r in watchlist.rules),
            fuzzy=watchlist.fuzzy,
            feeds=list(watchlist.feeds),
            tags=list(watchlist.tags),
            recipients=list(watchlist.recipients),
            expected_hash=expected_hash,
        )

    def problems(self, taken: Sequence[str] = ()) -> list[str]:
        """What stops a save, each saying what to do (rule errors carry their column)."""
        found: list[str] = []
        if not self.name:
            found.append("name: give the watchlist a name")
        elif self.name.casefold() in RESERVED or "/" in self.name:
            found.append(
                f"name: {self.name!r} cannot be a watchlist's name in the console (its pages "
                "are /watchlists/NAME); choose another"
            )
        elif self.name in taken:
            found.append(f"name: a watchlist named {self.name!r} exists already; choose another")
        rules = self.rules
        if not rules:
            found.append("rules: write at least one rule (a name, a phrase or a query)")
        if len(rules) > MAX_RULES:
            found.append(f"rules: at most {MAX_RULES} rules")
        for problem in check_rules(rules):
            found.append(
                f"rule {problem.rule_index + 1}, column {problem.column}: {problem.message}"
            )
        for address in self.recipients:
            if not _EMAIL.match(address):
                found.append(
                    f"recipients: {address!r} is not an e-mail address such as analyst@example.org"
                )
        return found

    def mapping(self, existing: WatchlistConfig | None = None) -> dict[str, Any]:
        """The watchlist as ``feeds.yaml`` gets it: empty lists and defaults left out;
        what the form does not edit (digest, alert, variants) taken from ``existing``."""
        own = {r.query: r for r in existing.rules} if existing else {}
        rules: list[Any] = []
        for text in self.rules:
            kept = own.get(text)
            extra = kept.model_dump(exclude_defaults=True, exclude={"query"}) if kept else {}
            rules.append({"query": text, **extra} if extra else text)
        result: dict[str, Any] = {"name": self.name, "rules": rules}
        if self.fuzzy:
            result["fuzzy"] = True
        for key in ("feeds", "tags", "recipients"):
            if getattr(self, key):
                result[key] = list(getattr(self, key))
        if existing is not None:
            if existing.variants:
                result["variants"] = {k: list(v) for k, v in existing.variants.items()}
            for key in ("digest", "alert"):
                block = getattr(existing, key)
                if block is None:
                    continue
                dumped = block.model_dump(exclude_defaults=True, mode="json")
                if (
                    key == "digest"
                    and set(dumped) == {"to"}
                    and dumped["to"] == list(existing.recipients)
                ):
                    continue  # made from recipients: by the config, not written in the file
                result[key] = dumped
        return result
