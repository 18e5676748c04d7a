"""YAML in and out of task files, without loading PyYAML unless it is needed.

Task files hold plain data (mappings, lists, strings, numbers, booleans, null,
timestamps). Importing PyYAML costs a command about 10 ms, so it loads only
when needed: the simplest documents (plain words, numbers, timestamps; a
typical submitted task, ``queue.yaml``) are written and read by
``simple_yaml``, byte for byte as PyYAML would; other files in our writer's
own style are read line by line (``plain_yaml``); anything else goes through
``yaml_io`` (libyaml with nodes built and read directly).
"""

from __future__ import annotations

import sys
from typing import Any

from labtasker.fsqueue import simple_yaml
from labtasker.fsqueue.unreadable import MAX_DEPTH, Unreadable

__all__ = ["MAX_DEPTH", "Unreadable", "conflicted", "dump", "load", "parse", "yaml_safe"]

assert simple_yaml.MAX_DEPTH + 2 <= MAX_DEPTH  # what the direct reader returns needs no depth check
# simple_yaml reads a file about 40 us slower than plain_yaml, whose import costs about 10 ms:
# the first documents of a process are read the direct way, and plain_yaml loads for a listing.
DIRECT_READS = 200
_direct_reads = [0]


def dump(doc: dict[str, Any]) -> bytes:
    """Serialise a document as readable block-style YAML, keys in the given order."""
    text = simple_yaml.write(doc)
    if text is not None:
        return text.encode("ascii")
    from labtasker.fsqueue import yaml_io

    return yaml_io.dump(doc)


def load(data: bytes, *, required_key: str | None = None) -> dict[str, Any]:
    """Parse a document; raise ``Unreadable`` for anything that is not a mapping."""
    if not data or data.isspace():
        raise Unreadable("empty file")
    doc = _quick(data)  # a file our fast readers take has no line a merge could have put there
    if doc is None:
        if conflicted(data):
            raise Unreadable("git conflict markers")
        try:
            doc = _slow(data, plain=True)
        except RecursionError:
            raise Unreadable(f"nested deeper than {MAX_DEPTH} levels") from None
        except Exception as exc:
            if not _is_yaml_error(exc):
                raise
            raise Unreadable(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise Unreadable("not a mapping")
    if required_key is not None and not isinstance(doc.get(required_key), str):
        raise Unreadable(f"no {required_key}")
    return doc


def conflicted(data: bytes) -> bool:
    """True if a line of ``data`` is one of the markers git leaves in a file it could not merge.

    Only whole lines count: a value may hold ``>>>>>>> `` (our writer puts it
    on an indented line or inside quotes), a marker never starts a line of ours.
    """
    global _MARKERS
    if _MARKERS is None:
        import re

        _MARKERS = re.compile(rb"^(?:<<<<<<< |=======\r?$|>>>>>>> )", re.MULTILINE)
    return _MARKERS.search(data) is not None


_MARKERS: Any = None


def _is_yaml_error(exc: Exception) -> bool:
    yaml = sys.modules.get("yaml")  # a YAMLError comes from a loaded PyYAML
    return yaml is not None and isinstance(exc, yaml.YAMLError)


def parse(data: bytes | str, *, plain: bool = False) -> Any:
    """``yaml.load`` with the safe loader (raises ``yaml.YAMLError``); plain data is built directly.

    Files in our writer's own style are read line by line (``plain_yaml``),
    several times faster; anything else goes through libyaml. With ``plain``
    (task files), raises ``Unreadable`` for aliases (a few lines of them
    expand to gigabytes; our writer never emits one), for nesting deeper than
    ``MAX_DEPTH`` and for values that are not plain data.
    """
    quick = _quick(data) if isinstance(data, bytes) else None
    return quick if quick is not None else _slow(data, plain=plain)


def _quick(data: bytes) -> dict[str, Any] | None:
    """The document of a file in our writer's own style, or None to ask libyaml."""
    if _direct_reads[0] < DIRECT_READS and "labtasker.fsqueue.plain_yaml" not in sys.modules:
        _direct_reads[0] += 1
        simple = simple_yaml.read(data)
        if simple is not None:
            return simple
    from labtasker.fsqueue import plain_yaml

    return plain_yaml.parse(
        data
    )  # nested at most plain_yaml.MAX_DEPTH + 2 deep (a test checks): no depth check


def _slow(data: bytes | str, *, plain: bool) -> Any:
    from labtasker.fsqueue import yaml_io

    return yaml_io.parse(data, plain=plain)


def yaml_safe(value: Any) -> bool:
    """True if ``value`` survives a YAML round trip as plain data."""
    from labtasker.fsqueue import yaml_io

    return yaml_io.yaml_safe(value)
