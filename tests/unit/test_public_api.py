"""The public names of ``labtasker``: all there, loaded only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import labtasker


def test_all_lists_every_export_and_each_resolves() -> None:
    assert set(labtasker.__all__) == {*labtasker._HOME, "__version__"}
    for name in labtasker.__all__:
        assert getattr(labtasker, name) is not None, name
    assert set(labtasker.__all__) <= set(dir(labtasker))


def test_importing_labtasker_loads_no_queue_code_until_a_name_is_used() -> None:
    code = (
        "import sys, labtasker\n"
        "print('labtasker.api' in sys.modules, 'yaml' in sys.modules)\n"
        "from labtasker import ls_tasks\n"
        "print('labtasker.api' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        labtasker.no_such_thing  # noqa: B018
