"""The ``attention`` package as the sandboxed child serves it: earlier steps are stand-ins, helpers stay.

When the grader checks step k, the modules of steps 1..k-1 are **stand-in modules**: their API
names are shells that ask the grader for the reference's answers (`sandbox.shells`), so a wrong
earlier step costs only its own step and no reference code is in the child. Everything else the
learner wrote stays importable:

- An earlier step's module holds the stand-ins only until learner code asks it for another name
  (``from attention.self_attention import scaled_dot_attention``, ``sa.helper``, ``import *``).
  Then the learner's file runs, once, *inside* the stand-in module: its top-level code sees the
  stand-ins for the API names (an assignment to an API name is dropped), so the learner's helpers,
  constants and classes, including those that call or subclass that step's API, use the stand-ins,
  never the learner's own (possibly wrong) version. A module that is only asked for API names is
  never run, so its import-time side effects (a loop, ``os._exit``, a monkeypatch) cannot reach
  the later step.
- A stand-in class keeps the learner's own non-API members of that class (helper methods, class
  attributes): the learner's file is read (not run) to find which names its class defines; looking
  one of them up on the shell runs the file as above and copies those members onto the shell
  (`learner_member`), so a subclass calling ``self._project(x)`` works as written.
- If that file cannot be run (syntax error, exception at import), the module keeps the stand-ins
  only, and every later import or attribute error says so, naming the file (`load_failures`).
- Any other module (a helper module such as ``attention/utils.py``, the step under test, a later
  step) is the learner's file, imported normally.
- The learner's ``attention/__init__.py`` runs only when learner code asks the package for a name
  that is not one of its modules (``from attention import helper`` re-exported there), so a broken
  or slow ``__init__`` costs only the steps that need it; if it fails, that is said the same way.

Learner files run after confinement, while the forbidden-API guard is suspended for an earlier
step's top-level code.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from typing import Any

import torch

from autograder.parsing import parse

from .objstate import is_plain

PACKAGE = "attention"


class _ModuleBody(MutableMapping):
    """The local namespace an earlier step's file runs in: the stand-ins win over the learner's API."""

    def __init__(self, namespace: dict[str, Any], api: frozenset[str]) -> None:
        self.namespace = namespace
        self.api = api
        self.dropped: dict[str, Any] = {}  # API name -> what the learner's file assigned to it

    def __getitem__(self, key: str) -> Any:
        return self.namespace[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.api:
            self.namespace[key] = value
        else:
            self.dropped[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self.api:
            del self.namespace[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.namespace)

    def __len__(self) -> int:
        return len(self.namespace)


class LearnerPackage:
    """Builds the package (`build`) and runs learner files on demand; remembers what failed."""

    def __init__(self, package_dir: str, standins: dict[str, dict[str, object]]) -> None:
        self.package_dir = package_dir
        self.standins = standins  # earlier step's module -> its API name -> reference object
        self.load_failures: dict[str, str] = {}  # "attention/x.py" -> why it could not be run
        self.loaded: set[str] = set()
        # API class -> the names its learner class defines in its body, and those its __init__ sets on self
        self.class_members: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self.learner_classes: dict[str, type] = {}  # API class -> the learner's own class (once its file ran)
        self.quiet: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext  # the guard's `suspended`

    # -- building ------------------------------------------------------------------------------
    def build(self) -> types.ModuleType:
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
        package = types.ModuleType(PACKAGE, "The learner's package, as the grader serves it.")
        package.__path__ = [self.package_dir]
        package.__package__ = PACKAGE
        package.__spec__ = importlib.machinery.ModuleSpec(PACKAGE, None, is_package=True)
        package.__spec__.submodule_search_locations = [self.package_dir]
        package.__getattr__ = self._package_getattr  # type: ignore[attr-defined]
        sys.modules[PACKAGE] = package
        for module_name, namespace in self.standins.items():
            module = types.ModuleType(f"{PACKAGE}.{module_name}", f"Grader stand-in for step {module_name}.")
            module.__package__ = PACKAGE
            module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None, origin=self._path(module_name))
            module.__dict__.update(namespace)
            module.__getattr__ = self._module_getattr(module_name)  # type: ignore[attr-defined]
            sys.modules[module.__name__] = module
            setattr(package, module_name, module)
        return package

    def _path(self, module_name: str) -> str:
        return os.path.join(self.package_dir, f"{module_name}.py")

    @staticmethod
    def _shown(module_name: str) -> str:
        return f"{PACKAGE}/{module_name}.py"

    # -- an earlier step's helpers ----------------------------------------------------------------
    def _module_getattr(self, module_name: str) -> Callable[[str], Any]:
        def __getattr__(name: str) -> Any:  # noqa: N807 - a module's __getattr__ (PEP 562)
            module = sys.modules.get(f"{PACKAGE}.{module_name}")
            if module is not None and (not name.startswith("__") or name == "__all__"):
                self.run_earlier(module_name)
                if module is not None and name in module.__dict__:
                    return module.__dict__[name]
            raise AttributeError(f"module '{PACKAGE}.{module_name}' has no attribute '{name}'"
                                 f"{self._why_missing(module_name)}")

        return __getattr__

    def run_earlier(self, module_name: str) -> None:
        """Run the learner's file of an earlier step inside its stand-in module (once)."""
        if module_name in self.loaded:
            return
        self.loaded.add(module_name)
        module = sys.modules[f"{PACKAGE}.{module_name}"]
        namespace = self.standins[module_name]
        path = self._path(module_name)
        if not os.path.isfile(path):
            return
        module.__dict__.pop("__getattr__", None)  # the learner's file may define its own
        module.__file__ = path
        body = _ModuleBody(module.__dict__, frozenset(namespace))
        try:
            with open(path, "rb") as handle:
                code = compile(handle.read(), path, "exec", dont_inherit=True)
            with self.quiet():
                exec(code, module.__dict__, body)  # noqa: S102 - the learner's module, in the sandbox
        except BaseException as exc:  # noqa: BLE001 - whatever the learner's module raises at import
            self.load_failures[self._shown(module_name)] = _describe(exc, path)
            keep = {k: module.__dict__[k] for k in ("__name__", "__doc__", "__package__", "__spec__", "__loader__")
                    if k in module.__dict__}
            module.__dict__.clear()
            module.__dict__.update(keep)
        module.__dict__.update(namespace)  # the API names stay the stand-ins, whatever the file did
        for name, learner_class in body.dropped.items():
            if isinstance(learner_class, type) and isinstance(namespace.get(name), type):
                self.learner_classes[name] = learner_class
                _copy_members(learner_class, namespace[name])
        if "__getattr__" not in module.__dict__:
            module.__getattr__ = self._module_getattr(module_name)  # type: ignore[attr-defined]

    def learner_member(self, api: str, name: str, instance: Any = None) -> bool:
        """Whether ``name`` is the learner's own member of its class ``api`` (read from its file, not run).

        A member of the class body: the file runs (`run_earlier` copies such members onto the shell).
        An attribute the learner's ``__init__`` sets on ``self`` (``self.d_in = d_in``): the learner's
        class is built once more with ``instance``'s arguments, with the RNG state put back afterwards,
        and its plain (non-tensor) attributes of those names are set on ``instance``.
        """
        module_name = next((m for m, namespace in self.standins.items() if api in namespace), None)
        if module_name is None:
            return False
        if api not in self.class_members:
            self.class_members[api] = _class_members(self._path(module_name), api)
        in_body, in_init = self.class_members[api]
        if name not in in_body and (instance is None or name not in in_init):
            return False
        self.run_earlier(module_name)
        if name in in_body or api not in self.learner_classes:
            return True
        args, kwargs = vars(instance).get("_oracle_args", ((), {}))
        try:
            with torch.random.fork_rng(devices=[]), self.quiet():
                scratch = self.learner_classes[api](*args, **kwargs)
        except Exception:  # noqa: BLE001 - the learner's __init__ failed: the attribute stays missing
            return False
        for key, value in vars(scratch).items():
            if key in in_init and key not in vars(instance) and is_plain(value) and not isinstance(value, torch.Tensor):
                vars(instance)[key] = value
        return True

    def _why_missing(self, module_name: str) -> str:
        shown = self._shown(module_name)
        if shown in self.load_failures:
            return f" ({shown} could not be imported: {self.load_failures[shown]})"
        if not os.path.isfile(self._path(module_name)):
            return f" ({shown} is not in the submission)"
        return ""

    # -- the package's __init__ ---------------------------------------------------------------------
    def _package_getattr(self, name: str) -> Any:
        package = sys.modules[PACKAGE]
        if name.startswith("__") and name != "__all__":
            raise AttributeError(f"module '{PACKAGE}' has no attribute '{name}'")
        if os.path.isfile(self._path(name)) or os.path.isdir(os.path.join(self.package_dir, name)):
            return importlib.import_module(f"{PACKAGE}.{name}")
        self.run_init()
        if name in package.__dict__:
            return package.__dict__[name]
        shown = f"{PACKAGE}/__init__.py"
        why = f" ({shown} could not be imported: {self.load_failures[shown]})" if shown in self.load_failures else ""
        raise AttributeError(f"module '{PACKAGE}' has no attribute '{name}'{why}")

    def run_init(self) -> None:
        """Run the learner's ``__init__.py`` in the package (once); a failure is remembered, not raised."""
        if "__init__" in self.loaded:
            return
        self.loaded.add("__init__")
        path = os.path.join(self.package_dir, "__init__.py")
        if not os.path.isfile(path):
            return
        package = sys.modules[PACKAGE]
        package.__dict__.pop("__getattr__", None)
        package.__file__ = path
        try:
            with open(path, "rb") as handle:
                code = compile(handle.read(), path, "exec", dont_inherit=True)
            exec(code, package.__dict__)  # noqa: S102 - the learner's module, in the sandbox
        except BaseException as exc:  # noqa: BLE001
            self.load_failures[f"{PACKAGE}/__init__.py"] = _describe(exc, path)
        if "__getattr__" not in package.__dict__:
            package.__getattr__ = self._package_getattr  # type: ignore[attr-defined]

    def failure_notes(self, message: str) -> str:
        """For an import or attribute error ``message``: which learner files could not be run (unless it says so)."""
        return "".join(f" ({shown} could not be imported: {why}; only the grader's stand-ins for its step's "
                       "functions and classes were available from it)"
                       for shown, why in sorted(self.load_failures.items()) if shown not in message)


def _class_members(path: str, class_name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The non-dunder names the top-level class ``class_name`` of the file at ``path`` (with its bases
    defined in that file) defines in its body, and the names its ``__init__`` assigns on ``self``."""
    try:
        with open(path, "rb") as handle:
            tree = parse(handle.read().decode("utf-8", "replace"), path)
    except BaseException:  # noqa: BLE001 - an unreadable or unparsable file has no members to keep
        return frozenset(), frozenset()
    in_body: set[str] = set()
    in_init: set[str] = set()
    classes = {node.name: node for node in getattr(tree, "body", []) if isinstance(node, ast.ClassDef)}
    pending, seen = [class_name], set()
    while pending:  # the class, and its bases defined in the same file
        node = classes.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        pending.extend(base.id for base in node.bases if isinstance(base, ast.Name))
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                in_body.add(item.name)
            elif isinstance(item, ast.Assign):
                in_body.update(t.id for t in item.targets if isinstance(t, ast.Name))
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                in_body.add(item.target.id)
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                in_init.update(target.attr for target in ast.walk(item) if isinstance(target, ast.Attribute)
                               and isinstance(target.ctx, ast.Store) and isinstance(target.value, ast.Name)
                               and target.value.id == "self")
    return (frozenset(n for n in in_body if not n.startswith("__")),
            frozenset(n for n in in_init if not n.startswith("_")))


def _copy_members(learner_class: type, shell: type) -> None:
    """Give ``shell`` the learner's own members of its class (and of its bases from the same file) that
    the shell and its bases do not define."""
    for klass in learner_class.__mro__:
        if klass.__module__ != learner_class.__module__:
            continue
        for name, value in vars(klass).items():
            if not name.startswith("__") and not any(name in vars(base) for base in shell.__mro__):
                setattr(shell, name, value)


def _describe(exc: BaseException, path: str) -> str:
    """``SyntaxError: invalid syntax, line 3`` or ``ValueError: message, line 7`` (the line in ``path``)."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg}, line {exc.lineno}"
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a learner __str__ that raises
        message = ""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == path:
            line = trace.tb_lineno
        trace = trace.tb_next
    where = f", line {line}" if line is not None else ""
    return f"{type(exc).__name__}{': ' + message[:300] if message else ''}{where}"
