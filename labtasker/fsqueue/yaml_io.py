"""PyYAML's side of ``codec``: the safe loader and dumper, tuned for task files.

Loaded only when a document is parsed or written the PyYAML way, so a
command that finds every document in the cache or writes only in our plain
style (``codec``) starts without PyYAML. Nodes are built and read directly
for plain data, and the tags of short scalars are remembered; anything else
(tags, anchors, merge keys, other types) goes PyYAML's own way.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.representer import SafeRepresenter

from labtasker.fsqueue.unreadable import MAX_DEPTH, Unreadable

try:  # libyaml parses about 7x faster than the pure-Python loader
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

YAMLError = yaml.YAMLError
_TAG = "tag:yaml.org,2002:"
_RESOLVED: dict[tuple[str, Any], str] = {}


class _Resolving:
    """Remembers the tags of short plain scalars: task files repeat the same keys and values."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is not ScalarNode or self.yaml_path_resolvers:  # type: ignore[attr-defined]
            return super().resolve(kind, value, implicit)  # type: ignore[misc, no-any-return]
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[misc]
            if len(value) <= 40:  # ids and times never repeat: not worth remembering
                if len(_RESOLVED) >= 4096:
                    _RESOLVED.clear()
                _RESOLVED[key] = tag
        return tag


class _FastLoader(_Resolving, _Loader):
    """The safe loader, remembering scalar tags."""


class _NoAliasDumper(_Resolving, _Dumper):
    """Write repeated values out in full: a person reads these files, anchors confuse."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(doc: dict[str, Any]) -> bytes:
    """Block-style YAML of ``doc``, keys in the given order, as ``yaml.safe_dump`` writes it."""
    stream = io.StringIO()
    dumper = _NoAliasDumper(stream, default_flow_style=False, allow_unicode=True, sort_keys=False)
    try:
        dumper.open()
        dumper.serialize(_node(dumper, doc))
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue().encode("utf-8")


def _node(dumper: Any, value: Any) -> Node:
    """The node ``yaml.dump`` makes of ``value`` (block style, no aliases), made directly."""
    kind = type(value)
    if kind is str:
        return ScalarNode(_TAG + "str", value)
    if kind is dict:
        pairs = [(_node(dumper, k), _node(dumper, v)) for k, v in value.items()]
        return MappingNode(_TAG + "map", pairs, flow_style=False)
    if kind is list:
        return SequenceNode(_TAG + "seq", [_node(dumper, v) for v in value], flow_style=False)
    if value is None:
        return ScalarNode(_TAG + "null", "null")
    if kind is int:
        return ScalarNode(_TAG + "int", str(value))
    if kind is bool:
        return ScalarNode(_TAG + "bool", "true" if value else "false")
    if kind is float:
        return SafeRepresenter.represent_float(dumper, value)
    if kind is datetime:
        return ScalarNode(_TAG + "timestamp", value.isoformat(" "))
    return dumper.represent_data(value)  # type: ignore[no-any-return]  # anything else: PyYAML's way


class _Unusual(Exception):
    """A node the direct way leaves to PyYAML's constructor."""


_SCALARS = {
    _TAG + "int": SafeConstructor.construct_yaml_int,
    _TAG + "float": SafeConstructor.construct_yaml_float,
    _TAG + "bool": SafeConstructor.construct_yaml_bool,
    _TAG + "timestamp": SafeConstructor.construct_yaml_timestamp,
}


def parse(data: bytes | str, *, plain: bool = False) -> Any:
    """``yaml.load`` with the safe loader (raises ``yaml.YAMLError``), plain data built directly;
    with ``plain``, raises ``Unreadable`` as ``codec.parse`` says."""
    loader = _FastLoader(data)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        star = b"*" in data if isinstance(data, bytes) else "*" in data
        if plain and star:  # no alias without a '*'
            _check_graph(node)
        try:
            return _value(loader, node, set(), MAX_DEPTH if plain else 10**9)
        except _Unusual:
            if not plain:
                return loader.construct_document(node)
            _check_graph(node)
            return _plain_only(loader.construct_document(node))
    finally:
        loader.dispose()


_PLAIN = (str, int, float, bool, type(None), datetime, date)


def _plain_only(value: Any) -> Any:
    """Refuse what a YAML tag made of a value that is not plain data (a set, bytes...)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif not isinstance(item, _PLAIN):
            raise Unreadable(f"a {type(item).__name__} value: task files hold plain data only")
    return value


def _check_graph(root: Node) -> None:
    """Refuse a document whose nodes repeat (aliases) or nest deeper than ``MAX_DEPTH``."""
    seen: set[int] = set()
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise Unreadable("YAML aliases (&anchor / *alias): not written by labtasker")
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise Unreadable(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, MappingNode):
            for key, item in node.value:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(node, SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def _value(loader: Any, node: Node, path: set[int], depth: int) -> Any:
    """What the safe constructor makes of ``node`` if it is plain data; else raise ``_Unusual``."""
    kind, tag = type(node), node.tag
    if kind is ScalarNode:
        if tag == _TAG + "str":
            return node.value
        if tag == _TAG + "null":
            return None
        build = _SCALARS.get(tag)
        if build is None:
            raise _Unusual
        return build(loader, node)  # type: ignore[arg-type]  # a ScalarNode: its type was checked above
    if id(node) in path:  # an alias of its own ancestor: a recursive structure
        raise _Unusual
    if len(path) >= depth:
        raise Unreadable(f"nested deeper than {MAX_DEPTH} levels")
    path.add(id(node))
    try:
        if kind is MappingNode and tag == _TAG + "map":
            out = {}
            for key, item in node.value:
                if type(key) is not ScalarNode or key.tag == _TAG + "merge":
                    raise _Unusual
                out[_value(loader, key, path, depth)] = _value(loader, item, path, depth)
            return out
        if kind is SequenceNode and tag == _TAG + "seq":
            return [_value(loader, item, path, depth) for item in node.value]
    finally:
        path.discard(id(node))
    raise _Unusual


def yaml_safe(value: Any) -> bool:
    """True if ``value`` survives a YAML round trip as plain data."""
    try:
        yaml.dump(value, Dumper=_Dumper)
    except yaml.YAMLError:
        return False
    return True
