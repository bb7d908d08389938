"""Static scan for the attention shortcuts from-scratch steps may not use (`selfcheck.forbidden`).

One scanner, shipped: the grader runs it in its trusted parent on each from-scratch step's module
and the helper modules it imports (`scan_step`), and the learner's ``pytest`` runs the same scan
with the same message. The run-time guard (`selfcheck.forbidden.ForbiddenGuard`, and the
grader's dispatcher ban) catches what no scan can see. Policy (see docs/DESIGN.md, "Forbidden
APIs"): the scan flags *references that can reach* a forbidden API, wherever they are in the
module, even in a branch or function that never runs:

- an attribute ``.scaled_dot_product_attention`` on torch or a name imported from it (``F.``,
  ``torch._C._nn.``, ``torch.ops.aten.`` ...), or on anything else unless the module defines that
  name itself (a learner's method ``self.scaled_dot_product_attention(q, k, v)`` is its own);
- ``from torch... import scaled_dot_product_attention`` and a bare name the module does not define
  itself (``from torch.nn.functional import *``);
- a string that *is* the name, alone or qualified (``"scaled_dot_product_attention"``,
  ``"aten::_scaled_dot_product_attention_math"``), also when built from constants
  (``"scaled_dot_" + "product_attention"``, f-strings, ``"".join([...])``, slices, ``.replace``).

The same rules flag the means of switching the run-time guard off (`GUARD_TAMPERING`:
``torch._C.DisableTorchFunction``, popping torch-function modes, ``torch.library`` ...): a
from-scratch step has no use for them.

It never flags a docstring, a comment, a string statement, or a sentence that mentions the name
(``"not F.scaled_dot_product_attention"``): those cannot reach torch's function. A learner's own
function, class or variable of the same name is not torch's either.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .forbidden import ForbiddenGuard, called_message, flagged_name, uses_message

Parse = Callable[[str], ast.AST]  # ast.parse, or the grader's thread-safe one


_QUALIFIED_NAME = re.compile(r"[A-Za-z_]\w*(?:(?:\.|::)[A-Za-z_]\w*)*")
_MAX_FOLDED = 400  # longer constant strings are text, not names


@dataclass(frozen=True)
class Violation:
    api: str
    line: int

    def describe(self, filename: str) -> str:
        return f"{filename} uses {self.api} (line {self.line})"


def scan(source: str, parse: Parse = ast.parse) -> list[Violation]:
    """References to forbidden APIs in ``source``, one per API and line, by line."""
    try:
        tree = parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the import fails anyway, and says why
    own = _own_names(tree)
    torch_names = _torch_names(tree)
    prose = _string_statements(tree)
    folder = _Folder()
    found: dict[tuple[str, int], Violation] = {}

    def note(api: str | None, node: ast.AST) -> None:
        if api is not None:
            found.setdefault((api, node.lineno), Violation(api, node.lineno))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if _root_name(node) in torch_names or node.attr not in own:  # not the learner's own method
                note(flagged_name(node.attr), node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            for alias in node.names:
                note(flagged_name(alias.name), node)
        elif isinstance(node, ast.Name) and node.id not in own:
            note(flagged_name(node.id), node)
        elif isinstance(node, ast.expr) and id(node) not in prose:
            text = folder.fold(node) if not isinstance(node, ast.Name) else None
            if text is not None and len(text) <= _MAX_FOLDED and _QUALIFIED_NAME.fullmatch(text.strip()):
                note(flagged_name(text.strip()), node)
    return sorted(found.values(), key=lambda v: (v.line, v.api))


def scan_step(package_dir: Path, module: str, step_modules: set[str],
              parse: Parse = ast.parse) -> list[tuple[str, Violation]]:
    """`scan` of a step's module and of every learner module it can reach by importing: helper
    modules (not steps: their own step scans them), transitively, and ``__init__.py`` when the
    step imports a name from the package itself. (file name, violation) pairs, module by module."""
    found: list[tuple[str, Violation]] = []
    for path in reachable_modules(package_dir, module, step_modules, parse):
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # the import fails anyway, and says why
        found += [(path.name, violation) for violation in scan(source, parse)]
    return found


def local_verdict(step_id: str, module: str, package_dir: Path, guard: ForbiddenGuard | None,
                  step_modules: set[str]) -> str | None:
    """The learner's ``pytest``: why a from-scratch step scores 0 in the grader, in the grader's
    words, or None. The static scan of ``package_dir/<module>.py`` (and what it imports), then the
    calls ``guard`` saw; a call seen in one check is remembered for the step's later checks."""
    found = scan_step(package_dir, module, step_modules)
    if found:
        uses = [violation.describe(f"attention/{name}") for name, violation in found]
        return uses_message(uses, found[0][1].api, step_id)
    called = _CALLED.setdefault(step_id, set())
    called.update(guard.take() if guard is not None else ())
    return called_message(called, f"attention/{module}.py", step_id) if called else None


_CALLED: dict[str, set[str]] = {}  # step id -> the forbidden APIs its checks called so far (one pytest run)


def reachable_modules(package_dir: Path, module: str, step_modules: set[str], parse: Parse = ast.parse) -> list[Path]:
    """The step's module file, then the helper modules (and ``__init__.py``) its imports reach."""
    start = package_dir / f"{module}.py"
    order, queue = [start], [start]
    while queue:
        path = queue.pop()
        try:
            tree = parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
            continue
        for name in _imported_modules(tree):
            target = package_dir / ("__init__.py" if name == "__init__" else f"{name}.py")
            if name not in step_modules and target.is_file() and target not in order:
                order.append(target)
                queue.append(target)
    return order


def _imported_modules(tree: ast.AST) -> set[str]:
    """Modules of the package ``attention`` that ``tree`` imports (``"__init__"`` for the package)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("attention."))
        elif isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 0 and parts[0] != "attention":
                continue
            inner = parts[1:] if node.level == 0 else [p for p in parts if p]
            if inner:
                names.add(inner[0])
            else:  # from attention import x / from . import x: a module x, or a name of __init__.py
                names.update(alias.name for alias in node.names)
                names.add("__init__")
    return names


def _own_names(tree: ast.Module) -> set[str]:
    """Names the module binds to its own objects: definitions, assignments, parameters, non-torch imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)  # self.scaled_dot_product_attention = ...
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] != "torch":
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _torch_names(tree: ast.Module) -> set[str]:
    """Names the module binds to torch or something imported from it (``torch``, ``F``, ``nn``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name.split(".")[0]) for a in node.names if a.name.split(".")[0] == "torch")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root_name(node: ast.Attribute) -> str | None:
    """``F`` for ``F.scaled_dot_product_attention``, ``torch`` for ``torch.ops.aten.x``; None for ``f().x``."""
    value: ast.expr = node
    while isinstance(value, ast.Attribute):
        value = value.value
    return value.id if isinstance(value, ast.Name) else None


def _string_statements(tree: ast.Module) -> set[int]:
    """Ids of string constants that are whole statements: docstrings and other bare strings."""
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, (ast.Constant, ast.JoinedStr))}


class _Folder:
    """Folds constant string expressions; remembers each node's result, so a long chain is folded once."""

    def __init__(self) -> None:
        self.known: dict[int, str | None] = {}

    def fold(self, node: ast.AST) -> str | None:
        """The string ``node`` always evaluates to, when built from constants only (and short); else None."""
        if id(node) not in self.known:
            text = self._fold(node)
            self.known[id(node)] = text if text is not None and len(text) <= _MAX_FOLDED else None
        return self.known[id(node)]

    def _fold(self, node: ast.AST) -> str | None:  # noqa: PLR0911 - one case per kind of expression
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            parts = [self.fold(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
            return None if any(p is None for p in parts) else "".join(parts)  # type: ignore[arg-type]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            operands = [node.right]  # a + b + c is ((a + b) + c): walk down the left without recursing
            while isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Add):
                if len(operands) > _MAX_FOLDED:
                    return None
                node = node.left
                operands.append(node.right)
            operands.append(node.left)
            text = ""
            for operand in reversed(operands):
                part = self.fold(operand)
                if part is None or len(text) + len(part) > _MAX_FOLDED:
                    return None
                text += part
            return text
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords:
            return self._method(node, node.func)
        return None

    def _subscript(self, node: ast.Subscript) -> str | None:
        text = self.fold(node.value)
        if text is None:
            return None
        try:
            if isinstance(node.slice, ast.Slice):
                bounds = [None if b is None else ast.literal_eval(b)
                          for b in (node.slice.lower, node.slice.upper, node.slice.step)]
                return text[slice(*bounds)]
            key = ast.literal_eval(node.slice)
            return text[key] if isinstance(key, int) else None
        except (ValueError, TypeError, SyntaxError, IndexError, MemoryError, RecursionError):
            return None

    def _method(self, node: ast.Call, method: ast.Attribute) -> str | None:
        owner = self.fold(method.value)
        if owner is None:
            return None
        if method.attr == "join" and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple)):
            parts = [self.fold(e) for e in node.args[0].elts]
            return None if any(p is None for p in parts) else owner.join(parts)  # type: ignore[arg-type]
        args = [self.fold(a) for a in node.args]
        if any(a is None for a in args) or len(args) > 2:
            return None
        if method.attr in ("replace", "strip", "lower", "upper", "removeprefix", "removesuffix"):
            try:
                return getattr(owner, method.attr)(*args)
            except (TypeError, ValueError):
                return None
        return None
