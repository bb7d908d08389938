"""Static scan for the attention shortcuts from-scratch steps may not use.

The grader runs it in the trusted parent on each from-scratch step's module source; the sandbox
child also guards the APIs at run time (`autograder.sandbox.child.ForbiddenGuard`). A learner's own
function *named* ``scaled_dot_product_attention`` is fine; reaching torch's is not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from ..forbidden_apis import FORBIDDEN_NAMES


@dataclass(frozen=True)
class Violation:
    api: str
    line: int

    def describe(self, filename: str) -> str:
        return f"{filename} uses {self.api} (line {self.line})"


def scan(source: str) -> list[Violation]:
    """Uses of forbidden APIs in ``source``: attribute access, imports, ``getattr`` strings."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # the import fails anyway, and says why
    defined = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    found: dict[tuple[str, int], Violation] = {}

    def note(name: str, node: ast.AST) -> None:
        for forbidden, api in FORBIDDEN_NAMES.items():
            if forbidden in name:
                found.setdefault((api, node.lineno), Violation(api, node.lineno))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            note(node.attr, node)
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").startswith("torch"):
                for alias in node.names:
                    note(alias.name, node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
            if node.value.strip() in FORBIDDEN_NAMES or "scaled_dot_product" in node.value:
                note(node.value, node)
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES and node.id not in defined:
            note(node.id, node)
    return sorted(found.values(), key=lambda v: v.line)
