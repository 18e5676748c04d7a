"""Modules that the command-line library imports at start but a command rarely uses.

plumbum's package ``__init__`` imports its whole shell toolkit (paths, local
and SSH machines, commands, pipes, and through them ``subprocess``,
``socket``, ``pickle``, ``tempfile``), and ``plumbum.cli`` needs only
``plumbum.local`` from it, for a few switches and the pager. So
``import_cli()`` imports ``plumbum.cli`` under a stand-in for the ``plumbum``
package that hands it a ``local`` loaded on first use; the first other name
asked of ``plumbum`` runs the real ``__init__`` in the stand-in, so
``from plumbum import local, ProcessExecutionError`` later gives the real
objects. That is about a third of a command's start-up.

plumbum also imports ``urllib.request`` (and with it ``http.client``,
``email`` and ``ssl``) for one method that turns a path into a ``file://``
URL, and ``platform`` to tell macOS's terminals, which only a command
printing colour to a terminal asks. Such a module is registered as a
stand-in that loads the real module the first time one of its attributes is
used. (``importlib.util.LazyLoader``
does not help: the import statement itself reads the module's ``__spec__``,
which loads it.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

DEFERRED = ("urllib.request", "platform")


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


class _LocalMachine:
    """``plumbum.local`` as ``plumbum.cli`` holds it: the real one is imported on first use."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_real_local(), attr)

    def __getitem__(self, key: Any) -> Any:
        return _real_local()[key]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _real_local()(*args, **kwargs)


def _real_local() -> Any:
    from plumbum.machines.local import local

    return local


class _Colors:
    """``plumbum.colors`` as ``plumbum.cli`` holds it: colorlib loads on first use.

    A run asks it only to filter the colour codes out of the program's and the
    subcommands' names, and a name without an escape character is its own
    filtered self (colorlib removes escape sequences and nothing else); help,
    usage and anything else load the real one.
    """

    def filter(self, text: Any) -> Any:
        if type(text) is str and "\x1b" not in text:
            return text
        return _real_colors().filter(text)

    def __getattr__(self, attr: str) -> Any:
        return getattr(_real_colors(), attr)


def _real_colors() -> Any:
    return importlib.import_module("plumbum.colors")  # the module puts colorlib's ANSI factory in its place


class _Package(types.ModuleType):
    """A plumbum package before its ``__init__`` ran: submodules import as usual."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        spec = self.__spec__
        assert spec is not None
        assert spec.loader is not None
        if self.__dict__.get("_importing_cli"):
            if attr == "local":
                return _LocalMachine()
            if attr == "colors":
                return _Colors()
        for sub in self.__dict__.get("_exports_of", ()):  # ``cli.Application``, ``cli.switch``, ...
            module = sys.modules.get(f"{self.__name__}.{sub}")
            value = getattr(module, attr, None)
            if value is not None and getattr(value, "__module__", None) == f"{self.__name__}.{sub}":
                setattr(self, attr, value)
                return value
        if importlib.util.find_spec(f"{self.__name__}.{attr}") is not None:  # ``from plumbum import colors``
            return importlib.import_module(f"{self.__name__}.{attr}")
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # any other name: the real __init__ runs here, once
        spec.loader.exec_module(self)
        return getattr(self, attr)


def import_cli() -> None:
    """Import ``plumbum.cli`` without the rest of plumbum (no-op if plumbum is loaded already).

    What the command modules ask of ``plumbum.cli`` (the application class, the
    switches) comes from its two modules; any other name runs its ``__init__``.
    """
    if "plumbum" in sys.modules:
        import plumbum.cli

        return
    package = _stand_in("plumbum")
    if package is None:
        return  # not installed: the import that follows says so
    package._importing_cli = True  # type: ignore[attr-defined]
    _stand_in("plumbum.colorlib")  # ``plumbum.colorlib.styles`` without colorlib's colour tables
    cli = _stand_in("plumbum.cli")  # its classes and switches without ``plumbum.cli.config`` (configparser)
    assert cli is not None
    cli._exports_of = ("application", "switches")  # type: ignore[attr-defined]
    try:
        import plumbum.cli.application
        import plumbum.cli.switches  # noqa: F401
    except BaseException:
        for name in [n for n in sys.modules if n == "plumbum" or n.startswith("plumbum.")]:
            del sys.modules[name]
        raise
    finally:
        package.__dict__.pop("_importing_cli", None)


def _stand_in(name: str) -> _Package | None:
    """Register a package that runs its ``__init__`` only when a name other than a submodule is asked."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return None
    package = _Package(name)
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    package.__loader__ = spec.loader
    package.__package__ = name
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)
    return package
