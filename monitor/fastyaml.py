"""A fast reader for ``feeds.yaml`` files that are plain, with a guarantee of same values.

ruamel.yaml's round-trip loader (:func:`monitor.config._yaml`) keeps every node's line
so that a problem can be reported where it is, but it is pure Python: a 1,000-feed file
takes about a second to read, on every ``monitor run --once``.  libyaml, through
PyYAML's C parser and composer, reads the same file in a few hundredths of a second.
The two disagree on what some plain scalars mean (PyYAML follows YAML 1.1, where
``yes``, ``on``, ``010`` and ``1:30`` are a boolean, a boolean, 8 and 90; ruamel follows
YAML 1.2, where they are two strings, 10 and a string), so only libyaml's *syntax* is
used here: every plain scalar is resolved with ruamel's own 1.2 resolver, and built
only when its value is unambiguous (a string, null, true/false, a decimal integer, a
plain decimal number).  Anything else, an explicit tag, an anchor or alias, a merge
key, a duplicate key, a timestamp, an ``0o17`` or ``1_000``, a ``%YAML`` directive, a
syntax error, makes :func:`load` return :data:`UNSURE`: the caller then reads the file
the slow way, which gives today's values and today's messages with their lines.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ruamel.yaml.nodes import ScalarNode as _RuamelScalar
from ruamel.yaml.resolver import VersionedResolver

try:  # PyYAML built with libyaml; without it every file takes the round-trip path
    import yaml as _pyyaml  # type: ignore[import-untyped,unused-ignore]
    from yaml import CBaseLoader as _CBaseLoader  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - the development environment has it
    _pyyaml = None
    _CBaseLoader = None


class _Unsure(Exception):
    """This document needs the round-trip reader (its values or its errors)."""


UNSURE: Final = object()  # load()'s answer when only the round-trip reader may decide

# what an untagged node is marked with (an explicit tag, even !!str, is kept as written:
# ruamel reads `!!str 10` as a TaggedScalar, not a str, so those go the slow way)
_PLAIN = "tag:monitor,fastyaml:plain"  # a plain scalar, resolved below
_QUOTED = "tag:monitor,fastyaml:quoted"
_SEQ = "tag:monitor,fastyaml:seq"
_MAP = "tag:monitor,fastyaml:map"
_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?")
# a %YAML 1.1 directive changes what plain scalars mean; NEL, LS and PS are line breaks
# in YAML 1.1 (libyaml) and not in 1.2
_UNUSUAL = re.compile("^%|[\x85\u2028\u2029]", re.MULTILINE)
_RESOLVER = VersionedResolver()  # YAML 1.2, ruamel's default and the round-trip loader's


def available() -> bool:
    """Whether libyaml is there to read with (otherwise every file goes the slow way)."""
    return _CBaseLoader is not None


if _CBaseLoader is not None:

    class _Loader(_CBaseLoader):  # type: ignore[misc,valid-type,unused-ignore]
        """libyaml's parser and composer; tags are left for :func:`_build` to decide."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is _pyyaml.ScalarNode:
                if implicit[0]:
                    return _PLAIN
                if implicit[1]:
                    return _QUOTED
                raise _Unsure  # neither plain nor quoted-implicit: let ruamel decide
            return _SEQ if kind is _pyyaml.SequenceNode else _MAP


def load(text: str, max_depth: int) -> Any:
    """The document of ``text`` as plain dicts, lists and scalars, or :data:`UNSURE`."""
    if _CBaseLoader is None or _UNUSUAL.search(text):
        return UNSURE
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return UNSURE  # empty or comments only: the caller's messages are for those
        return _build(node, 0, max_depth, set())
    except (_Unsure, _pyyaml.YAMLError, RecursionError):
        return UNSURE
    finally:
        loader.dispose()


def _build(node: Any, depth: int, max_depth: int, seen: set[int]) -> Any:
    if depth > max_depth:
        raise _Unsure
    if isinstance(node, _pyyaml.ScalarNode):
        if node.tag == _PLAIN:
            return _plain(node.value)
        if node.tag == _QUOTED:
            return node.value
        raise _Unsure  # !!str, !!int, !!binary, a local tag...
    if id(node) in seen:
        raise _Unsure  # an alias: the round-trip reader keeps it shared, not copied
    seen.add(id(node))
    if isinstance(node, _pyyaml.SequenceNode) and node.tag == _SEQ:
        return [_build(item, depth + 1, max_depth, seen) for item in node.value]
    if isinstance(node, _pyyaml.MappingNode) and node.tag == _MAP:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, _pyyaml.ScalarNode):
                raise _Unsure  # a list or mapping as a key
            key = _build(key_node, depth + 1, max_depth, seen)
            if key in mapping:
                raise _Unsure  # a duplicate key: an error, reported with its line
            mapping[key] = _build(value_node, depth + 1, max_depth, seen)
        return mapping
    raise _Unsure  # !!set, !!omap, !!map, ...


def _plain(value: str) -> Any:
    """A plain scalar's value, as ruamel's YAML 1.2 reading gives it, when unambiguous."""
    tag = str(_RESOLVER.resolve(_RuamelScalar, value, (True, False)))
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value in ("true", "True", "TRUE")
    if tag == _INT and _DECIMAL.fullmatch(value):
        return int(value)
    if tag == _FLOAT and _NUMBER.fullmatch(value):
        return float(value)
    raise _Unsure  # 0o17, 0x1f, 1_000, .inf, a timestamp, =, <<
