"""The import rules of docs/architecture.md hold for every module of the package.

The tables are read from the page itself, so the page and the check cannot
drift apart. Every ``import`` counts, at the top of a module or inside a
function (a lazy import is still a dependency); imports under
``if TYPE_CHECKING:`` count for the layers but not for cycles, since they never
run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "labtasker"
DOC = ROOT / "docs" / "architecture.md"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str  # a labtasker module, or the top-level name of another package
    line: int
    typing_only: bool


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The labtasker module a dotted name lives in (``a.b.func`` -> ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> list[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            typing_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    edges = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _owner(name) if name.split(".")[0] == "labtasker" else name.split(".")[0]
            if target and target != module:
                edges.append(Edge(module, target, node.lineno, id(node) in typing_only))
    return edges


EDGES = [edge for module, path in MODULES.items() for edge in _imports(module, path)]


# ------------------------------------------------------------- the page's tables
def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``heading`` in docs/architecture.md, cells as text."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not set(cells[0]) <= set("-: "):
            rows.append(cells)
    return rows[1:]  # without the header


def _names(cell: str) -> list[str]:
    return re.findall(r"`([A-Za-z0-9_.]+)`", cell)


LAYERS = [(row[0], _names(row[1])) for row in _table("What may import what")]
EXCEPTIONS = {(_names(row[0])[0], _names(row[1])[0]) for row in _table("Known exceptions")}
THIRD_PARTY = {_names(row[0])[0]: _names(row[1]) for row in _table("Third-party packages")}


def _layer(module: str) -> int:
    """The index of the layer a module belongs to: the longest listed prefix wins."""
    best, index = -1, -1
    for i, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    return index


def _within(module: str, prefixes: list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


# ----------------------------------------------------------------------- tests
def test_the_page_has_its_tables() -> None:
    assert len(LAYERS) >= 8
    assert all(prefixes for _name, prefixes in LAYERS)
    assert THIRD_PARTY


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if _layer(m) < 0] == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    bad = [
        f"{e.source}:{e.line} imports {e.target} ({LAYERS[_layer(e.source)][0]} -> {LAYERS[_layer(e.target)][0]})"
        for e in EDGES
        if e.target in MODULES
        and _layer(e.target) > _layer(e.source)
        and (e.source, e.target) not in EXCEPTIONS
    ]
    assert not bad, "\n".join(bad)


def test_each_known_exception_is_still_there() -> None:
    """An exception that the code no longer needs comes off the page."""
    present = {(e.source, e.target) for e in EDGES}
    assert not EXCEPTIONS - present, EXCEPTIONS - present


def test_third_party_packages_stay_where_the_page_says() -> None:
    bad = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in EDGES
        if e.target in THIRD_PARTY and not _within(e.source, THIRD_PARTY[e.target])
    ]
    assert not bad, "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in EDGES:
        if e.target in MODULES and not e.typing_only:
            graph[e.source].add(e.target)
    cycles = _cycles(graph)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"c"}}, [["a", "b"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _cycles(graph) == expected


def test_imports_inside_functions_and_relative_imports_are_seen() -> None:
    targets = {(e.source, e.target) for e in EDGES}
    assert ("labtasker.api", "labtasker.worker.runner") in targets  # imported inside run_loop
    assert ("labtasker.cli.tui", "labtasker.tui.app") in targets


def test_the_readme_layout_names_every_module_and_package_of_the_top_level() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Layout of the code", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"\b([a-z_]+(?:\.py|/))", block))
    top = {p.name for p in PACKAGE.glob("*.py")} | {
        f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
    }
    assert top - named == set()
    folders = {f"{p.name}/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    listed_folders = set(re.findall(r"^([a-z_]+/)", block, re.MULTILINE))
    assert listed_folders <= folders
    assert {"labtasker/", "tests/", "docs/"} <= listed_folders


def test_each_labtasker_variable_is_read_only_by_its_owners() -> None:
    """A ``"LABTASKER_..."`` string of its own (an environment key) appears only where the page says."""
    owners = {_names(row[0])[0]: set(_names(row[1])) for row in _table("The LABTASKER_* variables")}
    found: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and re.fullmatch(r"LABTASKER_[A-Z_]+", value):
                found.setdefault(value, set()).add(module)
    assert found == owners
