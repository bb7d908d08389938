"""Turn whatever learner code returns into plain data that checks can trust.

The same conversion runs in-process (pytest, notebooks) and in the grader's sandbox child
(before results are encoded for the wire), so a check sees identical values in both.

Plain data is: ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``, ``tuple``, ``dict``
and detached ``torch.Tensor`` copies. A tensor keeps what checks may ask about: its dtype,
whether it is an ``nn.Parameter``, ``requires_grad``, and (attribute ``_returned_type``) the
name of a Tensor subclass it was returned as. Subclasses of ``int``, ``str``, ``list`` ... are
converted to the exact builtin, so an object whose ``__eq__`` always says yes compares as what
it really holds. Anything else becomes a handle, made by the caller's ``make_handle``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

MAX_ITEMS = 1_000_000  # a result with more items than this is refused, not copied

TENSOR_DTYPES = (
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool,
)


class ResultTooLarge(ValueError):
    """A learner result is too large to copy."""


def qualified_name(cls: type) -> str:
    """``torch.nn.modules.module.Module`` style name of a class."""
    module = getattr(cls, "__module__", None) or "?"
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    return f"{module}.{name}"


def plain_tensor(value: torch.Tensor) -> torch.Tensor:
    """A detached, contiguous CPU copy of ``value`` that keeps Parameter-ness and requires_grad."""
    cls = type(value)
    with torch._C.DisableTorchFunctionSubclass():
        base = torch.Tensor.as_subclass(value, torch.Tensor)
        requires_grad = bool(base.requires_grad)
        data = base.detach()
        if data.layout != torch.strided:
            data = data.to_dense()
        if data.dtype not in TENSOR_DTYPES:
            raise TypeError(f"returned a tensor of dtype {data.dtype}, which checks do not accept")
        if data.numel() > MAX_ITEMS:
            raise ResultTooLarge(f"returned a tensor of {data.numel():,} elements")
        data = data.resolve_conj().resolve_neg().to("cpu").clone().contiguous()
    return rebuild_tensor(
        data,
        parameter=issubclass(cls, nn.Parameter),
        requires_grad=requires_grad,
        returned_type=None if cls in (torch.Tensor, nn.Parameter) else qualified_name(cls),
    )


def rebuild_tensor(
    data: torch.Tensor, *, parameter: bool, requires_grad: bool, returned_type: str | None
) -> torch.Tensor:
    """The plain form of a tensor from its data and metadata (the wire decoder uses this too)."""
    can_grad = data.is_floating_point()
    if parameter:
        data = nn.Parameter(data, requires_grad=requires_grad and can_grad)
    elif requires_grad and can_grad:
        data.requires_grad_(True)
    if returned_type is not None:
        data._returned_type = returned_type
    return data


def to_plain(value: Any, make_handle: Callable[[Any], Any], _budget: list[int] | None = None) -> Any:
    """Plain data for ``value``; objects that are not plain data go through ``make_handle``."""
    budget = [MAX_ITEMS] if _budget is None else _budget
    budget[0] -= 1
    if budget[0] < 0:
        raise ResultTooLarge(f"returned more than {MAX_ITEMS:,} items")
    if value is None or value is True or value is False:
        return value
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__getitem__(value, slice(None))
    if isinstance(value, torch.Tensor):
        return plain_tensor(value)
    if isinstance(value, torch.Size):
        return tuple(int.__index__(v) for v in tuple.__iter__(value))
    if isinstance(value, (list, tuple)):
        iterate = list.__iter__ if isinstance(value, list) else tuple.__iter__
        items = [to_plain(v, make_handle, budget) for v in iterate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {to_plain(k, make_handle, budget): to_plain(v, make_handle, budget) for k, v in dict.items(value)}
    numpy_scalar = _numpy_scalar(value)
    if numpy_scalar is not None:
        return numpy_scalar
    return make_handle(value)


def _numpy_scalar(value: Any) -> Any:
    """``int``/``float``/``bool`` for a numpy scalar, else ``None`` (numpy is not required)."""
    if type(value).__module__ != "numpy":
        return None
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is installed with torch here
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        result = float(value)
        return result if not math.isnan(result) else float("nan")
    return None


# Whether a call changed its tensor arguments in place (used in-process and in the sandbox child)

def tensors_in(args: tuple, kwargs: dict) -> Iterator[tuple[str, torch.Tensor]]:
    """(description, tensor) for every tensor among the arguments, nested lists included."""

    def walk(value: Any, name: str) -> Iterator[tuple[str, torch.Tensor]]:
        if isinstance(value, torch.Tensor):
            yield name, value
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from walk(item, name)
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item, name)

    for index, arg in enumerate(args, start=1):
        yield from walk(arg, f"argument {index}")
    for key, arg in kwargs.items():
        yield from walk(arg, f"argument `{key}`")


def same_tensor(tensor: torch.Tensor, snapshot: torch.Tensor) -> bool:
    """Same shape, dtype and values (NaN counts as equal to NaN)."""
    current = tensor.detach()
    if current.shape != snapshot.shape or current.dtype != snapshot.dtype:
        return False
    if current.is_floating_point():
        return bool(((current == snapshot) | (current.isnan() & snapshot.isnan())).all())
    return bool(torch.equal(current, snapshot))


def copy_into_parameters(module: Any, values: dict[str, torch.Tensor]) -> list[str]:
    """Copy ``values`` into ``module``'s parameters of those names (``named_parameters()`` names).

    The grader's own weights, so a forward check computes its expected value from weights it chose,
    never from weights the module reports. Runs where the module lives (in-process, or in the
    sandbox child for the ``load`` request). Returns what could not be loaded (a missing name, another
    shape), one line each, for the check to report; an empty list when every value was copied.
    """
    if not isinstance(module, nn.Module):
        return [f"a {type(module).__name__} is not an nn.Module"]
    named = dict(nn.Module.named_parameters(module))
    problems = []
    for name, value in values.items():
        target = named.get(name)
        if not isinstance(target, torch.Tensor):
            problems.append(f"it has no parameter `{name}`")
        elif tuple(target.shape) != tuple(value.shape):
            problems.append(f"`{name}` has shape {tuple(target.shape)}, expected {tuple(value.shape)}")
        else:
            target.detach().copy_(value.to(target.dtype))  # in place, outside autograd
    return problems
