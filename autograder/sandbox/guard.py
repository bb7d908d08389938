"""The sandboxed child's forbidden-API guard: `ChildGuard`, the shipped `ForbiddenGuard` installed for good.

`ChildGuard.install` (the child, before any learner file runs) binds the dispatcher ban
(`sandbox.ban`: every route to a forbidden op ends in a kernel that records and raises), enters
the torch-function mode for the child's whole life (it names the API however it was reached),
records ``nn.MultiheadAttention`` construction (a subclass that is built but never run), and makes
every thread learner code starts enter the mode too. Calls made while an earlier step's learner
module runs its top-level code (imported for a helper, `sandbox.standins`) are that step's
business: the guard records nothing then (the ban still raises).

The mode alone can be switched off (``DisableTorchFunction``, popping it); the ban cannot, from
Python. Another process (``subprocess``) is not watched; the parent's static scan
(`selfcheck.forbidden_scan`) does not depend on the child.
"""

from __future__ import annotations

import _thread
import os
import threading
import types
from collections.abc import Iterable
from typing import Any

from torch import nn

from selfcheck.forbidden import ForbiddenGuard

from .ban import install_ban


class ChildGuard(ForbiddenGuard):
    """The guard of a sandboxed child: `install` once, before learner code runs."""

    def install(self, refuse_processes: bool = False) -> None:
        """Start watching for good (the sandboxed child): ban the ops in torch's dispatcher
        (`sandbox.ban`; ``refuse_processes`` in a from-scratch step), enter the mode and guard
        ``nn.MultiheadAttention`` construction."""
        install_ban(self.trusted_code, frozenset({ForbiddenGuard.__torch_function__.__code__}), self.record,
                    refuse_processes)
        self.__enter__()
        guard = self
        original_init = nn.MultiheadAttention.__init__

        def __init__(module: nn.Module, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - replaces __init__
            guard.note("MultiheadAttention", depth=2)
            original_init(module, *args, **kwargs)

        __init__.__wrapped__ = original_init  # type: ignore[attr-defined]
        nn.MultiheadAttention.__init__ = __init__  # type: ignore[method-assign]
        self._follow_threads()

    def _follow_threads(self) -> None:
        """The mode stack is per thread: every thread started from now on enters the guard first."""
        original = _thread.start_new_thread
        guard = self

        def start_new_thread(function: Any, args: tuple, kwargs: dict | None = None) -> int:
            def guarded(*args: Any, **kwargs: Any) -> Any:
                with guard:
                    return function(*args, **kwargs)

            return original(guarded, args, kwargs or {})

        _thread.start_new_thread = start_new_thread
        threading._start_new_thread = start_new_thread  # type: ignore[attr-defined]


def code_objects(modules: Iterable[types.ModuleType]) -> frozenset[types.CodeType]:
    """Every code object of the functions and classes defined in ``modules`` (nested ones included),
    compiled from those modules' own files."""
    modules = list(modules)
    names = {m.__name__ for m in modules}
    found: set[types.CodeType] = set()
    seen: set[int] = set()
    stack: list[Any] = [value for module in modules for value in vars(module).values()]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.CodeType):
            found.add(obj)
            stack.extend(c for c in obj.co_consts if isinstance(c, types.CodeType))
        elif isinstance(obj, types.FunctionType) and obj.__module__ in names:
            stack.append(obj.__code__)
        elif isinstance(obj, (staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif isinstance(obj, property):
            stack.extend(f for f in (obj.fget, obj.fset, obj.fdel) if f is not None)
        elif isinstance(obj, type) and obj.__module__ in names:
            stack.extend(vars(obj).values())
        wrapped = getattr(obj, "__wrapped__", None) if isinstance(obj, types.FunctionType) else None
        if wrapped is not None:  # a decorated reference function (functools.wraps)
            stack.append(wrapped)
    files = {os.path.realpath(m.__file__) for m in modules if getattr(m, "__file__", None)}
    return frozenset(c for c in found if os.path.realpath(c.co_filename) in files)  # not a decorator's wrapper
