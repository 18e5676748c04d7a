"""The ``labtasker`` logger, with ``logging`` imported the first time something is logged.

Importing ``logging`` costs a command about 2 ms of its start, and most
commands log nothing. ``log`` answers like ``logging.getLogger("labtasker")``,
which is what every call reaches. ``on_import`` runs a set-up (the command
line's handler) right after ``logging`` is imported, by whichever module
imports it first, so the handler is there before anything is logged, as if it
had been added at start.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import logging
    from importlib.machinery import ModuleSpec

NAME = "labtasker"


class _Logger:
    """Stands for ``logging.getLogger("labtasker")``."""

    def __getattr__(self, attr: str) -> Any:
        import logging

        return getattr(logging.getLogger(NAME), attr)


log = cast("logging.Logger", _Logger())


def on_import(setup: Callable[[ModuleType], None]) -> None:
    """Call ``setup(logging)`` once ``logging`` is imported: now if it is, else just after its import."""
    loaded = sys.modules.get("logging")
    if loaded is not None:
        setup(loaded)
    else:
        sys.meta_path.insert(0, _Finder(setup))


class _Finder:
    """Finds ``logging`` as the next finder would, with ``setup`` run after the module's code."""

    def __init__(self, setup: Callable[[ModuleType], None]) -> None:
        self.setup = setup

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = cast("Any", _ThenSetUp(spec.loader, self.setup))
        return spec


class _ThenSetUp:
    """A loader that runs ``setup`` after the module's code, then gives the module its own loader back."""

    def __init__(self, loader: Any, setup: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.setup = setup

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.loader, attr)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return cast("ModuleType | None", self.loader.create_module(spec))

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.setup(module)
