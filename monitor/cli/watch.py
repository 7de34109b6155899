"""``monitor watchlists`` and ``monitor matches``: what the analysts watch, what was found."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.common import (
    EXIT_USAGE,
    Context,
    err,
    fail,
    handle_errors,
    out,
    parse_since,
    progress_bar,
    safe,
    when,
)

if TYPE_CHECKING:  # imported when used: --help starts fast
    from monitor.storage.matches import StoredMatch
    from monitor.storage.reviews import Review

watchlists_app = typer.Typer(
    help="The watchlists of feeds.yaml: list them, preview rules, apply them to stored "
    "items.\n\n"
    'Example: monitor watchlists backfill "Iran and its allies" --since 30d',
    no_args_is_help=True,
)
matches_app = typer.Typer(
    help="What the watchlists found: list it by item, show every hit, triage it.\n\n"
    "Example: monitor matches list --since 1d --review open",
    no_args_is_help=True,
)


@watchlists_app.command("list")
def list_watchlists(ctx: typer.Context) -> None:
    """Show each watchlist: its rules, scope, recipients and how many items it matched
    ("matched" counts items).

    Example: monitor watchlists list
    """
    context: Context = ctx.obj
    settings = context.settings
    with context.store() as store:
        counts = store.matches.counts()
    table = Table(title=f"{len(settings.watchlists)} watchlists", title_justify="left")
    for column in ("watchlist", "rules", "fuzzy", "scope", "recipients", "matched"):
        table.add_column(
            column,
            justify="right" if column == "matched" else "left",
            overflow="fold",
            no_wrap=column in ("fuzzy", "matched"),
        )
    for watchlist in settings.watchlists:
        scope = ", ".join([*watchlist.feeds, *(f"#{t}" for t in watchlist.tags)]) or "all feeds"
        table.add_row(
            safe(watchlist.name),
            safe("\n".join(r.query for r in watchlist.rules)),
            "yes" if watchlist.fuzzy else "no",
            safe(scope),
            safe(", ".join(watchlist.recipients) or "-"),
            str(counts.get(watchlist.name, 0)),
        )
    out.print(table)


@watchlists_app.command("backfill")
def backfill_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The watchlist, as named in feeds.yaml."),
    since: str | None = typer.Option(None, "--since", "-s", help="ISO date or age (30d)."),
) -> None:
    """Apply a new or changed watchlist to the items already stored.

    The watchlist's matches on those items are replaced by what its rules find now.

    Example: monitor watchlists backfill "Iran and its allies" --since 30d
    """
    from monitor.backfill import backfill

    context: Context = ctx.obj
    settings = context.settings
    if not any(w.name == name for w in settings.watchlists):
        known = ", ".join(repr(w.name) for w in settings.watchlists) or "none"
        fail(
            f"no watchlist named {name!r} in {settings.config_path} (defined: {known})", EXIT_USAGE
        )
    when_since = parse_since(since)
    with context.store() as store, handle_errors():
        total = store.items.count(since=when_since)
        with progress_bar() as progress:
            task = progress.add_task(f"matching {name}", total=total)
            report = backfill(
                settings, store, name, when_since, lambda n: progress.advance(task, n)
            )
    out.print(
        safe(
            f"{name}: {report.items} items checked, {report.matched_items} matched "
            f"({report.matches} matches)"
        )
    )


# --- matches --------------------------------------------------------------------------

HIGHLIGHT = "bold yellow"
STATE_STYLE = {"open": "", "reviewed": "green", "dismissed": "dim"}


def highlighted(snippet: str, spans: Sequence[tuple[int, int]]) -> Text:
    """A snippet with its hits styled; every piece is feed-supplied text, so through
    :func:`safe` one by one (made-visible control characters shift no highlight)."""
    text = Text()
    at = 0
    for start, end in sorted(spans):
        if start < at:
            continue
        text.append_text(safe(snippet[at:start]))
        text.append_text(safe(snippet[start:end], HIGHLIGHT))
        at = end
    text.append_text(safe(snippet[at:]))
    return text


def _known_watchlist(context: Context, name: str | None) -> None:
    settings = context.settings
    if name is not None and not any(w.name == name for w in settings.watchlists):
        known = ", ".join(repr(w.name) for w in settings.watchlists) or "none"
        fail(
            f"no watchlist named {name!r} in {settings.config_path} (defined: {known})", EXIT_USAGE
        )


def _state(review: Review | None) -> Text:
    if review is None:
        return Text("open")
    return safe(f"{review.state} by {review.by}", STATE_STYLE.get(review.state, ""))


@matches_app.command("list")
def list_matches(
    ctx: typer.Context,
    watchlist: str | None = typer.Option(None, "--watchlist", "-w", help="Only this one."),
    feed: str | None = typer.Option(None, "--feed", "-f", help="Only items this feed carried."),
    tag: str | None = typer.Option(None, "--tag", "-t", help="Only items of feeds so tagged."),
    language: str | None = typer.Option(
        None, "--language", "-l", help="ISO code (ar also takes ar-SA; none: unknown)."
    ),
    since: str | None = typer.Option(
        None, "--since", "-s", help="First matched since: ISO date or age (2d, 12h)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="First matched before: ISO date or age (2d, 12h)."
    ),
    review: str = typer.Option("all", "--review", "-r", help="all, open, reviewed or dismissed."),
    limit: int = typer.Option(
        100, "--limit", "-n", min=1, max=1000, help="At most this many items."
    ),
    hits: bool = typer.Option(
        False, "--hits", help="Every single hit (one row per occurrence), not one per item."
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """List matched items, newest first: one row per item and watchlist, with its title,
    outlet, the rules it hit, how many hits, its review state and the best snippet.

    --hits lists every single hit of those items instead (rule, the text as
    written, field, snippet).  --json writes one JSON object a line.

    Example: monitor matches list --watchlist "Iran and its allies" --since 1d --review open
    """
    from monitor.storage.reviews import FILTERS

    context: Context = ctx.obj
    _known_watchlist(context, watchlist)
    if review not in FILTERS:
        fail(f"--review {review!r}: use one of {', '.join(FILTERS)}", EXIT_USAGE)
    with context.store() as store:
        page = store.matches.summaries(
            watchlist,
            feed=feed,
            tag=tag,
            language=language,
            since=parse_since(since),
            until=parse_since(until),
            review=review,
            limit=limit,
        )
        if hits:
            _print_hits(
                store.matches.stored_hits([(r.item_id, r.watchlist) for r in page.rows]), as_json
            )
            return
    if as_json:
        for row in page.rows:
            sys.stdout.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")
        return
    more = " (more: raise --limit or narrow the filters)" if page.next_cursor else ""
    table = Table(title=f"{len(page.rows)} matched items{more}", title_justify="left")
    for column in ("item", "matched", "outlet", "title", "watchlist", "rules", "hits", "review"):
        table.add_column(column, justify="right" if column in ("item", "hits") else "left")
    table.add_column("snippet", ratio=2)
    for row in page.rows:
        table.add_row(
            str(row.item_id),
            when(row.matched_at),
            safe(", ".join(row.feeds) or "-"),
            safe(row.title or row.url, "bold"),
            safe(row.watchlist),
            safe("\n".join(row.rules)),
            str(row.hits),
            _state(row.review),
            highlighted(row.snippet, row.spans),
        )
    out.print(table)


def _print_hits(rows: Sequence[StoredMatch], as_json: bool) -> None:
    from monitor.storage.matches import match_as_dict

    if as_json:
        for row in rows:
            record = {"item_id": row.item_id, "title": row.item_title, "url": row.item_url}
            record |= match_as_dict(row.record) | {"matched_at": row.matched_at.isoformat()}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(rows)} matches", title_justify="left")
    for column in ("item", "found", "watchlist", "rule", "matched", "where", "snippet"):
        table.add_column(column, justify="right" if column == "item" else "left")
    for row in rows:
        match = row.record
        matched = safe(match.matched)  # the article's own words
        if match.fuzzy:
            matched.append(" (variant)", style="dim")
        table.add_row(
            str(row.item_id),
            when(row.matched_at),
            safe(match.watchlist),
            safe(match.rule),
            matched,
            safe(match.field),
            safe(match.snippet),
        )
    out.print(table)


@matches_app.command("show")
def show_matches(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., metavar="ITEM", help="The item's id (matches list)."),
    watchlist: str | None = typer.Option(None, "--watchlist", "-w", help="Only this one."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
) -> None:
    """Every hit of one item, by watchlist and rule, with each watchlist's review state
    and its history.

    Example: monitor matches show 42 --watchlist "Iran and its allies"
    """
    from monitor.storage.matches import match_as_dict

    context: Context = ctx.obj
    _known_watchlist(context, watchlist)
    with context.store() as store:
        item = store.items.get(item_id)
        if item is None:
            fail(f"no item {item_id}: see monitor matches list for the ids", EXIT_USAGE)
        found = store.matches.hits(item_id, watchlist)
        names = list(dict.fromkeys(m.watchlist for m in found))
        reviews = {n: store.reviews.get(item_id, n) for n in names}
        histories = {n: store.reviews.history(item_id, n) for n in names}
    if as_json:
        for match in found:
            record = {"item_id": item_id} | match_as_dict(match)
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    out.print(Text.assemble(safe(item.title or "(no title)", "bold"), "\n", safe(item.url)))
    if not found:
        where = f" in watchlist {watchlist!r}" if watchlist else ""
        out.print(safe(f"no matches{where}"))
        return
    for name in names:
        mine = [m for m in found if m.watchlist == name]
        table = Table(title=safe(f"{name}: {len(mine)} hits"), title_justify="left")
        for column in ("rule", "matched", "where", "at", "snippet"):
            table.add_column(column)
        for match in mine:
            matched = safe(match.matched, HIGHLIGHT)
            if match.fuzzy:
                matched.append(" (variant)", style="dim")
            table.add_row(
                safe(match.rule),
                matched,
                safe(match.field),
                f"{match.start}-{match.end}",
                safe(match.snippet),
            )
        out.print(table)
        state = Text.assemble("review: ", _state(reviews[name]))
        if (current := reviews[name]) is not None and current.note:
            state.append_text(safe(f" — {current.note}"))
        out.print(state)
        for change in histories[name]:
            note = f": {change.note}" if change.note else ""
            out.print(safe(f"  {when(change.at)} {change.state} by {change.by}{note}", "dim"))


@matches_app.command("review")
def review_match(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., metavar="ITEM", help="The item's id (matches list)."),
    watchlist: str = typer.Option(..., "--watchlist", "-w", help="The watchlist it matched."),
    dismiss: bool = typer.Option(False, "--dismiss", help="Dismiss it (not relevant)."),
    reopen: bool = typer.Option(False, "--reopen", help="Open it again (not triaged)."),
    note: str | None = typer.Option(
        None, "--note", help="A note (kept with who and when; '' removes it)."
    ),
) -> None:
    """Mark a matched item reviewed (the default), dismissed, or open again, with a note.

    Who: the user running the command.  Every change is kept (monitor matches show).

    Example: monitor matches review 42 --watchlist "Iran and its allies" --note "sent to desk"
    """
    import getpass

    if dismiss and reopen:
        fail("--dismiss and --reopen do not go together; use one of them", EXIT_USAGE)
    state = "dismissed" if dismiss else "open" if reopen else "reviewed"
    context: Context = ctx.obj
    _known_watchlist(context, watchlist)
    with context.store() as store:
        try:
            change = store.reviews.set(item_id, watchlist, state, by=getpass.getuser(), note=note)
        except LookupError as exc:
            fail(f"{exc.args[0]}; see monitor matches list for what matched", EXIT_USAGE)
    note_text = f" ({change.note})" if change.note else ""
    out.print(safe(f"item {item_id} in {watchlist}: {change.state} by {change.by}{note_text}"))


# --- watchlists test ------------------------------------------------------------------


@watchlists_app.command("test")
def test_rules(
    ctx: typer.Context,
    rules: list[str] = typer.Argument(..., metavar="RULE...", help="Rules, as in feeds.yaml."),
    since: str = typer.Option("7d", "--since", "-s", help="Items fetched since: age or date."),
    fuzzy: bool = typer.Option(False, "--fuzzy", help="Also match spelling variants."),
    case_sensitive: bool = typer.Option(
        False, "--case-sensitive", help="Match the rules' capitals exactly."
    ),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="At most this many items shown."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
) -> None:
    """Preview rules over the stored items before putting them in a watchlist: how many
    items each rule matches, and the items with their best snippet.  Nothing is saved.

    A rule that does not parse is shown with its column, and the command exits 2.

    Example: monitor watchlists test "Qassem Soleimani" "Quds Force" --since 30d --fuzzy
    """
    from monitor.watch.preview import preview

    context: Context = ctx.obj
    when_since = parse_since(since)
    with context.store() as store:
        result = preview(
            rules,
            store.items.iter_documents(when_since),
            fuzzy=fuzzy,
            case_sensitive=case_sensitive,
            limit=limit,
        )
        shown = {s.id: s for s in store.items.get_many([h.item_id for h in result.hits])}
    if as_json:
        document = {
            "items": result.items,
            "matched": result.matched,
            "rules": [
                {"rule": rule, "items": count}
                for rule, count in zip(rules, result.per_rule, strict=True)
            ],
            "problems": [
                {
                    "rule_index": p.rule_index,
                    "rule": rules[p.rule_index],
                    "column": p.column,
                    "message": p.message,
                }
                for p in result.problems
            ],
            "hits": [
                {
                    "item_id": h.item_id,
                    "title": shown[h.item_id].title if h.item_id in shown else None,
                    "url": shown[h.item_id].url if h.item_id in shown else None,
                    "rules": [rules[i] for i in h.rules],
                    "hits": h.hits,
                    "snippet": h.snippet,
                    "spans": [list(s) for s in h.spans],
                }
                for h in result.hits
            ],
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        if result.problems:
            raise typer.Exit(EXIT_USAGE)
        return
    for problem in result.problems:
        rule = rules[problem.rule_index]
        err.print(
            Text.assemble(
                ("error:", "bold red"),
                safe(f" rule {problem.rule_index + 1}, column {problem.column}: {problem.message}"),
                "\n  ",
                safe(rule),
                "\n  ",
                " " * (problem.column - 1) + "^",
            )
        )
    counts = Table(
        title=f"{result.items} items checked, {result.matched} matched", title_justify="left"
    )
    counts.add_column("rule")
    counts.add_column("items", justify="right")
    bad = {p.rule_index for p in result.problems}
    for index, (rule, count) in enumerate(zip(rules, result.per_rule, strict=True)):
        counts.add_row(safe(rule), "error" if index in bad else str(count))
    out.print(counts)
    if result.hits:
        table = Table(title=f"first {len(result.hits)} matched items", title_justify="left")
        for column in ("item", "fetched", "outlet", "title", "rules", "hits"):
            table.add_column(column, justify="right" if column in ("item", "hits") else "left")
        table.add_column("snippet", ratio=2)
        for hit in result.hits:
            item = shown.get(hit.item_id)
            table.add_row(
                str(hit.item_id),
                when(item.published_at or item.fetched_at) if item else "-",
                safe(", ".join(item.feeds) if item else "-"),
                safe((item.title or item.url) if item else "-", "bold"),
                safe("\n".join(rules[i] for i in hit.rules)),
                str(hit.hits),
                highlighted(hit.snippet, hit.spans),
            )
        out.print(table)
    if result.problems:
        raise typer.Exit(EXIT_USAGE)
