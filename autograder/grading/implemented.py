"""Which of two sources implements a step: the ``attention/`` package or the notebooks' answer cells.

A learner may hand in the package and the notebooks together, having done the work in only one
of them (or some steps in each). `still_a_stub` tells untouched code apart statically (the
grader never imports learner code): a step's code is a stub when every function and method of
the step's API raises ``NotImplementedError`` in its body, as the released stubs and nbgrader's
unanswered cells do. `choose_sources` then picks, per step, the source that implements it, the
package when both do.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from .. import parsing
from ..course import Step


def _raises_not_implemented(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for statement in function.body:
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                return True
    return False


def still_a_stub(source: str, api: Iterable[str]) -> bool:
    """True when ``source`` implements none of ``api``: every function and method of those names raises
    ``NotImplementedError`` in its body (the stubs, and nbgrader's unanswered cells), or none is defined.

    Code that does not parse, or binds an API name by an import or an assignment, counts as implemented.
    """
    try:
        tree = parsing.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    names = set(api)
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            functions.append(node)
        elif isinstance(node, ast.ClassDef) and node.name in names:
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
            if not methods:
                return False
            functions += methods
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((alias.asname or alias.name).split(".")[0] in names for alias in node.names):
                return False
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id in names for t in targets for n in ast.walk(t)):
                return False
    return all(_raises_not_implemented(function) for function in functions)


def choose_sources(steps: Sequence[Step], package: dict[str, str], notebooks: dict[str, str],
                   ) -> tuple[dict[str, str], list[str]]:
    """Per step, ``"package"`` or ``"notebooks"`` (or absent), and the notes saying so.

    ``package`` and ``notebooks`` map module names to source. A step is graded from the one that
    implements it (`still_a_stub`); from the package when both do, or when neither does.
    """
    chosen: dict[str, str] = {}
    both: list[str] = []
    for step in steps:
        in_package = step.module in package and not still_a_stub(package[step.module], step.api)
        in_notebooks = step.module in notebooks and not still_a_stub(notebooks[step.module], step.api)
        if in_package or (step.module in package and not in_notebooks):
            chosen[step.id] = "package"
            if in_package and in_notebooks:
                both.append(step.id)
        elif step.module in notebooks:
            chosen[step.id] = "notebooks"
    notes = []
    if both:
        notes.append(f"Both attention/ and the notebooks implement {', '.join(both)}: the attention/ package was "
                     "graded for those (the package wins when both implement a step).")
    return chosen, notes
