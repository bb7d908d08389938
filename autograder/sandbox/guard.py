"""The run-time forbidden-API guard of the sandboxed child.

One mechanism for every route: a `torch.overrides.TorchFunctionMode`, entered for the child's
whole life, sees each torch function call made from Python, whichever namespace the function was
reached through (``torch.nn.functional``, ``torch._C._nn``, ``torch``, ``torch._C._VariableFunctions``,
``torch.ops.aten`` with or without an overload, a ``functools.partial``, a handle bound at import
time, ``getattr`` / ``operator.attrgetter`` / ``importlib`` lookups). A call whose name is in
`autograder.forbidden_apis` is the learner's unless the nearest caller outside torch's own files is
the grader's reference code (the stand-ins of earlier steps), recognised by its code objects. So
torch internals called on the learner's behalf (``nn.MultiheadAttention.forward``,
``nn.TransformerEncoderLayer``) count, and a stand-in's own attention call does not.
``nn.MultiheadAttention`` is also guarded at construction (a subclass that is built but never run).

Threads started by learner code enter the mode too. Calls made while an earlier step's learner
module runs its top-level code (imported for a helper, `sandbox.standins`) are that step's
business, not the one under test: the guard is suspended then.

In-process code can always undo an in-process guard (pop the mode, patch this object), and
another process (``subprocess``) is not watched; the parent's static scan (`grading.forbidden`)
does not depend on the child. The guard catches what the scan cannot see: names built at run time.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from typing import Any

from torch import nn
from torch.overrides import TorchFunctionMode

from ..forbidden_apis import FORBIDDEN_NAMES
from .ban import TORCH_DIR, install_ban


class ForbiddenGuard(TorchFunctionMode):
    """Records the forbidden torch APIs learner code calls (`take` hands them over and forgets them)."""

    def __init__(self, trusted_code: frozenset[types.CodeType] = frozenset()) -> None:
        super().__init__()
        self.trusted_code = trusted_code
        self.used: set[str] = set()
        self._suspended: dict[int, int] = {}  # thread id -> depth

    def install(self) -> None:
        """Start watching for good (the sandboxed child): ban the ops in torch's dispatcher
        (`sandbox.ban`), enter the mode and guard ``nn.MultiheadAttention`` construction."""
        install_ban(self.trusted_code, frozenset({ForbiddenGuard.__torch_function__.__code__}), self.record)
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

    def __torch_function__(self, func: Any, types: Iterable[type], args: tuple = (), kwargs: dict | None = None) -> Any:
        name = getattr(func, "__name__", None)
        if isinstance(name, str):
            base = name.partition(".")[0]  # "scaled_dot_product_attention.default" -> the packet's name
            if base in FORBIDDEN_NAMES:
                self.note(base, depth=2)
        return func(*args, **(kwargs or {}))

    def note(self, name: str, depth: int) -> None:
        """Record ``name`` if the call ``depth`` frames up is the learner's (see the module docstring)."""
        if self._suspended.get(threading.get_ident()):
            return
        frame: types.FrameType | None = sys._getframe(depth)
        while frame is not None and frame.f_code.co_filename.startswith(TORCH_DIR):
            frame = frame.f_back
        if frame is None or frame.f_code not in self.trusted_code:
            self.used.add(FORBIDDEN_NAMES[name])

    def record(self, api: str) -> None:
        """Record the API shown as ``api`` (the dispatcher ban decided it was the learner's call)."""
        if not self._suspended.get(threading.get_ident()):
            self.used.add(api)

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Calls made in this thread meanwhile are not recorded (an earlier step's module body)."""
        thread = threading.get_ident()
        self._suspended[thread] = self._suspended.get(thread, 0) + 1
        try:
            yield
        finally:
            self._suspended[thread] -= 1

    def take(self) -> list[str]:
        used, self.used = sorted(self.used), set()
        return used


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
