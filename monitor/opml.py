"""OPML import and export (pure apart from reading and writing the config file).

Import adds outlines to ``feeds.yaml`` through ruamel.yaml's round-trip mode,
so the analysts' comments and layout survive.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from monitor.config import FeedConfig, _yaml, read_yaml
from monitor.errors import ConfigError, OpmlError


@dataclass(frozen=True, slots=True)
class Outline:
    title: str
    xml_url: str
    html_url: str | None
    category: str | None


def parse_opml(data: bytes, source: str = "OPML") -> list[Outline]:
    """Every outline with an ``xmlUrl``; the enclosing outline's title becomes its category."""
    if b"<!DOCTYPE" in data[:2000].upper() or b"<!ENTITY" in data.upper():
        raise OpmlError(f"{source}: DOCTYPE and ENTITY declarations are not accepted in OPML")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"{source}: not well-formed XML ({exc}); is this an OPML file?") from None
    if root.tag.lower() != "opml":
        raise OpmlError(f"{source}: the root element is <{root.tag}>, expected <opml>")
    body = root.find("body")
    if body is None:
        raise OpmlError(f"{source}: no <body> element; an OPML file lists feeds inside <body>")
    found: list[Outline] = []

    def walk(node: ET.Element, category: str | None) -> None:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            title = (outline.get("title") or outline.get("text") or "").strip()
            if url:
                found.append(Outline(title or url, url, outline.get("htmlUrl"), category))
            walk(outline, title or category if not url else category)

    walk(body, None)
    return found


def _unique_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def import_opml(config_path: Path, outlines: list[Outline]) -> tuple[list[str], list[str]]:
    """Append new feeds to the config file; return (added names, skipped URLs)."""
    document: Any = read_yaml(config_path)
    # A file of comments only loads as None; its text is kept above the new block.
    preamble = ""
    if document is None:
        document = CommentedMap()
        preamble = config_path.read_text(encoding="utf-8").rstrip()
        preamble = preamble + "\n" if preamble else ""
    if not isinstance(document, CommentedMap):
        raise ConfigError(f"{config_path}:1: expected a mapping at the top of the file")
    feeds = document.get("feeds")
    if feeds is None:
        feeds = document["feeds"] = CommentedSeq()
    if not isinstance(feeds, CommentedSeq):
        raise ConfigError(f"{config_path}: feeds: expected a list")
    urls = {str(f.get("url")) for f in feeds if isinstance(f, dict)}
    names = {str(f.get("name")) for f in feeds if isinstance(f, dict)}
    added, skipped = [], []
    for outline in outlines:
        if outline.xml_url in urls:
            skipped.append(outline.xml_url)
            continue
        FeedConfig(name=outline.title, url=outline.xml_url)  # validates the URL
        name = _unique_name(outline.title, names)
        entry = CommentedMap(name=name, url=outline.xml_url)
        if outline.category:
            entry["tags"] = [outline.category.lower().replace(" ", "-")]
        feeds.append(entry)
        urls.add(outline.xml_url)
        names.add(name)
        added.append(name)
    buffer = io.StringIO()
    yaml = _yaml()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never re-wrap the analysts' long lines
    yaml.dump(document, buffer)
    tmp = config_path.with_suffix(config_path.suffix + ".tmp")
    tmp.write_text(preamble + buffer.getvalue(), encoding="utf-8")
    tmp.replace(config_path)
    return added, skipped


def export_opml(feeds: tuple[FeedConfig, ...], title: str = "monitor feeds") -> str:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(root, "body")
    groups: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            tag = feed.tags[0]
            if tag not in groups:
                groups[tag] = ET.SubElement(body, "outline", text=tag, title=tag)
            parent = groups[tag]
        ET.SubElement(
            parent, "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=feed.url
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
