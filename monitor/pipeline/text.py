"""Small pure text helpers shared by the stages."""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata

import lxml.html
from lxml import etree

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "table", "tr", "section", "article", "figure", "figcaption", "hr",
}  # fmt: skip
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_WORDS = re.compile(r"\w+")


# C0 controls but tab, newline and carriage return, and lone surrogates: no text has them,
# PostgreSQL refuses NUL, and lxml refuses them all.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def strip_controls(text: str) -> str:
    return _CONTROLS.sub("", text)


def clean_text(text: str) -> str:
    """Collapse runs of spaces, trim every line, keep paragraph breaks; control characters
    other than line breaks and tabs are dropped."""
    text = strip_controls(text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    joined = "\n".join(lines)
    return _BLANK_LINES.sub("\n", joined).strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one line per block element."""
    if "<" not in fragment:
        return clean_text(html.unescape(fragment))
    fragment = strip_controls(fragment)
    try:
        root = lxml.html.fromstring(f"<div>{fragment}</div>")
    except (etree.ParserError, ValueError):
        return clean_text(re.sub(r"<[^>]+>", " ", fragment))
    etree.strip_elements(root, "script", "style", with_tail=False)
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            if element.tag.lower() != "br":
                element.text = "\n" + (element.text or "")
    return clean_text(root.text_content())


def word_count(text: str | None) -> int:
    return len(_WORDS.findall(text)) if text else 0


@functools.cache
def _combining_marks() -> re.Pattern[str]:
    """A character class of every combining mark in the Basic Multilingual Plane."""
    marks = "".join(chr(c) for c in range(0x300, 0x10000) if unicodedata.combining(chr(c)))
    return re.compile(f"[{re.escape(marks)}]+")


def fold(text: str) -> str:
    """Case, compatibility forms and accents folded away (for keys, never for display)."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return _combining_marks().sub("", unicodedata.normalize("NFKD", folded))


def normalised_text_hash(text: str | None) -> str | None:
    """Hash of the text with case, accents, punctuation and spacing folded away."""
    if not text:
        return None
    words = _WORDS.findall(fold(text))
    if not words:
        return None
    return hashlib.sha256(" ".join(words).encode()).hexdigest()
