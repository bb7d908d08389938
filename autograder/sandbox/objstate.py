"""The state of a module or object as plain data, and objects rebuilt from it (both sides of the oracle).

An earlier step's class crosses between the learner's child and the grader as its **state**, never
as code: ``{"class": API name | "ModuleList" | "Module" ..., "kind": "module" | "object",
"parameters": {...}, "buffers": {...}, "transient": [non-persistent buffer names],
"attributes": {public plain attributes}, "modules": {name: sub-object}}``. The child builds it
from a stand-in shell (or any module learner code passes) and applies the grader's answer to
its shells; the grader rebuilds reference objects from it (`sandbox.oracle`), where every name
is checked first (`check_name`), since the child's side is hostile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

CONTAINERS: dict[str, type[nn.Module]] = {"ModuleList": nn.ModuleList, "ModuleDict": nn.ModuleDict,
                                          "Sequential": nn.Sequential}
MAX_NAME = 64
MAX_PLAIN_ITEMS = 256  # items of a list or tuple attribute
_PLAIN_SCALARS = (bool, int, float, str, type(None))


class StateError(ValueError):
    """A state that cannot be applied: a bad name, an unknown class, a value of the wrong kind."""


def is_plain(value: Any, depth: int = 0) -> bool:
    """True for None, bool, int, float, str, a tensor, or a short list/tuple of those."""
    if type(value) in _PLAIN_SCALARS or isinstance(value, torch.Tensor):
        return True
    if type(value) in (list, tuple) and depth < 2 and len(value) <= MAX_PLAIN_ITEMS:
        return all(is_plain(item, depth + 1) for item in value)
    return False


def object_state(obj: Any, class_name: str) -> dict[str, Any]:
    """The state of ``obj`` (a module: its own parameters, buffers, children, plain attributes)."""
    attributes = {name: value for name, value in vars(obj).items()
                  if not name.startswith("_") and name != "training" and is_plain(value)}
    if not isinstance(obj, nn.Module):
        return {"class": class_name, "kind": "object", "attributes": attributes}
    return {
        "class": class_name,
        "kind": "module",
        "parameters": {name: p for name, p in obj.named_parameters(recurse=False)},
        "buffers": {name: b for name, b in obj.named_buffers(recurse=False)},
        "transient": sorted(name for name in obj._non_persistent_buffers_set if name in obj._buffers),
        "attributes": attributes,
        "modules": {name: m for name, m in obj.named_children()},
    }


def check_name(obj: Any, name: Any, container: bool = False) -> str:
    """``name`` if it may be set on ``obj``: a public identifier its class does not define."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        raise StateError("an attribute name must be a short string")
    if container and name.isdigit():
        return name
    if not name.isidentifier() or name.startswith("_") or name == "training" or hasattr(type(obj), name):
        raise StateError(f"cannot set attribute {name!r}")
    return name


def new_object(state: Mapping[str, Any], classes: Mapping[str, type]) -> Any:
    """An object of ``classes[state["class"]]`` (or a container, or a plain ``nn.Module``), built
    without running its ``__init__``, with ``state`` applied."""
    name = state.get("class")
    kind = state.get("kind")
    cls = classes.get(name) if isinstance(name, str) else None
    if cls is None and kind == "module":
        cls = CONTAINERS.get(name, nn.Module) if isinstance(name, str) else nn.Module
    if cls is None or (kind == "module") != issubclass(cls, nn.Module):
        raise StateError(f"cannot rebuild an object of class {name!r}")
    obj = cls.__new__(cls)
    if kind == "module":
        nn.Module.__init__(obj)
    apply_state(obj, state)
    return obj


def apply_state(obj: Any, state: Mapping[str, Any], rebuild: Callable[[Any], Any] | None = None) -> None:
    """Set ``state``'s parameters, buffers, children and attributes on ``obj`` (replacing same-named ones).

    Children must already be objects (the wire decoder rebuilds them); ``rebuild`` may convert them."""
    container = type(obj).__name__ in CONTAINERS and isinstance(obj, tuple(CONTAINERS.values()))
    if isinstance(obj, nn.Module):
        for name, value in _items(state, "parameters"):
            if not isinstance(value, torch.Tensor):
                raise StateError(f"parameter {name!r} is not a tensor")
            _replace(obj, name, container)
            obj.register_parameter(name, value if isinstance(value, nn.Parameter)
                                   else nn.Parameter(value, requires_grad=value.is_floating_point()))
        transient = set(state.get("transient") or ())
        for name, value in _items(state, "buffers"):
            if not isinstance(value, torch.Tensor):
                raise StateError(f"buffer {name!r} is not a tensor")
            _replace(obj, name, container)
            obj.register_buffer(name, value.detach(), persistent=name not in transient)
        for name, value in _items(state, "modules"):
            value = rebuild(value) if rebuild is not None else value
            if not isinstance(value, nn.Module):
                raise StateError(f"submodule {name!r} is not a module")
            _replace(obj, name, container)
            obj.add_module(name, value)
    for name, value in _items(state, "attributes"):
        _replace(obj, name, False)
        if not is_plain(value):
            raise StateError(f"attribute {name!r} is not plain data")
        setattr(obj, name, value)


def _items(state: Mapping[str, Any], key: str) -> list[tuple[Any, Any]]:
    part = state.get(key) or {}
    if not isinstance(part, Mapping):
        raise StateError(f"{key} must be a mapping")
    return list(part.items())


def _replace(obj: Any, name: Any, container: bool) -> None:
    """Check ``name`` and free it on ``obj`` (a registered parameter, buffer, child or attribute)."""
    if isinstance(obj, nn.Module):
        for registry in (obj._parameters, obj._buffers, obj._modules):
            if name in registry:
                del registry[name]
                return
    if isinstance(name, str) and name in vars(obj):
        delattr(obj, name)
    check_name(obj, name, container)
