"""The error of a file that is not a valid document, and the nesting a document may have.

Its own module so that ``codec`` (which raises it without PyYAML loaded) and
``yaml_io`` (PyYAML's side of ``codec``) share it without importing each other.
"""

from __future__ import annotations

MAX_DEPTH = 64  # containers in containers; our writer never nests deeper (submit refuses it)


class Unreadable(ValueError):
    """A file that is not a valid document; the caller quarantines it."""
