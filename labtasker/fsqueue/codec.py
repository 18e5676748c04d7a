"""YAML in and out of task files, with libyaml when it is there."""

from __future__ import annotations

from typing import Any

import yaml

try:  # libyaml parses about 7x faster than the pure-Python loader
    from yaml import CSafeDumper as _Dumper
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]



class _NoAliasDumper(_Dumper):  # type: ignore[misc, valid-type]
    """Write repeated values out in full: a person reads these files, anchors confuse."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


CONFLICT_MARKERS = (b"<<<<<<< ", b"\n=======\n", b">>>>>>> ")


class Unreadable(ValueError):
    """A file that is not a valid document; the caller quarantines it."""


def dump(doc: dict[str, Any]) -> bytes:
    """Serialise a document as readable block-style YAML, keys in the given order."""
    return yaml.dump(
        doc, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    ).encode("utf-8")


def load(data: bytes, *, required_key: str | None = None) -> dict[str, Any]:
    """Parse a document; raise ``Unreadable`` for anything that is not a mapping."""
    if not data.strip():
        raise Unreadable("empty file")
    if data.startswith(b"<<<<<<< ") or any(m in data for m in CONFLICT_MARKERS[1:]):
        raise Unreadable("git conflict markers")
    try:
        doc = yaml.load(data, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise Unreadable(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise Unreadable("not a mapping")
    if required_key is not None and not isinstance(doc.get(required_key), str):
        raise Unreadable(f"no {required_key}")
    return doc


def yaml_safe(value: Any) -> bool:
    """True if ``value`` survives a YAML round trip as plain data."""
    try:
        yaml.dump(value, Dumper=_Dumper)
    except yaml.YAMLError:
        return False
    return True
