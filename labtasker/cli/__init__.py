"""The ``labtasker`` command line: plumbum applications, one module per command group.

``main.py`` holds the root application and registers every group lazily, so a
command imports only the modules it runs (``labtasker task submit`` never
loads the TUI or the file watcher).
"""

from labtasker.cli import lazy_modules

lazy_modules.defer()  # before any command module imports plumbum
lazy_modules.import_cli()  # plumbum.cli without plumbum's shell toolkit
