"""The attention shortcuts that from-scratch steps may not use, and how a use is reported.

Shipped with the exercises and used by the grader too: ONE list (`FORBIDDEN_NAMES`), ONE pair of
messages (`called_message`, `uses_message`), ONE run-time guard (`ForbiddenGuard`). The learner's
``pytest`` runs every call into a from-scratch step's code under the guard and fails the check
with the grader's own message; the grader's sandbox adds a ban in torch's dispatcher that no
Python route gets past (``autograder/sandbox/ban.py``). Each entry of `FORBIDDEN_NAMES` is the
name torch gives the function or class, under whichever namespace it is reached
(``torch.nn.functional``, ``torch._C._nn``, ``torch``, ``torch._C._VariableFunctions``,
``torch.ops.aten``, with or without an overload suffix such as ``.default``), and the name shown.

`ForbiddenGuard` is a ``TorchFunctionMode``: it sees each torch function call made from Python by
its name, whatever route reached it (``F``, ``torch._C._nn``, ``torch.ops.aten``, a
``functools.partial``, a handle bound at import time, ``getattr``/``importlib`` lookups). A call
is the learner's unless the nearest caller outside torch's own files is ``trusted_code`` (the
grader's own code); torch internals called on the learner's behalf (``nn.MultiheadAttention``)
count. Calls made while the guard is `suspended` (an earlier step's module running its top-level
code) are not recorded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

TORCH_DIR = os.path.dirname(os.path.realpath(torch.__file__)) + os.sep  # a frame in here is torch's own

FORBIDDEN_NAMES: dict[str, str] = {
    "scaled_dot_product_attention": "torch.nn.functional.scaled_dot_product_attention",
    "MultiheadAttention": "torch.nn.MultiheadAttention",
    "multi_head_attention_forward": "torch.nn.functional.multi_head_attention_forward",
    # the kernels behind them, reachable as torch.<name>, torch._C._VariableFunctions.<name>, torch.ops.aten.<name>
    **{name: f"torch.ops.aten.{name}" for name in (
        "_scaled_dot_product_attention_math",
        "_scaled_dot_product_attention_math_for_mps",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
        "_scaled_dot_product_fused_attention_overrideable",
        "_flash_attention_forward",
        "_flash_attention_forward_no_dropout_inplace",
        "_efficient_attention_forward",
        "_native_multi_head_attention",
        "_triton_multi_head_attention",
        "_triton_scaled_dot_attention",
        "_cudnn_attention_forward",
        "_transformer_encoder_layer_fwd",
    )},
}


def forbidden_api(name: str) -> str | None:
    """The shown name of the forbidden API ``name`` designates, or None.

    ``name`` may be qualified (``torch.ops.aten.x``, ``aten::x``) and carry an overload suffix
    (``x.default``).
    """
    parts = [p for p in name.replace("::", ".").split(".") if p]
    for part in reversed(parts[-2:]):  # "x" or "x.default"
        if part in FORBIDDEN_NAMES:
            return FORBIDDEN_NAMES[part]
    return None


# Means of switching the run-time guard off, or of reaching torch's dispatcher: no from-scratch step
# needs them, so the static scan flags them like the APIs themselves (the sandbox's ban holds anyway).
GUARD_TAMPERING: dict[str, str] = {
    "DisableTorchFunction": "torch._C.DisableTorchFunction",
    "DisableTorchFunctionSubclass": "torch._C.DisableTorchFunctionSubclass",
    "_disable_current_modes": "torch.utils._python_dispatch._disable_current_modes",
    "_pop_torch_function_stack": "torch._C._pop_torch_function_stack",
    "_pop_mode": "torch.overrides._pop_mode",
    "_pop_mode_temporarily": "torch.overrides._pop_mode_temporarily",
    "_dispatch_library": "torch._C._dispatch_library",
    "_dispatch_call_boxed": "torch._C._dispatch_call_boxed",
    "_dispatch_get_computed_kernel_for_dispatch_key": "torch._C._dispatch_get_computed_kernel_for_dispatch_key",
    "_ExcludeDispatchKeyGuard": "torch._C._ExcludeDispatchKeyGuard",
}


def flagged_name(name: str) -> str | None:
    """What the static scan reports for ``name`` (qualified or not): a forbidden API
    (`forbidden_api`) or a means of switching the guard off (`GUARD_TAMPERING`)."""
    api = forbidden_api(name)
    if api is not None:
        return api
    parts = [p for p in name.replace("::", ".").split(".") if p]
    return GUARD_TAMPERING.get(parts[-1]) if parts else None


def called_message(apis: Iterable[str], filename: str, step_id: str) -> str:
    """What every test of a from-scratch step says when its code called ``apis`` (shown names)."""
    return (f"your code called {', '.join(sorted(apis))} while {filename} was graded; step {step_id!r} must be "
            "implemented from scratch, so all its tests score 0")


def uses_message(uses: Iterable[str], api: str, step_id: str) -> str:
    """What every test of a from-scratch step says when the static scan found ``uses``
    (``"attention/x.py uses <api> (line 3)"``); ``api`` is the first one's API."""
    return (f"{'; '.join(uses)}. Step {step_id!r} must be implemented from scratch, without {api}, "
            "so its tests score 0")


class ForbiddenGuard(TorchFunctionMode):
    """Records the forbidden torch APIs learner code calls (`take` hands them over and forgets them)."""

    def __init__(self, trusted_code: frozenset[types.CodeType] = frozenset()) -> None:
        super().__init__()
        self.trusted_code = trusted_code
        self.used: set[str] = set()
        self._suspended: dict[int, int] = {}  # thread id -> depth

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
