"""The terminal UI (``labtasker tui``); imports Textual, so only that command imports it.

``labtasker.tui.app.QueueApp`` takes an ``FsQueue`` (and, for tests, a clock);
the modules ``columns``, ``scan``, ``detail`` and ``actions`` hold what it shows
and does without any Textual, so they are tested on their own.
"""
