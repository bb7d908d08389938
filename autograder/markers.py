"""nbgrader's markers, and the solution regions they delimit: the one contract of solution sources.

A solution module (``solutions/attention/<module>.py``) and a notebook's answer cell hold their
solution code between a ``### BEGIN SOLUTION`` line and its ``### END SOLUTION`` line; a test
cell holds its hidden tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.
The release turns each solution region into a stub (`autograder.build.stubs`), nbgrader does the
same to the notebooks, and the leak scanner (`autograder.build.leaks`) looks for the markers and
the regions' code in whatever learners get. `MARKERS` is the one list of them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .errors import MarkerError

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN_TESTS = "### BEGIN HIDDEN TESTS"
END_HIDDEN_TESTS = "### END HIDDEN TESTS"

# What never reaches learners, with what it is (the leak scanner reports these words).
MARKERS: tuple[tuple[str, str], ...] = (
    ("BEGIN SOLUTION", "an nbgrader solution marker"),
    ("END SOLUTION", "an nbgrader solution marker"),
    ("BEGIN HIDDEN TESTS", "an nbgrader hidden-tests marker"),
    ("END HIDDEN TESTS", "an nbgrader hidden-tests marker"),
    ("run_hidden(", "a hidden-test call (what nbgrader's hidden blocks hold)"),
    ("run_question(", "a concept question's hidden test"),
    ("load_hidden_checks(", "a call loading the hidden checks"),
    ("autograder.hidden", "a call into the hidden checks"),
    ("from autograder", "an import of the grader"),
    ("import autograder", "an import of the grader"),
)

__all__ = [
    "BEGIN_HIDDEN_TESTS", "BEGIN_SOLUTION", "END_HIDDEN_TESTS", "END_SOLUTION", "MARKERS", "MarkerError",
    "Region", "not_implemented_message", "solution_regions",
]


@dataclass(frozen=True)
class Region:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a solution module."""

    begin: int  # line number (1-based) of the BEGIN line
    end: int  # line number of the END line
    indent: str  # the BEGIN line's indentation, where the stub's `raise` goes
    qualname: str  # the enclosing function, e.g. "SelfAttention.forward"

    def stub_line(self, step_id: str) -> str:
        """The line that replaces the region in the stub."""
        return f'{self.indent}raise NotImplementedError("{not_implemented_message(step_id, self.qualname)}")'


def not_implemented_message(step_id: str, qualname: str) -> str:
    """``"tokens: build_vocab is not implemented yet"``: what a stub raises."""
    return f"{step_id}: {qualname} is not implemented yet"


def solution_regions(source: str, filename: str = "<source>") -> list[Region]:
    """The solution regions of a module's ``source``, in order.

    Rules (a violation raises `MarkerError` naming the line): markers are alone on their line,
    spelled exactly ``### BEGIN SOLUTION`` / ``### END SOLUTION``; every BEGIN has an END at the
    same indentation and regions do not nest; a region holds at least one statement, its first
    statement is at the BEGIN line's indentation, and all its statements belong to the body of
    one function or method (never module level or a class body), so a stub still defines every
    name and each region is a self-contained body that nbgrader can replace too.
    """
    pairs: list[tuple[int, int, str]] = []
    open_at: tuple[int, str] | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped == BEGIN_SOLUTION:
            if open_at is not None:
                raise MarkerError(
                    f"{filename}, line {number}: {BEGIN_SOLUTION} inside the region opened at line {open_at[0]}"
                )
            open_at = (number, indent)
        elif stripped == END_SOLUTION:
            if open_at is None:
                raise MarkerError(f"{filename}, line {number}: {END_SOLUTION} without a {BEGIN_SOLUTION}")
            if indent != open_at[1]:
                raise MarkerError(
                    f"{filename}, line {number}: {END_SOLUTION} is not indented like its "
                    f"{BEGIN_SOLUTION} (line {open_at[0]})"
                )
            pairs.append((open_at[0], number, open_at[1]))
            open_at = None
        elif BEGIN_SOLUTION in line or END_SOLUTION in line:
            raise MarkerError(f"{filename}, line {number}: a solution marker must be alone on its line")
    if open_at is not None:
        raise MarkerError(f"{filename}, line {open_at[0]}: {BEGIN_SOLUTION} without an {END_SOLUTION}")
    if not pairs:
        return []
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise MarkerError(f"{filename}, line {error.lineno}: not valid Python ({error.msg})") from None
    statements = _statement_owners(tree)
    regions = []
    for begin, end, indent in pairs:
        inside = [s for s in statements if begin < s.line < end]
        if not inside:
            raise MarkerError(f"{filename}, line {begin}: the solution region holds no code")
        first = min(inside, key=lambda s: s.line)
        if first.owner is None:
            raise MarkerError(
                f"{filename}, line {begin}: the solution region is not inside a function body "
                "(regions at module level or in a class body would remove names from the stub)"
            )
        if first.column != len(indent):
            raise MarkerError(
                f"{filename}, line {first.line}: the region's first statement is not at the indentation of its "
                f"{BEGIN_SOLUTION} line"
            )
        for statement in inside:
            if statement.owner != first.owner and not (statement.owner or "").startswith(first.owner + "."):
                raise MarkerError(
                    f"{filename}, line {statement.line}: the solution region opened at line {begin} "
                    f"leaves the body of {first.owner}"
                )
            if statement.end_line >= end:
                raise MarkerError(f"{filename}, line {statement.line}: a statement runs past the {END_SOLUTION} line")
        regions.append(Region(begin, end, indent, first.owner))
    return regions


@dataclass(frozen=True)
class _Statement:
    line: int
    end_line: int
    column: int
    owner: str | None  # qualified name of the innermost function whose body holds it


def _statement_owners(tree: ast.Module) -> list[_Statement]:
    found: list[_Statement] = []

    def visit(node: ast.AST, scope: tuple[str, ...], owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                found.append(_Statement(child.lineno, child.end_lineno or child.lineno, child.col_offset, owner))
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = (*scope, child.name)
                visit(child, inner, ".".join(inner))
            elif isinstance(child, ast.ClassDef):
                visit(child, (*scope, child.name), None)
            else:
                visit(child, scope, owner)

    visit(tree, (), None)
    return found

