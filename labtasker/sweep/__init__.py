"""A sweep's results: the table of args against metrics, its formats and its plots.

``table`` and ``formats`` are pure; ``source`` reads a queue; ``plots`` draws
(plotext in the terminal, matplotlib for files, each imported only when used).
"""
