"""Fixtures of the reliability tests: the in-process command line, and real processes."""

from __future__ import annotations

from tests.cli.conftest import Lt, Ran, lt  # noqa: F401  (a fixture, shared)

__all__ = ["Lt", "Ran"]
