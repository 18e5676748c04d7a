"""Standard modules that the command-line library imports at start but a command rarely uses.

plumbum imports ``urllib.request`` (and with it ``http.client``, ``email`` and
``ssl``: about a fifth of a command's start-up) for one method that turns a
path into a ``file://`` URL. Such a module is registered here as a stand-in
that loads the real module the first time one of its attributes is used.
(``importlib.util.LazyLoader`` does not help: the import statement itself
reads the module's ``__spec__``, which loads it.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

DEFERRED = ("urllib.request",)


class _StandIn(types.ModuleType):
    """Answers for a module until an attribute is asked for, then hands over to the real one."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        real = sys.modules.get(name)
        if real is None or real is self:
            sys.modules.pop(name, None)
            real = importlib.import_module(name)
        return getattr(real, attr)


def defer(names: tuple[str, ...] = DEFERRED) -> None:
    """Make each of ``names`` load on first use instead of on import (no-op once it is loaded)."""
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        stand_in = _StandIn(name)
        stand_in.__spec__ = spec
        sys.modules[name] = stand_in
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, stand_in)
