"""The project's structure rules (docs/DESIGN.md, "Two halves"), checked on the code's own imports.

Release-time code (`autograder/build/`) and grade-time code (`grading/`, `sandbox/`, `hidden/`,
`reference/`) meet only in modules both use (`course`, `markers`, `notebook_ids`, `errors`); the
learner's side (`exercises/`) never imports the grader. Every import counts, lazy ones inside
functions included.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 500
SOURCE_ROOTS = (REPO / "autograder", REPO / "exercises", REPO / "solutions")
GRADE_TIME = ("autograder.grading", "autograder.sandbox", "autograder.hidden", "autograder.reference")


def _module_name(path: Path) -> str:
    relative = path.relative_to(REPO / "exercises" if path.is_relative_to(REPO / "exercises") else REPO)
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for root in (REPO / "autograder", REPO / "exercises" / "selfcheck", REPO / "exercises" / "notebooks",
                 REPO / "exercises" / "tests", REPO / "exercises" / "conftest.py"):
        paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in paths:
            if "samples" in path.relative_to(REPO).parts or "__pycache__" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


SOURCES = _sources()


def _imports(name: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the file, lazy ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names = [a.name for a in node.names]
            yield module, names, node.lineno
            for imported in names:  # `from autograder import build` imports the module autograder.build
                if f"{module}.{imported}" in SOURCES:
                    yield f"{module}.{imported}", [], node.lineno


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in SOURCES}
    for name, path in SOURCES.items():
        for module, _, _ in _imports(name, path):
            if module in SOURCES and module != name:
                graph[name].add(module)
    return graph


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_grade_time_code_never_imports_release_time_code() -> None:
    bad = [f"{SOURCES[name].relative_to(REPO)}:{line} imports {module}"
           for name in SOURCES if any(_inside(name, p) for p in GRADE_TIME)
           for module, _, line in _imports(name, SOURCES[name]) if _inside(module, "autograder.build")]
    assert not bad, "\n".join(bad)


def test_grade_time_code_reaches_no_release_time_code_through_others() -> None:
    graph = _edges()
    for start in (n for n in SOURCES if any(_inside(n, p) for p in GRADE_TIME)):
        seen, todo = {start}, [start]
        while todo:
            for following in graph[todo.pop()]:
                assert not _inside(following, "autograder.build"), f"{start} reaches {following}"
                if following not in seen:
                    seen.add(following)
                    todo.append(following)


def test_the_leak_scanner_is_a_leaf_of_the_release() -> None:
    taken = [m for m, _, _ in _imports("autograder.build.leaks", SOURCES["autograder.build.leaks"])
             if _inside(m, "autograder.build")]
    assert taken == []


def test_the_sandbox_never_imports_the_hidden_checks() -> None:
    bad = [f"{name} imports {module}" for name in SOURCES if _inside(name, "autograder.sandbox")
           for module, _, _ in _imports(name, SOURCES[name]) if _inside(module, "autograder.hidden")]
    assert not bad


def test_nothing_learners_get_imports_the_grader() -> None:
    learner_side = {n: p for n, p in SOURCES.items() if p.is_relative_to(REPO / "exercises")}
    assert "selfcheck" in learner_side and "conftest" in learner_side
    bad = [f"{path.relative_to(REPO)}:{line} imports {module}" for name, path in learner_side.items()
           for module, _, line in _imports(name, path) if _inside(module, "autograder")]
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_modules_private_names() -> None:
    bad = [f"{SOURCES[name].relative_to(REPO)}:{line} takes {taken} from {module}"
           for name in SOURCES for module, names, line in _imports(name, SOURCES[name])
           for taken in names if taken.startswith("_") and not taken.startswith("__") and module != name]
    assert not bad, "\n".join(bad)


def test_no_import_circle() -> None:
    graph = _edges()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for following in sorted(graph[node]):
            if state.get(following) == 1:
                circle = path[path.index(following):] + [following]
                pytest.fail("import circle: " + " -> ".join(circle))
            if following not in state:
                visit(following, [*path, following])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])


def test_no_source_file_is_over_500_lines() -> None:
    long = []
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            count = len(path.read_text(encoding="utf-8").splitlines())
            if count > MAX_LINES:
                long.append(f"{path.relative_to(REPO)}: {count} lines")
    assert not long, "\n".join(long)


def test_the_rules_see_the_code() -> None:
    """The rules above would catch a violation: the graph holds the imports they look for."""
    graph = _edges()
    assert "autograder.build.stubs" in graph["autograder.build.generators"]
    assert "autograder.course" in graph["autograder.grading.engine"]
    assert any(_inside(m, "autograder.hidden") for m in graph["autograder.grading.cli"])


# Protocols every command module or entry point follows, and the parallel bodies of the hidden checks
# (one module per step, whose check functions may share names): not two functions sharing a name by accident.
SHARED_BY_PROTOCOL = {"add_arguments", "run", "main"}


def test_two_functions_or_classes_never_share_a_name() -> None:
    owners: dict[str, list[str]] = {}
    for name, path in SOURCES.items():
        if not name.startswith("autograder.") or name.startswith("autograder.hidden."):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                owners.setdefault(node.name, []).append(name)
    shared = {n: m for n, m in owners.items() if len(m) > 1 and n not in SHARED_BY_PROTOCOL}
    assert not shared, shared


def test_grade_time_code_parses_python_only_through_the_lock() -> None:
    """Two ``ast.parse`` at once fail on CPython < 3.11.5 (Debian 12's 3.11.2) with "AST constructor recursion
    depth mismatch"; the grader parses in several threads, so every parse goes through `autograder.parsing`."""
    direct = re.compile(r"\bast\.parse\(|\bast\.literal_eval\((?!node|b\b)")
    bad = [f"{SOURCES[name].relative_to(REPO)}:{number}"
           for name in SOURCES if any(_inside(name, p) for p in GRADE_TIME)
           for number, line in enumerate(SOURCES[name].read_text(encoding="utf-8").splitlines(), start=1)
           if direct.search(line)]
    assert not bad, "\n".join(bad)
