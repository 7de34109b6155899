"""Build the digest e-mail (standard ``email`` package) and deliver it: SMTP or a Maildir.

The message is an :class:`~email.message.EmailMessage` under ``policy.SMTP``:
a header value containing CR or LF is refused by the policy itself, and the
subject is built only from the watchlist name and counts, cleaned of controls,
so nothing from a feed reaches a header.  ``Message-ID`` is derived from the
digest's id and window: a retry after an unclear failure carries the same id,
so a mail client shows a rare duplicate as one message.

Delivery: SMTP with STARTTLS, implicit TLS (``ssl``) or none, and a login whose
password is read only from the environment variable ``smtp.password_env``
names; or, with ``smtp.output``, a Maildir on disk (tests, users without SMTP).
"""

from __future__ import annotations

import mailbox
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path

from monitor.config import SmtpSettings
from monitor.deliver.digest import clean
from monitor.deliver.render import Rendered
from monitor.errors import NotifyError


def message_id(digest_id: int, watchlist: str, start: datetime, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "monitor.invalid"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", watchlist).strip("-")[:40] or "watchlist"
    return f"<digest-{digest_id}-{slug}-{start:%Y%m%dT%H%M%S}@{domain}>"


def build_message(
    rendered: Rendered,
    sender: str,
    to: Sequence[str],
    *,
    msg_id: str,
    date: datetime,
) -> EmailMessage:
    """The multipart/alternative message: text first, HTML second (preferred by clients)."""
    message = EmailMessage(policy=SMTP)
    name, address = parseaddr(sender)
    message["From"] = Address(display_name=clean(name, 100), addr_spec=address)
    message["To"] = ", ".join(to)
    message["Subject"] = clean(rendered.subject, 200)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = msg_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def deliver(
    message: EmailMessage,
    smtp: SmtpSettings,
    to: Sequence[str],
    env: Mapping[str, str],
    config_dir: Path | None = None,
) -> None:
    """Send ``message``; any refusal or network error is a :class:`NotifyError` saying which."""
    if smtp.output:
        write_maildir(
            message, Path(smtp.output) if config_dir is None else config_dir / smtp.output
        )
        return
    password = None
    if smtp.username:
        if not smtp.password_env or not env.get(smtp.password_env):
            raise NotifyError(
                f"smtp: username {smtp.username!r} is set but the password is not: set the "
                f"environment variable {smtp.password_env or 'named by smtp.password_env'}"
            )
        password = env[smtp.password_env]
    where = f"{smtp.host}:{smtp.port}"
    try:
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(
                smtp.host or "",
                smtp.port,
                timeout=smtp.timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(smtp.host or "", smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username and password is not None:
                client.login(smtp.username, password)
            refused = client.send_message(message, to_addrs=list(to))
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise NotifyError(
            f"SMTP server {where} refused the digest: {exc.smtp_code} {clean(text, 200)}"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(
            f"SMTP server {where} refused every recipient: {', '.join(exc.recipients)}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(
            f"cannot deliver the digest through {where} ({smtp.security}): "
            f"{type(exc).__name__}: {clean(str(exc), 200)}; check smtp: in the configuration"
        ) from None
    if refused:
        raise NotifyError(f"SMTP server {where} refused recipients: {', '.join(sorted(refused))}")


def write_maildir(message: EmailMessage, path: Path) -> None:
    """Add ``message`` to the Maildir at ``path`` (created when missing)."""
    try:
        box = mailbox.Maildir(str(path), create=True)
        box.add(message)
    except OSError as exc:
        raise NotifyError(
            f"smtp.output: cannot write the digest to the Maildir {path}: {exc}; "
            "make the directory writable or change smtp.output"
        ) from None
