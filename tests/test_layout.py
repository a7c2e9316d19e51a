"""The import graph of ingest/, app/ and eval/, read from the source with ``ast`` (every import,
module level or inside a function): no cycle between files, ``ingest`` never imports ``app`` or
``eval``, and product code never imports the benchmarks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"ingest": "sharpnotes.ingest", "app": "sharpnotes.app", "eval": "sharpnotes.eval"}
BENCHMARKS = "sharpnotes.eval.benchmarks"


def modules(root: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the three folders."""
    out: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            out[".".join([package, *(p for p in parts if p != "__init__")])] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from pkg import mod" imports the module; "from mod import name" the module
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path = REPO) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def upward(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports of ``app`` or ``eval`` from ``ingest``, the lowest layer."""
    return {
        (name, target)
        for name, targets in edges.items()
        if name.startswith("sharpnotes.ingest")
        for target in targets
        if target.startswith(("sharpnotes.app", "sharpnotes.eval"))
    }


def benchmark_imports(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Imports of the benchmarks (not shipped) from product code."""
    return {
        (name, target)
        for name, targets in edges.items()
        if not name.startswith(BENCHMARKS)
        for target in targets
        if target.startswith(BENCHMARKS)
    }


@pytest.fixture(scope="module")
def edges() -> dict[str, set[str]]:
    return graph()


def test_the_graph_is_read_from_every_file(edges: dict[str, set[str]]) -> None:
    assert "sharpnotes.ingest.text" in edges and "sharpnotes.app.quiz.grade" in edges
    assert "sharpnotes.eval.benchmarks.tune" in edges
    # imports inside functions count: generate_set imports app.generators in its body
    assert "sharpnotes.app.generators" in edges["sharpnotes.eval.generate"]
    assert "sharpnotes.ingest.text" in edges["sharpnotes.ingest.chunking"]


def test_no_import_cycle_between_files(edges: dict[str, set[str]]) -> None:
    assert cycles(edges) == []


def test_ingest_imports_neither_app_nor_eval(edges: dict[str, set[str]]) -> None:
    assert upward(edges) == set()


def test_product_code_never_imports_the_benchmarks(edges: dict[str, set[str]]) -> None:
    assert benchmark_imports(edges) == set()


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """A small tree with a cycle through imports inside functions, an upward import and a
    benchmark import: each check finds its own."""
    files = {
        "ingest/__init__.py": "",
        "ingest/a.py": "def f():\n    from sharpnotes.app.b import g\n",
        "app/__init__.py": "",
        "app/b.py": "from sharpnotes.ingest import a\nfrom . import c\n",
        "app/c.py": "def h():\n    from .b import x\n",
        "eval/__init__.py": "",
        "eval/benchmarks/__init__.py": "",
        "eval/benchmarks/run.py": "from sharpnotes.eval import harness\n",
        "eval/harness.py": "import sharpnotes.eval.benchmarks.run\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    edges = graph(tmp_path)
    assert sorted(cycles(edges)) == [
        ["sharpnotes.app.b", "sharpnotes.app.c", "sharpnotes.ingest.a"],
        ["sharpnotes.eval.benchmarks.run", "sharpnotes.eval.harness"],
    ]
    assert upward(edges) == {("sharpnotes.ingest.a", "sharpnotes.app.b")}
    assert benchmark_imports(edges) == {
        ("sharpnotes.eval.harness", "sharpnotes.eval.benchmarks.run")
    }
