"""Hostile: hunt the child's memory for the grader's reference code, hidden checks or expected values
(inspect, dis, __code__, co_consts, closures, gc, frames, tracebacks, sys.modules, importlib) and put
whatever it finds into an error message."""
import dis
import gc
import importlib
import inspect
import io
import sys
import types
import traceback

import torch
from attention_solution_kv_cache import *  # noqa: F401,F403 - replaced by the fixture with the solution

import attention.causal_attention as causal_attention
import attention.self_attention as self_attention

GRADER = ("autograder/reference", "autograder/hidden", "autograder.reference", "autograder.hidden")


def _every_object() -> list:
    """gc's list of objects, or (gc refused) a walk from every module through module globals, classes,
    functions (code, globals, closures) and containers, without touching any other object's attributes."""
    try:
        return gc.get_objects()
    except RuntimeError:
        pass
    seen: dict[int, object] = {}
    todo = list(sys.modules.values())
    while todo and len(seen) < 300_000:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        try:
            if type(obj) is dict:
                todo += list(dict.values(obj))
            elif type(obj) in (list, tuple, set, frozenset):
                todo += list(obj)
            elif isinstance(obj, types.ModuleType):
                todo += list(dict.values(types.ModuleType.__dict__["__dict__"].__get__(obj)))
            elif inspect.isfunction(obj):
                todo += [obj.__code__, obj.__globals__, *(c.cell_contents for c in obj.__closure__ or ())]
            elif isinstance(obj, type):
                todo += [*dict(type.__dict__["__dict__"].__get__(obj)).values(), *type.__subclasses__(obj)]
        except Exception:  # noqa: BLE001
            pass
    return list(seen.values())


def _suspicious(text):
    return any(marker in str(text) for marker in GRADER)


def _code_text(code):
    """A code object's bytecode listing, constants and names, and those of the code inside it."""
    out = io.StringIO()
    try:
        dis.dis(code, file=out)
    except Exception as error:  # noqa: BLE001
        out.write(repr(error))
    return f"{code.co_filename} {code.co_consts!r} {code.co_names!r} {out.getvalue()}"


def hunt():
    found, looked = [], 0
    standins = [getattr(module, name) for module in (causal_attention, self_attention)
                for name in ("CausalSelfAttention", "token_output", "SelfAttention") if hasattr(module, name)]
    for obj in standins:  # the stand-ins themselves: source, bytecode, constants, closures, globals
        members = [obj] + [v for v in vars(obj).values() if callable(v)] if isinstance(obj, type) else [obj]
        for member in members:
            function = getattr(member, "__func__", member)
            looked += 1
            try:  # (the learner's own file, run for a helper, is the learner's: only the grader's counts)
                if _suspicious(inspect.getsourcefile(function)):
                    found.append("SOURCE " + inspect.getsource(function))
            except Exception:  # noqa: BLE001
                pass
            code = getattr(function, "__code__", None)
            if code is not None and _suspicious(_code_text(code)):
                found.append("CODE " + _code_text(code))
            for cell in getattr(function, "__closure__", None) or ():
                try:
                    inside = cell.cell_contents
                    if _suspicious(repr(inside)) or _suspicious(getattr(inside, "__module__", "")):
                        found.append("CLOSURE " + repr(inside))
                except ValueError:
                    pass
            if any(_suspicious(getattr(v, "__module__", "")) for v in getattr(function, "__globals__", {}).values()):
                found.append("GLOBALS of " + repr(function))
    for obj in _every_object():  # every function and code object, every module's globals, in the process
        looked += 1
        try:
            code = obj if inspect.iscode(obj) else obj.__code__ if inspect.isfunction(obj) else None
            if code is not None and _suspicious(code.co_filename):
                found.append("GC " + _code_text(code)[:3000])
            elif type(obj) is dict and "__builtins__" in obj and _suspicious(dict.get(obj, "__name__", "")):
                found.append("GC module globals " + str(dict.get(obj, "__name__")))
        except Exception:  # noqa: BLE001
            pass
    found += ["SYS.MODULES " + name for name in sys.modules if _suspicious(name)]
    for name in ("autograder.reference", "autograder.reference.steps.causal_attention", "autograder.hidden",
                 "autograder.hidden.kv_cache"):
        try:
            module = importlib.import_module(name)
            found.append("IMPORTED " + name + " " + repr(sorted(vars(module))))
        except Exception:  # noqa: BLE001
            pass
    frame = sys._getframe()
    while frame is not None:  # every frame up the stack
        looked += 1
        if _suspicious(frame.f_code.co_filename) or any(_suspicious(getattr(v, "__module__", ""))
                                                       for v in frame.f_locals.values()):
            found.append("FRAME " + frame.f_code.co_filename)
        frame = frame.f_back
    try:  # a stand-in that fails: its traceback
        causal_attention.CausalSelfAttention(3, 2, 2, 4)(torch.ones(9, 3))
    except Exception:  # noqa: BLE001
        text = traceback.format_exc()
        if _suspicious(text):
            found.append("TRACEBACK " + text)
    return looked, found


def decode_step(attn, x_t, cache):
    looked, found = hunt()
    raise RuntimeError(f"HUNT-DONE looked at {looked} objects; found {len(found)}: " + " | ".join(found)[:1500])
