"""Helpers of the digest tests: an SMTP server on loopback and a news desk of feeds.

The desk serves four outlets carrying one Soleimani story (near-duplicates
with a word or two changed: one dedup cluster), a Hormuz story on one
outlet, and a hostile item whose title and text try to inject markup, a link
and a header.
"""

from __future__ import annotations

import html
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from xml.sax.saxutils import escape

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import Site

STORY = (
    "Mourners filled the streets of Kerman on Tuesday for the funeral of General Qassem "
    "Soleimani, the commander killed in a drone strike near Baghdad airport last week. "
    "State television showed crowds stretching for miles as the coffin passed through the "
    "city centre, and officials said a stampede had killed dozens of people during the "
    "procession. The burial was postponed for several hours while the crowds thinned out."
)
HORMUZ = (
    "A tanker was seized in the Strait of Hormuz on Monday, the navy said, the third such "
    "incident this year in the narrow waterway through which a fifth of the world's oil "
    "passes. The vessel, flying a Panamanian flag, was escorted to a port on the coast."
)
HOSTILE_TITLE = (
    '<img src=x onerror=alert(1)> Soleimani </mark><a href="http://evil.example/">win</a>'
)
HOSTILE_TEXT = (
    "Soleimani <script>alert('x')</script> [click](javascript:alert(1)) "
    "Bcc: victim@evil.example <b>bold</b> and more words to make it a text"
)
OUTLETS = ("Wire Service", "Gazette", "Herald", "Daily")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received; ``refuse`` DATA commands are answered 451 first."""

    refuse: int = 0
    port: int = 0  # where the server listens, set when it starts
    refused: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                self.refused += 1
                return "451 4.3.0 mailbox busy, try again later"
            data = envelope.content if isinstance(envelope.content, bytes) else b""
            message = message_from_bytes(data, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def rss(site: Site, title: str, items: list[dict[str, str]]) -> str:
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
        f"<guid>{escape(i['link'])}</guid><pubDate>{i['date']}</pubDate>"
        f"<description>{escape(i['text'])}</description></item>"
        for i in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>{site.base}/</link><description>x</description>{entries}</channel></rss>"
    )


def serve_desk(site: Site) -> list[dict[str, Any]]:
    """Serve the desk's feeds; return their feeds.yaml entries (feed text only, no pages)."""
    date = "Tue, 07 Jan 2020 10:00:00 GMT"
    variants = [
        STORY,
        STORY.replace("Tuesday", "Tuesday morning"),
        STORY.replace("dozens of", "more than fifty"),
        STORY.replace("several hours", "some hours"),
    ]
    feeds = []
    for index, (outlet, text) in enumerate(zip(OUTLETS, variants, strict=True)):
        slug = outlet.lower().replace(" ", "-")
        items = [
            {
                "title": "Crowds mourn Soleimani in Kerman",
                "link": f"{site.base}/{slug}/soleimani-funeral",
                "date": date if index == 0 else "Tue, 07 Jan 2020 11:30:00 GMT",
                "text": text,
            }
        ]
        if index == 0:
            items.append(
                {
                    "title": "Tanker seized in Hormuz",
                    "link": f"{site.base}/{slug}/hormuz",
                    "date": "Mon, 06 Jan 2020 22:15:00 GMT",
                    "text": HORMUZ,
                }
            )
        if index == 1:
            items.append(
                {
                    # escaped twice: the feed's title is literally this markup, as text
                    "title": html.escape(HOSTILE_TITLE),
                    "link": f"{site.base}/{slug}/hostile?a=1&b=2",
                    "date": "Tue, 07 Jan 2020 09:00:00 GMT",
                    "text": html.escape(HOSTILE_TEXT),
                }
            )
        site.serve(f"/{slug}.rss", rss(site, outlet, items), "application/rss+xml")
        feeds.append({"name": outlet, "url": site.url(f"/{slug}.rss"), "full_text": False})
    return feeds


def smtp_controller(mailbox: Mailbox) -> Controller:
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    return controller
