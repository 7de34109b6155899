"""The watch stage: the configured watchlists, compiled once, applied to one item.

Pure: an item's title, text, author and feeds go in, match records come out.
The orchestrator runs it on every new or revised item before storing it (the
matches are written in the item's transaction); ``monitor watchlists
backfill`` runs it over stored items.

Scope: a watchlist with ``feeds:`` or ``tags:`` applies only to items carried
by one of those feeds or by a feed with one of those tags; with neither, to
every item.  All rules of all watchlists share one automaton, so scoping is
a filter on the hits, not a second pass.  When another feed is found carrying
an item already stored, the item is matched again with all its feeds if any
watchlist is scoped or any rule asks for ``feed:`` (:attr:`WatchStage.feed_sensitive`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.config import FeedConfig, WatchlistConfig
from monitor.watch.matcher import Document, Match, Matcher, Rule
from monitor.watch.query import fields_of, parse_rule


@dataclass(frozen=True, slots=True)
class _Scope:
    feeds: frozenset[str]
    tags: frozenset[str]

    def covers(self, feeds: Iterable[str], tags: Iterable[str]) -> bool:
        if not self.feeds and not self.tags:
            return True
        return bool(self.feeds.intersection(feeds) or self.tags.intersection(tags))


def rules_of(watchlist: WatchlistConfig) -> list[Rule]:
    """The matcher's rules for one watchlist: its own settings applied to each rule.

    A watchlist's ``variants:`` (term -> spellings) go to every rule that
    mentions the term; a rule's own ``variants:`` to that rule."""
    rules = []
    for index, rule in enumerate(watchlist.rules):
        lowered = rule.query.casefold()
        variants = list(rule.variants)
        for term, spellings in watchlist.variants.items():
            if term.casefold() in lowered:
                variants.extend(spellings)
        rules.append(
            Rule(
                watchlist=watchlist.name,
                index=index,
                text=rule.query,
                case_sensitive=rule.case_sensitive,
                fuzzy=watchlist.fuzzy if rule.fuzzy is None else rule.fuzzy,
                variants=tuple(dict.fromkeys(variants)),
            )
        )
    return rules


class WatchStage:
    """Every watchlist of the configuration in one matcher."""

    def __init__(self, watchlists: Sequence[WatchlistConfig]) -> None:
        self.watchlists = tuple(watchlists)
        self.names = tuple(w.name for w in self.watchlists)
        self._scopes = {w.name: _Scope(frozenset(w.feeds), frozenset(w.tags)) for w in watchlists}
        rules = [r for w in self.watchlists for r in rules_of(w)]
        self._matcher = Matcher.compile(rules)
        # Whether the feeds carrying an item can change what it matches.
        self.feed_sensitive = any(
            scope.feeds or scope.tags for scope in self._scopes.values()
        ) or any("feed" in fields_of(parse_rule(r.text)) for r in rules)

    def only(self, name: str) -> WatchStage:
        """A stage of just the watchlist ``name`` (for a backfill)."""
        return WatchStage([w for w in self.watchlists if w.name == name])

    def applicable(self, feeds: Iterable[str], tags: Iterable[str]) -> tuple[str, ...]:
        """The watchlists whose scope covers an item carried by ``feeds`` tagged ``tags``."""
        feeds, tags = tuple(feeds), tuple(tags)
        return tuple(n for n in self.names if self._scopes[n].covers(feeds, tags))

    def match(
        self,
        *,
        title: str | None,
        text: str | None,
        author: str | None,
        feeds: Sequence[str],
        tags: Iterable[str] = (),
    ) -> tuple[tuple[Match, ...], tuple[str, ...]]:
        """The item's matches, and the watchlists evaluated (those in scope)."""
        evaluated = self.applicable(feeds, tags)
        if not evaluated:
            return (), ()
        document = Document(
            title=title or "", text=text or "", author=author or "", feeds=tuple(feeds)
        )
        wanted = set(evaluated)
        records = tuple(m for m in self._matcher.match(document) if m.watchlist in wanted)
        return records, evaluated


def feed_tags(feeds: Sequence[FeedConfig], names: Iterable[str]) -> tuple[str, ...]:
    """The tags of the named feeds, as configured."""
    wanted = set(names)
    return tuple(dict.fromkeys(t for f in feeds if f.name in wanted for t in f.tags))
