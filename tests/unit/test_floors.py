"""The house's floors, checked over the import graph of the source tree (every import,
including those inside functions): the base imports nothing above it, the packages of the
middle floor import only themselves and the base, the command line is the top floor, and no
module imports another in a circle."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# Package -> floor. A package may import its own modules and those of lower floors only;
# packages on one floor do not import each other. bench/ and tests/ are outside the house:
# they may use every floor but the command line's internals, and tests never import bench/.
FLOORS = {"segstream": 0, "producers": 1, "streaming": 1, "batch": 1, "viz": 1, "cli": 2}
OUTSIDE = {"bench": {"cli"}, "tests": {"bench"}}


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: list[str]) -> dict[str, Path]:
    return {
        module_name(root, p): p
        for package in packages
        for p in sorted((root / package).rglob("*.py"))
    }


def imports(path: Path, known: Mapping[str, Path]) -> Iterator[str]:
    """The project modules `path` imports (a `from X import Y` names X.Y when it is a module)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in known:
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield sub if sub in known else node.module


def graph(root: Path, packages: list[str]) -> dict[str, set[str]]:
    found = modules(root, packages)
    tops = {name.split(".")[0]: found[name] for name in found}
    known = {**tops, **found}
    return {name: {m for m in imports(path, known) if m in found} for name, path in found.items()}


def floor_violations(edges: Mapping[str, set[str]]) -> list[str]:
    bad = []
    for source, targets in edges.items():
        src = source.split(".")[0]
        for target in sorted(targets):
            dst = target.split(".")[0]
            if src == dst:
                continue
            if src in OUTSIDE:
                if dst in OUTSIDE[src]:
                    bad.append(f"{source} -> {target}")
                continue
            if dst not in FLOORS or FLOORS[dst] >= FLOORS[src]:
                bad.append(f"{source} -> {target}")
    return bad


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


PACKAGES = [*FLOORS, *OUTSIDE]


def test_no_package_imports_one_above_it_or_beside_it() -> None:
    assert floor_violations(graph(ROOT, PACKAGES)) == []


def test_no_import_cycle() -> None:
    assert cycles(graph(ROOT, PACKAGES)) == []


def test_the_spark_submit_entry_of_the_stream_does_not_reach_the_command_line() -> None:
    edges = graph(ROOT, PACKAGES)
    reached, todo = set(), ["streaming.job"]
    while todo:
        m = todo.pop()
        if m not in reached:
            reached.add(m)
            todo.extend(edges.get(m, ()))
    assert not {m for m in reached if m.split(".")[0] == "cli"}


def _tree(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checks_catch_an_upward_import_a_sideways_one_and_a_cycle(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "segstream/__init__.py": "",
            "segstream/config.py": "def f():\n    from streaming import job\n",
            "streaming/__init__.py": "",
            "streaming/job.py": "from segstream import config\nfrom batch import rescore\n",
            "batch/__init__.py": "",
            "batch/rescore.py": "import segstream.config\n",
            "cli/__init__.py": "",
            "cli/main.py": "from streaming.job import run\n",
        },
    )
    edges = graph(tmp_path, ["segstream", "streaming", "batch", "cli"])
    assert floor_violations(edges) == [
        "segstream.config -> streaming.job",
        "streaming.job -> batch.rescore",
    ]
    assert cycles(edges) == [["batch.rescore", "segstream.config", "streaming.job"]]
