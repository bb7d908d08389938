"""The forbidden-API ban where every route ends: torch's dispatcher, and torch's Python MHA.

`prepare_ban` runs once in the warm worker (~40 ms), before it forks; `install_ban` binds it in
each sandboxed child (under 1 ms), before any learner file runs:

- **The dispatcher.** Every ``aten`` op behind the forbidden APIs (`forbidden_ops`: SDPA and each
  ``_scaled_dot_product_*`` / flash / efficient / cudnn kernel, ``_native_multi_head_attention``,
  ``_transformer_encoder_layer_fwd``, ...) gets a kernel of ours at every dispatch key that has
  one (alias keys such as ``CompositeImplicitAutograd`` included, so no slot keeps torch's). Every
  route to the op ends there: ``F.``, ``torch._C._nn``, ``torch.ops.aten``, ``_VariableFunctions``,
  names built at run time, ``exec``, with torch-function or dispatch modes disabled or popped,
  ``vmap``, ``OpOverload.decompose``, ``redispatch``. The kernel records the API for the grader
  and raises, unless the nearest caller outside torch's files is one of ``trusted_code`` (the
  grader's stand-ins: then it computes attention itself with plain ops). With no trusted code,
  every call raises.
- **torch's Python MHA.** ``F.multi_head_attention_forward`` and ``nn.MultiheadAttention.forward``
  compute with plain ops when weights are asked for; their code objects are replaced by a
  raising body, so every reference to the original function objects (module dicts, subclasses,
  ``nn.TransformerEncoderLayer``) runs it.
- **An audit hook** (never removable from Python) refuses what could find or rewrite the
  kernels: ``gc.get_objects``/``get_referrers``/``get_referents``, ``sys.settrace``/``setprofile``
  (a tracer can jump over a ``raise``), ``sys._current_frames``; and it carries the raising MHA
  bodies' records (audit event `RECORD_EVENT`).

Nothing here can be undone from Python: the registrations belong to a C++ library handle that
is kept alive with no Python reference (not listed by ``gc``, and ``gc`` is refused anyway); the
kernels take everything they use from their closures (no global or builtin name a learner could
rebind), and a Python object holding them cannot be reached. Native code (``ctypes``) can undo
any in-process measure; see the README's list of what cannot be closed.
"""

from __future__ import annotations

import ctypes
import math
import re
import sys
import types
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own name
from torch import nn

from selfcheck.forbidden import FORBIDDEN_NAMES, TORCH_DIR, forbidden_api

RECORD_EVENT = "autograder.forbidden_api"
PREPARE_EVENT = "autograder.prepare_ban"  # refused once a child is bound: no second, trusting set of kernels
REFUSED_EVENTS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                            "sys.setprofile", "sys._current_frames"})
# A new program (a fresh Python) would run without the ban: refused in a from-scratch step's child.
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.exec", "os.posix_spawn", "os.system"})
_REGISTERED = re.compile(r"^(\w+)(?:\[alias\])?: registered", re.MULTILINE)


def forbidden_ops() -> dict[str, str]:
    """``aten`` op name (with overload, without ``aten::``) -> the API shown, for every op torch has."""
    ops: dict[str, str] = {}
    for qualified in torch._C._dispatch_get_all_op_names():
        namespace, _, name = qualified.partition("::")
        if namespace == "aten" and name.partition(".")[0] in FORBIDDEN_NAMES:
            api = forbidden_api(name)
            if api is not None:
                ops[name] = api
    return ops


def kernel_keys(op: str) -> list[str]:
    """Every dispatch key (runtime or alias) ``aten::op`` has a kernel registered at."""
    keys = _REGISTERED.findall(torch._C._dispatch_dump(f"aten::{op}"))
    return [key for key in dict.fromkeys(keys) if key != "debug"]


def prepare_ban() -> None:  # noqa: C901 - the kernel is defined in here, so that its state is its closure's
    """Register the kernels and replace torch's Python MHA, once per process (the warm worker,
    before it forks; `install_ban` does it if nobody did). Until `install_ban` binds them, the
    kernels trust no caller and record nothing: every call raises.

    A kernel takes every name it uses from this function's scope: nothing a learner rebinds (a
    module global, ``builtins``) changes what it does, and a kernel's frame (in a traceback) shows
    only values, never a cell or a function that could rebind its state.
    """
    if _BINDERS or _PREPARED:
        return
    sys.audit(PREPARE_EVENT)
    _PREPARED.append(True)
    trusted: frozenset[types.CodeType] = frozenset()
    passthrough: frozenset[types.CodeType] = frozenset()
    record: Callable[[str], None] = _ignore
    bound = False
    getframe, torch_dir, error = sys._getframe, TORCH_DIR, RuntimeError
    sqrt, ones, where, softmax, dropout, boolean, inf = math.sqrt, torch.ones, torch.where, torch.softmax, \
        torch.dropout, torch.bool, float("-inf")

    def bind(trusted_code: frozenset[types.CodeType], passthrough_code: frozenset[types.CodeType],
             recorder: Callable[[str], None]) -> None:
        nonlocal trusted, passthrough, record, bound
        if bound:
            raise RuntimeError("the forbidden-API ban is bound already")
        trusted, passthrough, record, bound = trusted_code, passthrough_code, recorder, True

    def make_kernel(api: str, computes: bool) -> Callable[..., torch.Tensor]:
        """Records ``api`` and raises, unless the nearest caller outside torch (and the guard's
        frame) is trusted code and the op ``computes`` (SDPA: attention with plain ops)."""
        message = _message(api)

        def kernel(*args: object, **kwargs: object) -> torch.Tensor:
            """For trusted callers: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev)."""
            frame = getframe(1)
            while frame is not None and (frame.f_code.co_filename.startswith(torch_dir)
                                         or frame.f_code in passthrough):
                frame = frame.f_back
            if not computes or frame is None or frame.f_code not in trusted or not 3 <= len(args) <= 6:
                record(api)
                raise error(message)
            query, key, value, attn_mask, dropout_p, is_causal = (*args, *(None, 0.0, False)[len(args) - 3:])
            scale, enable_gqa = kwargs.get("scale"), kwargs.get("enable_gqa", False)
            if enable_gqa and query.dim() >= 3 and key.size(-3) != query.size(-3):
                repeats = query.size(-3) // key.size(-3)
                key, value = key.repeat_interleave(repeats, -3), value.repeat_interleave(repeats, -3)
            scores = (query @ key.transpose(-2, -1)) * (1.0 / sqrt(query.size(-1)) if scale is None else scale)
            if is_causal:
                scores = scores.masked_fill(~ones(query.size(-2), key.size(-2), dtype=boolean).tril(), inf)
            if attn_mask is not None:
                scores = where(attn_mask, scores, inf) if attn_mask.dtype == boolean else scores + attn_mask
            weights = softmax(scores, -1)
            if dropout_p > 0.0:
                weights = dropout(weights, dropout_p, True)
            return weights @ value

        return kernel

    library = torch._C._dispatch_library("IMPL", "aten", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Overriding a previously registered kernel": that is the point
        for op, api in forbidden_ops().items():
            kernel = make_kernel(api, op == "scaled_dot_product_attention")
            for key in kernel_keys(op):
                library.impl(op, key, kernel, False)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(library))  # lives for good, held by no Python object
    del library, kernel
    _replace_code(F.multi_head_attention_forward, FORBIDDEN_NAMES["multi_head_attention_forward"])
    _replace_code(nn.MultiheadAttention.forward, FORBIDDEN_NAMES["MultiheadAttention"])
    _BINDERS.append(bind)


def install_ban(trusted_code: frozenset[types.CodeType], passthrough_code: frozenset[types.CodeType],
                record: Callable[[str], None], refuse_processes: bool = False) -> None:
    """Bind the ban in this process for good (the sandboxed child, before any learner file runs).

    ``trusted_code``: the code objects whose SDPA calls are computed (the grader's stand-ins);
    ``passthrough_code``: frames that are neither the caller nor trusted (the torch-function
    guard's own); ``record(api)`` receives each refused call's API as shown to the learner.
    With ``refuse_processes`` (a from-scratch step) starting a program is refused and recorded
    (`PROCESS_EVENTS`: a fresh interpreter has no ban); ``os.fork`` is not (the fork keeps it).
    Once only: the binder is gone afterwards, so learner code cannot bind it again.
    """
    if not _PREPARED:
        prepare_ban()
    if not _BINDERS:
        raise RuntimeError("the forbidden-API ban is bound already")
    _BINDERS.pop()(trusted_code, passthrough_code, record)
    sys.addaudithook(_audit_hook(record, PROCESS_EVENTS if refuse_processes else frozenset()))
    globals().pop("prepare_ban", None)  # nothing left to make a trusting kernel with


_BINDERS: list[Callable[[frozenset, frozenset, Callable[[str], None]], None]] = []
_PREPARED: list[bool] = []


def _ignore(api: str) -> None:
    """The recorder until `install_ban` binds one."""


def _audit_hook(record: Callable[[str], None], processes: frozenset[str]) -> Callable[[str, tuple], None]:
    refused, event_name, error = REFUSED_EVENTS | {PREPARE_EVENT}, RECORD_EVENT, RuntimeError
    messages = types.MappingProxyType({api: _message(api) for api in FORBIDDEN_NAMES.values()})  # read-only

    def hook(event: str, args: tuple) -> None:
        if event == event_name and args and args[0] in messages:
            record(args[0])
            raise error(messages[args[0]])
        if event in refused:
            raise error(f"{event} is not available to submissions")
        if event in processes:
            record(f"{event} (a new program, outside the forbidden-API ban)")
            raise error(f"{event} is not available in a from-scratch step: a new program would run without "
                        "the forbidden-API ban")

    return hook


def _message(api: str) -> str:
    return f"{api} is forbidden here: this step must be implemented from scratch"


def _replace_code(function: types.FunctionType, api: str) -> None:
    """Make ``function`` (every reference to it) raise: its code becomes a body that records ``api``."""
    namespace: dict[str, object] = {}
    exec(f"def raising(*args, **kwargs):\n    __import__('sys').audit({RECORD_EVENT!r}, {api!r})\n"  # noqa: S102
         f"    raise RuntimeError({_message(api)!r})\n", namespace)
    function.__code__ = namespace["raising"].__code__  # type: ignore[attr-defined]
