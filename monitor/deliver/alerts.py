"""Alert bodies: one matched item in, the JSON a webhook receives out (pure).

Two shapes, by the watchlist's ``alert.format``:

* ``json``: the item's facts as fields (id, title, url, outlet, published,
  watchlist, rules hit, snippet), for receivers of our own;
* ``slack``: Slack's incoming-webhook body, ``{"text": ..., "blocks": [...]}``.
  Slack reads ``&``, ``<`` and ``>`` as its own markup (``<!channel>`` pings
  everyone, ``<https://x|label>`` is a link), so every feed-supplied string is
  escaped (:func:`slack_escape`) and the one link we make has its URL quoted.

The webhook URL is a secret (Slack's carries the token in its path): logs and
the database only ever see :func:`mask_webhook`'s ``scheme://host/…``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

SNIPPET_MAX = 500  # characters of the snippet sent; a receiver shows a line or two
TITLE_MAX = 300


@dataclass(frozen=True, slots=True)
class AlertItem:
    """What an alert says about one item matched by one watchlist."""

    alert_id: int
    item_id: int
    watchlist: str
    title: str | None
    url: str
    outlet: str | None
    published: datetime | None
    rules: tuple[str, ...]  # the rules that hit, in rule order
    snippet: str | None
    matched_at: datetime
    attempts: int = 0  # POSTs tried so far (not part of the body)


def mask_webhook(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/secret`` -> ``https://hooks.slack.com/…``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable webhook URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or '?'}://{host}{port}/…"


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, say) with the webhook URL in it masked."""
    if not url:
        return text
    masked = mask_webhook(url)
    for secret in {url, url.rstrip("/")}:
        text = text.replace(secret, masked)
    return text


def _clip(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def json_body(item: AlertItem) -> dict[str, Any]:
    """The ``format: json`` body."""
    return {
        "alert_id": item.alert_id,
        "item_id": item.item_id,
        "watchlist": item.watchlist,
        "title": item.title,
        "url": item.url,
        "outlet": item.outlet,
        "published": item.published.isoformat() if item.published else None,
        "matched_at": item.matched_at.isoformat(),
        "rules": list(item.rules),
        "snippet": _clip(item.snippet, SNIPPET_MAX),
    }


def slack_escape(text: str) -> str:
    """Text for Slack's mrkdwn that stays text: ``&``, ``<`` and ``>`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_url(url: str) -> str:
    """A URL safe inside ``<url|label>``: nothing in it can end the link or start another."""
    return quote(url, safe=":/?#[]@!$'()*+,;=%~-._")


def slack_body(item: AlertItem) -> dict[str, Any]:
    """The ``format: slack`` body: a plain ``text`` fallback and one mrkdwn section."""
    title = slack_escape(_clip(item.title, TITLE_MAX) or item.url)
    watchlist = slack_escape(item.watchlist)
    details = [slack_escape(item.outlet)] if item.outlet else []
    if item.published:
        details.append(item.published.strftime("%Y-%m-%d %H:%M UTC"))
    rules = ", ".join(slack_escape(rule) for rule in item.rules)
    lines = [f"*{watchlist}*: <{_slack_url(item.url)}|{title}>"]
    if details:
        lines.append(" · ".join(details))
    if rules:
        lines.append(f"Rules: {rules}")
    snippet = _clip(item.snippet, SNIPPET_MAX)
    if snippet:
        lines.append(f"> {slack_escape(snippet)}")
    return {
        "text": f"{watchlist}: {title}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def render(item: AlertItem, fmt: str) -> bytes:
    """The request body for ``fmt`` (``json`` or ``slack``), UTF-8 JSON."""
    body = slack_body(item) if fmt == "slack" else json_body(item)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")
