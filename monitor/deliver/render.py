"""Render a :class:`~monitor.deliver.digest.DigestView` to plain text and HTML (Jinja2).

The shipped templates live in ``monitor/deliver/templates``; a watchlist's
``digest.template_dir`` is searched first, so a user overrides ``digest.txt``
or ``digest.html`` by putting a file of that name there.  HTML is rendered
with autoescape on (every feed-supplied string is escaped, whatever the
template does short of ``|safe``); the text part is not HTML and is not
escaped, its strings were already made plain by :func:`~monitor.deliver.digest.clean`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
)

from monitor.deliver.digest import DigestView
from monitor.errors import NotifyError

TEXT_TEMPLATE = "digest.txt"
HTML_TEMPLATE = "digest.html"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def _environment(template_dir: str | None, html: bool) -> Environment:
    loaders: list[FileSystemLoader | PackageLoader] = []
    if template_dir:
        loaders.append(FileSystemLoader(str(Path(template_dir).expanduser())))
    loaders.append(PackageLoader("monitor.deliver", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(view: DigestView, template_dir: str | None = None) -> Rendered:
    """Both parts of the digest; a broken user template is a :class:`NotifyError`."""
    parts: list[str] = []
    for name, html in ((TEXT_TEMPLATE, False), (HTML_TEMPLATE, True)):
        try:
            template = _environment(template_dir, html).get_template(name)
            parts.append(template.render(d=view))
        except TemplateError as exc:
            where = f" in {template_dir}" if template_dir else ""
            raise NotifyError(
                f"digest template {name}{where} cannot be rendered: {exc}; fix the template "
                "or remove it to use the shipped one"
            ) from None
    return Rendered(view.subject, parts[0], parts[1])
