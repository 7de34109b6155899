"""Writing a watchlist into ``feeds.yaml`` for analysts who do not edit YAML.

The file is the analysts' own: its comments, blank lines and layout must
survive an edit made from the console.  So the file is not dumped again as a
whole; the watchlist's lines are *spliced*: ruamel.yaml's round-trip reader
says on which lines each watchlist starts, the one edited (updated in place,
so the comments inside it stay where its values did not change) is dumped on
its own, indented as its neighbours are, and put in place of its old lines.
Every other byte of the file stays as it was.  (When the watchlists are not a
block list that this can splice, a flow ``[...]`` list for one, the whole
document is dumped in round-trip mode, as OPML import does.)

The result is validated with :func:`monitor.config.load_settings` before it
replaces the file, written to a temporary file in the same directory, synced
and renamed over it (atomic: a reader sees the old file or the new one,
never half of it).  ``expected_hash`` (the sha256 of the file as it was read
for the edit, :func:`file_hash`) makes an edit refuse to overwrite a file
someone else changed meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from monitor.config import _yaml, load_settings
from monitor.errors import ConfigError

_BLANK_OR_COMMENT = re.compile(r"^\s*(#.*)?$")


def file_hash(config_path: Path) -> str:
    """The sha256 (hex) of the file's bytes: pass it back as ``expected_hash``."""
    return hashlib.sha256(Path(config_path).read_bytes()).hexdigest()


def save_watchlist(
    config_path: Path,
    watchlist: Mapping[str, Any],
    *,
    replace: str | None = None,
    expected_hash: str | None = None,
) -> None:
    """Add ``watchlist`` (a mapping as in feeds.yaml: name, rules, fuzzy, feeds, tags,
    recipients, ...) to the file, or put it in place of the one named ``replace``
    (keeping its position).  ConfigError, the file untouched, when the result
    would not load, when the name is taken, when ``replace`` names no watchlist,
    or when the file changed since ``expected_hash`` was taken."""
    path = Path(config_path)
    data, text = _read(path, expected_hash)
    document = _document(path, text)
    name = watchlist.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{path}: a watchlist needs a name (name: ...)")
    entries = document.get("watchlists") if document is not None else None
    names = [e.get("name") for e in entries or () if isinstance(e, Mapping)]
    if replace is not None and replace not in names:
        raise ConfigError(
            f"{path}: no watchlist named {replace!r} to replace (there are: "
            f"{', '.join(map(repr, names)) or 'none'}); reload the file and try again"
        )
    if name in names and name != replace:
        raise ConfigError(f"{path}: a watchlist named {name!r} already exists; choose another name")
    if replace is None:
        new_text = _added(path, text, document, watchlist)
    else:
        index = names.index(replace)
        assert entries is not None
        _update(entries[index], watchlist)
        new_text = _spliced(text, document, index, _dump_item(entries[index], entries, index))
    _write(path, data, new_text)


def delete_watchlist(config_path: Path, name: str, *, expected_hash: str | None = None) -> None:
    """Remove the watchlist ``name`` from the file (its lines only; the comments that
    introduce the next one stay).  ConfigError when there is none of that name."""
    path = Path(config_path)
    data, text = _read(path, expected_hash)
    document = _document(path, text)
    entries = document.get("watchlists") if document is not None else None
    names = [e.get("name") for e in entries or () if isinstance(e, Mapping)]
    if name not in names:
        raise ConfigError(f"{path}: no watchlist named {name!r} to delete")
    assert entries is not None
    _write(path, data, _spliced(text, document, names.index(name), ""))


# --- reading ------------------------------------------------------------------------


def _read(path: Path, expected_hash: str | None) -> tuple[bytes, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}); check the path") from None
    if expected_hash is not None and hashlib.sha256(data).hexdigest() != expected_hash:
        raise ConfigError(
            f"{path}: someone else edited the file since it was read (its contents changed); "
            "reload it, check their change and make yours again"
        )
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8 first") from None


def _document(path: Path, text: str) -> CommentedMap | None:
    try:
        document = _yaml().load(text)
    except Exception as exc:  # ruamel's errors: the file is broken already
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix the file first") from None
    if document is not None and not isinstance(document, CommentedMap):
        raise ConfigError(f"{path}:1: expected a mapping at the top of the file")
    watchlists = document.get("watchlists") if document is not None else None
    if watchlists is not None and not isinstance(watchlists, CommentedSeq):
        raise ConfigError(f"{path}: watchlists: expected a list")
    return document


# --- editing ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Comparable plain data (ruamel's commented containers compare as their contents)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _update(entry: CommentedMap, new: Mapping[str, Any]) -> None:
    """Make ``entry`` equal ``new`` in place: unchanged values (and their comments) stay,
    a changed list keeps the items (and comments) at the positions that did not change."""
    for key in [k for k in entry if k not in new]:
        del entry[key]
    for key, value in new.items():
        old = entry.get(key)
        if key in entry and _plain(old) == _plain(value):
            continue
        if isinstance(old, CommentedSeq) and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if i < len(old):
                    if _plain(old[i]) != _plain(item):
                        old[i] = item
                else:
                    old.append(item)
            del old[len(value) :]
        else:
            entry[key] = _fresh(value)


def _fresh(value: Any) -> Any:
    """A new value as ruamel containers (block style, like the rest of the file)."""
    if isinstance(value, Mapping):
        return CommentedMap((k, _fresh(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return CommentedSeq(_fresh(v) for v in value)
    return value


def _dumper() -> Any:
    yaml = _yaml()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never re-wrap the analysts' long lines
    return yaml


def _dump_item(item: Any, entries: CommentedSeq | None, index: int | None) -> str:
    """One watchlist as the lines of a list item, indented as the file's items are."""
    buffer = io.StringIO()
    _dumper().dump([item], buffer)
    lines = buffer.getvalue().splitlines(keepends=True)
    while lines and _BLANK_OR_COMMENT.match(lines[-1]):  # what follows belongs to the next
        lines.pop()
    key_column = 4  # the dump's: "  - name: ..."
    if entries is not None and len(entries) and not entries.fa.flow_style():
        key_column = entries.lc.item(0 if index is None else index)[1]
    shift = key_column - 4
    out = []
    for line in lines:
        if shift >= 0:
            out.append(" " * shift + line if line.strip() else line)
        else:
            spaces = len(line) - len(line.lstrip(" "))
            out.append(line[min(spaces, -shift) :])
    return "".join(out)


def _bounds(text_lines: list[str], document: CommentedMap, index: int) -> tuple[int, int]:
    """Lines [start, end) of watchlist ``index``: from its dash to its last line of its
    own (the comments and blank lines after it introduce what follows, and stay)."""
    entries = document["watchlists"]
    start = entries.lc.item(index)[0]
    if index + 1 < len(entries):
        end = entries.lc.item(index + 1)[0]
    else:
        keys = list(document)
        position = keys.index("watchlists")
        end = (
            document.lc.key(keys[position + 1])[0] if position + 1 < len(keys) else len(text_lines)
        )
    while end > start + 1 and _BLANK_OR_COMMENT.match(text_lines[end - 1]):
        end -= 1
    return start, end


def _spliceable(document: CommentedMap | None) -> bool:
    entries = document.get("watchlists") if document is not None else None
    if not isinstance(entries, CommentedSeq) or not len(entries) or entries.fa.flow_style():
        return False
    lines = [entries.lc.item(i)[0] for i in range(len(entries))]
    return lines == sorted(set(lines))  # one item per line at least


def _spliced(text: str, document: CommentedMap | None, index: int, block: str) -> str:
    assert document is not None
    if not _spliceable(document):
        return _whole(document, index, block)
    lines = text.splitlines(keepends=True)
    start, end = _bounds(lines, document, index)
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _whole(document: CommentedMap, index: int, block: str) -> str:
    """The fallback: the document dumped again in round-trip mode."""
    entries = document["watchlists"]
    if not block:
        del entries[index]
    buffer = io.StringIO()
    _dumper().dump(document, buffer)
    return buffer.getvalue()


def _added(
    path: Path, text: str, document: CommentedMap | None, watchlist: Mapping[str, Any]
) -> str:
    item = _fresh(dict(watchlist))
    entries = document.get("watchlists") if document is not None else None
    if document is not None and _spliceable(document):
        assert entries is not None
        lines = text.splitlines(keepends=True)
        _, end = _bounds(lines, document, len(entries) - 1)
        if end and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        block = _dump_item(item, entries, len(entries) - 1)
        return "".join(lines[:end]) + block + "".join(lines[end:])
    if entries is not None and len(entries):  # a flow list: dump it all again
        assert document is not None
        entries.append(item)
        buffer = io.StringIO()
        _dumper().dump(document, buffer)
        return buffer.getvalue()
    block = _dump_item(item, None, None)
    if document is not None and "watchlists" in document:  # "watchlists:" or "[]"
        lines = text.splitlines(keepends=True)
        line = document.lc.key("watchlists")[0]
        keys = list(document)
        position = keys.index("watchlists")
        stop = document.lc.key(keys[position + 1])[0] if position + 1 < len(keys) else len(lines)
        if any(not _BLANK_OR_COMMENT.match(x) for x in lines[line + 1 : stop]):
            raise ConfigError(f"{path}: watchlists: cannot be edited as written; make it a list")
        comment = lines[line].partition("#")[2].rstrip()
        head = f"watchlists:{'  #' + comment if comment else ''}\n"
        return "".join(lines[:line]) + head + block + "".join(lines[line + 1 :])
    separator = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{separator}\nwatchlists:\n{block}"


# --- writing ------------------------------------------------------------------------


def _write(path: Path, before: bytes, text: str) -> None:
    """Validate ``text`` as the configuration and put it in place of ``path`` atomically,
    unless the file changed since it was read as ``before``."""
    directory = path.parent
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    temp = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        try:
            load_settings(temp)
        except ConfigError as exc:
            message = str(exc).replace(str(temp), str(path))
            raise ConfigError(
                f"the watchlist was not saved, the result would not load: {message}",
                [p.replace(str(temp), str(path)) for p in exc.problems],
            ) from None
        if path.read_bytes() != before:
            raise ConfigError(
                f"{path}: someone else edited the file while this edit was made; "
                "reload it, check their change and make yours again"
            )
        with contextlib.suppress(OSError):  # keep the file's permissions
            temp.chmod(path.stat().st_mode & 0o7777)
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)  # the rename itself survives a crash
    finally:
        os.close(descriptor)
