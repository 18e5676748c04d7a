"""The labtasker benchmark: `python bench/run.py` prints the table of docs/performance.md."""
