"""The trusted end of the stand-ins: answers a child's questions about earlier steps with `autograder.reference`.

A child serving step k holds only shells of steps 1..k-1 (`sandbox.shells`). While the grader waits
for the reply to one of its own requests, the child may send ``{"oracle": request}`` messages;
`StepSession` hands each to its `Oracle`, which computes the reference's answer here and replies.
Requests (``name`` is an earlier step's API name, arguments are wire values, objects travel as
their state, `sandbox.objstate`; every request carries the child's torch RNG state as tensor
``rng``):

- ``call``: ``name(*args, **kwargs)`` for a function;
- ``new``: build ``name(*args, **kwargs)``; the answer is the object's state (``self``);
- ``method``: ``name.<method>(self, *args, **kwargs)`` on the object rebuilt from ``self``; the answer
  brings ``self``'s new state when the method changed it;
- ``classmethod`` / ``static``: ``name.<method>(*args, **kwargs)``.

The child is hostile, so each request is bounded before and while it runs: tensor elements and
objects it may carry, and a budget of torch operations and the elements they may produce (each
operation is first run on the ``meta`` device, so a request that would allocate too much is
refused before it does). A refused or failing request becomes an exception raised in the child
(its type when it is a builtin one, its message), never an error of the grader. Draws happen
under `autograder.rng.isolated`, from the child's RNG state, never the grader's.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from autograder import reference
from autograder.rng import isolated
from selfcheck.errors import shorten

from .objstate import CONTAINERS, StateError, new_object, object_state
from .wire import decode_value, encode_value

MAX_REQUESTS_PER_CALL = 20_000  # oracle requests while the grader waits for one reply
MAX_ELEMENTS = 1 << 21  # tensor elements one request may carry
MAX_WORK_ELEMENTS = 1 << 21  # elements the torch operations of one answer may produce, in total
MAX_OPERATIONS = 10_000  # torch operations of one answer
MAX_OBJECTS = 512  # objects (modules) one request may carry
MAX_DEPTH = 6  # nesting of objects in one request
MAX_ANSWER_ITEMS = 1 << 16  # values in one answer (a list of pairs counts each number)
RNG_STATE = torch.get_rng_state()


class OracleRefused(ValueError):
    """A request the grader will not compute (too large, malformed, not an earlier step's API)."""


@functools.cache
def _shape(name: str) -> dict[str, Any]:
    obj = getattr(reference, name)
    if not isinstance(obj, type):
        return {"kind": "function"}
    found: dict[str, list[str]] = {"methods": [], "classmethods": [], "staticmethods": []}
    for klass in obj.__mro__:
        if klass in (object, nn.Module):
            break
        for member, value in vars(klass).items():
            if member in ("__init__", "__new__") or (member.startswith("_") and not member.startswith("__")):
                continue
            kind = ("classmethods" if isinstance(value, classmethod) else "staticmethods"
                    if isinstance(value, staticmethod) else "methods" if inspect.isfunction(value) else None)
            if kind is not None and not any(member in names for names in found.values()):
                found[kind].append(member)
    return {"kind": "module" if issubclass(obj, nn.Module) else "object", **found}


def api_shapes(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """What the child needs to build each API name's shell: a function, or a class and its methods."""
    return {name: _shape(name) for name in names}


class Oracle:
    """Answers one child's requests about the API names of the earlier steps (and nothing else)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.objects = {name: getattr(reference, name) for name in names}
        self.classes = {name: obj for name, obj in self.objects.items() if isinstance(obj, type)}
        self.class_names = {cls: name for name, cls in self.classes.items()}
        self.requests = 0  # in the current wait; `StepSession` resets it

    def answer(self, request: Any, tensors: dict[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
        """The reply to one request: ``{"ok": True, "value": ..., "self": ...}`` or ``{"ok": False, "error": ...}``."""
        try:
            return self._answer(request, tensors)
        except Exception as error:  # noqa: BLE001 - anything the request makes happen is the child's error
            kind = type(error).__name__
            if not isinstance(getattr(builtins, kind, None), type) or isinstance(error, OracleRefused):
                kind = "ValueError" if isinstance(error, (OracleRefused, StateError)) else "RuntimeError"
            try:
                message = str(error)
            except Exception:  # noqa: BLE001
                message = ""
            return {"ok": False, "error": {"type": kind, "message": shorten(message, 500)}}, {}

    def _answer(self, request: Any, tensors: dict[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
        if not isinstance(request, dict):
            raise OracleRefused("malformed request to the grader's stand-ins")
        op, name = request.get("op"), request.get("name")
        if not isinstance(name, str) or name not in self.objects:
            raise OracleRefused(f"{name!r} is not an earlier step's function or class")
        rng = tensors.pop("rng", None)
        if (not isinstance(rng, torch.Tensor) or rng.dtype != RNG_STATE.dtype
                or rng.shape != RNG_STATE.shape):
            raise OracleRefused("the request carries no valid RNG state")
        if sum(t.numel() for t in tensors.values()) > MAX_ELEMENTS:
            raise OracleRefused(f"the grader's stand-in for {name} takes at most {MAX_ELEMENTS:,} tensor elements")
        rebuild = _Rebuilder(self.classes, tensors)
        args = decode_value(request.get("args", []), tensors, rebuild)
        kwargs = decode_value(request.get("kwargs", {"$": "dict", "items": []}), tensors, rebuild)
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict) or not all(
                isinstance(k, str) for k in kwargs):
            raise OracleRefused("malformed arguments")
        target, owner = self._target(op, name, request.get("method"), request, rebuild, tensors)
        before = _fingerprint(owner) if owner is not None else None

        def run() -> tuple[Any, torch.Tensor]:
            torch.set_rng_state(rng)
            with WorkBudget(name):
                result = target(*args, **kwargs) if owner is None else target(owner, *args, **kwargs)
            return result, torch.get_rng_state()

        result, rng_after = isolated(run)
        reply_tensors: dict[str, torch.Tensor] = {}
        describe = self._describer(reply_tensors)
        header: dict[str, Any] = {"ok": True}
        if op == "new":
            header["value"] = None
            header["self"] = describe(result)
        else:
            header["value"] = encode_value(result, reply_tensors, describe)
            if owner is not None and _fingerprint(owner) != before:
                header["self"] = describe(owner)
        if _count_items(header) > MAX_ANSWER_ITEMS or sum(t.numel() for t in reply_tensors.values()) > MAX_ELEMENTS:
            raise OracleRefused(f"the answer of the grader's stand-in for {name} is too large to send")
        if not torch.equal(rng_after, rng):
            reply_tensors["rng"] = rng_after
        return header, reply_tensors

    def _target(self, op: Any, name: str, method: Any, request: dict, rebuild: _Rebuilder,
                tensors: dict[str, torch.Tensor]) -> tuple[Any, Any]:
        """The reference callable for ``op``, and the object it is called on (``method`` only)."""
        obj = self.objects[name]
        if op == "call" and not isinstance(obj, type):
            return obj, None
        if op == "new" and isinstance(obj, type):
            return obj, None
        shape = _shape(name)
        kinds = {"method": "methods", "classmethod": "classmethods", "static": "staticmethods"}
        if not isinstance(obj, type) or op not in kinds or method not in shape.get(kinds[op], ()):
            raise OracleRefused(f"{name} has no {op} {method!r} the grader answers for")
        if op != "method":
            return getattr(obj, method), None
        owner = decode_value(request.get("self"), tensors, rebuild)
        if not isinstance(owner, obj):
            raise OracleRefused(f"{name}.{method} must be called on a {name}")
        return inspect.getattr_static(obj, method), owner

    def _describer(self, tensors: dict[str, torch.Tensor]) -> Any:
        def describe(value: Any) -> dict:
            name = self.class_names.get(type(value))
            if name is None and isinstance(value, nn.Module):
                name = type(value).__name__ if type(value) in CONTAINERS.values() else "Module"
            if name is None:
                raise OracleRefused(f"the grader's stand-in returned a {type(value).__name__}, which cannot be sent")
            return {"$": "handle", "object": encode_value(object_state(value, name), tensors, describe)}

        return describe


class _Rebuilder:
    """The wire decoder's hook for objects in a request: rebuilds them from their state, within bounds."""

    def __init__(self, classes: dict[str, type], tensors: dict[str, torch.Tensor]) -> None:
        self.classes = classes
        self.tensors = tensors
        self.count = 0
        self.depth = 0

    def __call__(self, data: dict) -> Any:
        self.count += 1
        if data.get("$") != "ref" or not isinstance(data.get("object"), dict):
            raise OracleRefused("malformed object in the request")
        if self.count > MAX_OBJECTS or self.depth >= MAX_DEPTH:
            raise OracleRefused(f"a request may carry at most {MAX_OBJECTS} objects, nested {MAX_DEPTH} deep")
        self.depth += 1
        try:
            state = decode_value(data["object"], self.tensors, self)
        finally:
            self.depth -= 1
        if not isinstance(state, dict):
            raise OracleRefused("malformed object in the request")
        return new_object(state, self.classes)


def _fingerprint(obj: Any) -> Any:
    """What a method may change on ``obj``: which tensors (and their versions) and plain values it holds."""
    state = object_state(obj, "")
    leaves, _ = tree_flatten({key: value for key, value in state.items() if key != "modules"})
    children = [_fingerprint(child) for child in state.get("modules", {}).values()]
    return [(id(v), v._version) if isinstance(v, torch.Tensor) else repr(v) for v in leaves], children


def _count_items(value: Any) -> int:
    """Leaves of a JSON-able value (iteratively; stops counting past the cap)."""
    stack, count = [value], 0
    while stack and count <= MAX_ANSWER_ITEMS:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            count += 1
    return count


class WorkBudget(TorchDispatchMode):
    """Refuses a computation before it allocates more than its share (each op is first run on ``meta``)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.elements = 0
        self.operations = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise OracleRefused(f"the grader's stand-in for {self.name} would run too many operations")
        try:
            planned = self._charge(func(*_on_meta(args), **_on_meta(kwargs, factory=not _has_tensor(args))))
        except OracleRefused:
            raise
        except Exception:  # noqa: BLE001 - no meta kernel (data-dependent shapes, .item()): charged after
            planned = False
        result = func(*args, **kwargs)
        if not planned:
            self._charge(result)
        return result

    def _charge(self, result: Any) -> bool:
        leaves, _ = tree_flatten(result)
        self.elements += sum(t.numel() for t in leaves if isinstance(t, torch.Tensor))
        if self.elements > MAX_WORK_ELEMENTS:
            raise OracleRefused(f"the grader's stand-in for {self.name} works on at most "
                                f"{MAX_WORK_ELEMENTS:,} tensor elements per call")
        return True


def _has_tensor(args: tuple) -> bool:
    return any(isinstance(leaf, torch.Tensor) for leaf in tree_flatten(args)[0])


def _on_meta(value: Any, factory: bool = False) -> Any:
    """``value`` with every tensor on the meta device (and, for a factory call, ``device="meta"``)."""
    moved = tree_map(lambda v: v.to("meta") if isinstance(v, torch.Tensor) else
                     torch.device("meta") if isinstance(v, torch.device) else v, value)
    if factory and isinstance(moved, dict):
        moved["device"] = torch.device("meta")
    return moved
