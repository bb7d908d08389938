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
is charged a bound of its output before it runs, so a request that would allocate too much is
refused before it does: `WorkBudget`). A refused or failing request becomes an exception raised in the child
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
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from autograder import reference
from autograder.rng import isolated
from selfcheck.errors import shorten

from .objstate import CONTAINERS, StateError, new_object, object_state
from .wire import decode_value, encode_value

MAX_REQUESTS_PER_CALL = 2_000  # oracle requests while the grader waits for one reply
MAX_ELEMENTS = 1 << 21  # tensor elements one request may carry
MAX_WORK_ELEMENTS = 1 << 21  # elements the torch operations of one answer may produce, in total
MAX_OPERATIONS = 2_000  # torch operations of one answer
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


class WorkBudget(TorchFunctionMode):
    """Refuses a computation before it allocates more than its share.

    Each torch function is charged, before it runs, a bound of the elements it produces, from its
    arguments' sizes (`_planned`); after it runs, what it really produced. (A dispatch mode or the
    ``meta`` device would be exact, but their first use imports parts of torch that take seconds.)
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.elements = 0
        self.operations = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        self.operations += 1
        if self.operations > MAX_OPERATIONS:
            raise OracleRefused(f"the grader's stand-in for {self.name} would run too many operations")
        self._check(self.elements + _planned(getattr(func, "__name__", ""), args, kwargs))
        result = func(*args, **kwargs)
        self.elements += _numel(result)
        self._check(self.elements)
        return result

    def _check(self, elements: int) -> None:
        if elements > MAX_WORK_ELEMENTS:
            raise OracleRefused(f"the grader's stand-in for {self.name} works on at most "
                                f"{MAX_WORK_ELEMENTS:,} tensor elements per call")


_FACTORIES = {"rand", "randn", "ones", "zeros", "empty", "full", "randint", "eye", "tril_indices", "triu_indices"}
_MATRIX_PRODUCTS = {"matmul", "__matmul__", "__rmatmul__", "mm", "bmm"}


def _numel(value: Any) -> int:
    return sum(leaf.numel() for leaf in tree_flatten(value)[0] if isinstance(leaf, torch.Tensor))


def _product(values: Iterable[Any]) -> int:
    total = 1
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            total *= max(abs(value), 1)
    return total


def _planned(name: str, args: tuple, kwargs: dict) -> int:
    """A bound of the elements the torch function ``name`` produces from ``args`` (see `WorkBudget`).

    Factories: the product of their sizes; matrix products, ``einsum``, ``linear``, ``embedding`` and
    attention: their output (and attention's weights); anything else: the broadcast of its tensor
    inputs or their sum, whichever is larger (elementwise operations, softmax, masks, ``cat``)."""
    tensors = [leaf for leaf in tree_flatten((args, kwargs))[0] if isinstance(leaf, torch.Tensor)]
    if name in _FACTORIES:
        sizes = args[0] if len(args) == 1 or name == "full" else args[:2] if name.endswith("_indices") else args
        sizes = list(sizes) if isinstance(sizes, (tuple, list)) else [sizes]
        if name == "eye" and len(sizes) == 1:
            sizes = sizes * 2
        return 2 * _product(sizes) if name.endswith("_indices") else _product(sizes)
    if not tensors:
        return 0
    if name in _MATRIX_PRODUCTS and len(tensors) >= 2:
        left, right = (tensors[1], tensors[0]) if name == "__rmatmul__" else (tensors[0], tensors[1])
        return max(left.numel() // max(left.shape[-1], 1), 1) * max(right.numel() // max(right.shape[0], 1), 1)
    if name == "einsum":
        return _einsum_size(args)
    if name == "linear" and len(tensors) >= 2:
        return tensors[0].numel() // max(tensors[0].shape[-1], 1) * tensors[1].shape[0]
    if name == "embedding" and len(tensors) >= 2:
        return tensors[0].numel() * tensors[1].shape[-1]
    if name == "scaled_dot_product_attention" and len(tensors) >= 3:
        rows = max(t.numel() // max(t.shape[-1], 1) for t in tensors[:3])  # batch x queries, at most
        return rows * (2 * tensors[1].shape[-2] + tensors[2].shape[-1])
    rank = max(t.dim() for t in tensors)
    broadcast = _product(max((t.shape[i - rank + t.dim()] if i - rank + t.dim() >= 0 else 1) for t in tensors)
                         for i in range(rank))  # torch.broadcast_shapes imports sympy (seconds) on first use
    return max(broadcast, sum(t.numel() for t in tensors))


def _einsum_size(args: tuple) -> int:
    """The product of every label's size (``...`` counts its largest dimensions): bounds any result."""
    operands = [a for a in tree_flatten(args[1:])[0] if isinstance(a, torch.Tensor)]
    equation = args[0] if args and isinstance(args[0], str) else ""
    sizes: dict[str, int] = {}
    for spec, operand in zip(equation.split("->")[0].split(","), operands, strict=False):
        labels = spec.strip().replace("...", "")
        batch = operand.shape[: operand.dim() - len(labels)]
        sizes["..."] = max(sizes.get("...", 1), batch.numel())
        for label, size in zip(labels, operand.shape[operand.dim() - len(labels):], strict=False):
            sizes[label] = max(sizes.get(label, 1), size)
    return _product(sizes.values()) if sizes else sum(t.numel() for t in operands)
