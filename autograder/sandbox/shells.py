"""Earlier steps' API in the learner's child, as shells that ask the grader for answers.

The child holds no reference code. Each earlier-step API name is a **shell** built from the
description the grader sends with the step's plan (`sandbox.oracle.api_shapes`):

- a function is a proxy: its arguments go to the grader over the child's connection (an
  ``{"oracle": ...}`` message interleaved with the reply the grader is waiting for), the grader
  computes the reference's answer and the proxy returns it;
- a class is a real class (an ``nn.Module`` subclass for modules), so learner code can put its
  instances in an ``nn.ModuleList``, read ``.W_query`` or the ``mask`` buffer, subclass it and call
  ``super().__init__`` / ``super().forward``. Its ``__init__`` asks the grader to build the
  reference object and takes its state (parameters, buffers, plain attributes, submodules:
  `sandbox.objstate`); each method sends the object's current state and its arguments, and takes
  the answer and, if the method changed the object, its new state.

Every request carries the child's torch RNG state and the answer brings the state after the
grader's draws, so later draws in the child continue exactly as if the reference had drawn here.
A class keeps the learner's own non-API members of that class (helper methods, class attributes):
looking one up runs the learner's file of that step (`standins.LearnerPackage.learner_member`).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from selfcheck.plain import to_plain

from .objstate import CONTAINERS, apply_state, new_object, object_state
from .wire import WireError, decode_value, encode_value, recv_message, send_message

RAISABLE = (ArithmeticError, AssertionError, AttributeError, IndexError, KeyError, LookupError,
            NotImplementedError, RuntimeError, TypeError, ValueError)


class StandinError(RuntimeError):
    """The grader could not answer for a stand-in (a refused or malformed request)."""


class OracleClient:
    """The child's end of the oracle: one request at a time over the call server's connection."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.lock = threading.Lock()
        self.classes: dict[str, type] = {}  # API name -> its shell class
        self.find_member: Callable[[str, str, Any], bool] = lambda api, name, instance: False

    def ask(self, request: dict, args: tuple, kwargs: dict, owner: Any = None,
            result_class: type | None = None) -> Any:
        """Send ``request`` with the arguments (and ``owner``'s state); apply the answer; return its value."""
        if self.conn is None:
            raise StandinError("the grader's stand-ins are not available here")
        tensors: dict[str, torch.Tensor] = {}
        describe = self._describer(tensors)
        wrapped = to_plain((tuple(args), dict(kwargs)), _Passed)
        header = dict(request, args=encode_value(wrapped[0], tensors, describe),
                      kwargs=encode_value(wrapped[1], tensors, describe))
        if owner is not None and request.get("op") == "method":
            header["self"] = describe(_Passed(owner))
        tensors["rng"] = torch.get_rng_state()
        with self.lock:
            try:
                send_message(self.conn, {"oracle": header}, tensors)
                reply, reply_tensors = recv_message(self.conn)
            except WireError as error:
                raise StandinError(f"the grader's stand-in did not answer ({error})") from None
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise _exception(str(error.get("type", "")), str(error.get("message", "")))
        if "rng" in reply_tensors:
            torch.set_rng_state(reply_tensors["rng"])
        resolve = self._resolver(reply_tensors, result_class)
        changed = reply.get("self")
        if owner is not None and isinstance(changed, dict) and "object" in changed:
            state = decode_value(changed["object"], reply_tensors, resolve)  # the owner's state, its children rebuilt
            if not isinstance(state, dict):
                raise StandinError("malformed answer from the grader")
            apply_state(owner, state)
        return decode_value(reply.get("value"), reply_tensors, resolve)

    def _describer(self, tensors: dict[str, torch.Tensor]) -> Callable[[Any], dict]:
        def describe(passed: Any) -> dict:
            obj = passed.value if isinstance(passed, _Passed) else passed
            name = shell_name(type(obj))
            if name is None and isinstance(obj, nn.Module):
                name = type(obj).__name__ if type(obj) in CONTAINERS.values() else "Module"
            if name is None and hasattr(obj, "__array__"):  # a NumPy array or scalar, as torch.as_tensor takes it
                return encode_value(torch.as_tensor(obj), tensors, describe)
            if name is None:
                raise TypeError(f"the grader's stand-ins cannot take a {type(obj).__name__}")
            return {"$": "ref", "object": encode_value(object_state(obj, name), tensors, describe)}

        return describe

    def _resolver(self, tensors: dict[str, torch.Tensor], result_class: type | None) -> Callable[[dict], Any]:
        """Objects in an answer become shells (``result_class`` for its own API name: a classmethod's ``cls``)."""
        classes: dict[str, type] = dict(self.classes)
        if result_class is not None:
            classes[shell_name(result_class) or ""] = result_class

        def resolve(data: dict) -> Any:
            if data.get("$") != "handle" or "object" not in data:
                raise WireError("unexpected object in the grader's answer")
            state = decode_value(data["object"], tensors, resolve)
            if not isinstance(state, dict):
                raise WireError("malformed object in the grader's answer")
            return new_object(state, classes)

        return resolve


class _Passed:
    """Marks an object passed to a stand-in (it travels as its state)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


CLIENT = OracleClient()


def _exception(type_name: str, message: str) -> BaseException:
    """The exception the grader reported, as a builtin of that name when it is one learner code may catch."""
    cls = getattr(builtins, type_name, None)
    if isinstance(cls, type) and issubclass(cls, RAISABLE):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - an unusual constructor
            pass
    return StandinError(message)


def shell_name(cls: type) -> str | None:
    """The API name of the shell ``cls`` is or derives from (None: not a shell)."""
    for base in getattr(cls, "__mro__", ()):
        name = base.__dict__.get("_oracle_name")
        if isinstance(name, str):
            return name
    return None


class ShellType(type):
    """The metaclass of shell classes: a class-level lookup may find the learner's own member of that class."""

    def __getattr__(cls, name: str) -> Any:
        if not name.startswith("__") and _learner_member(cls, name):
            return type.__getattribute__(cls, name)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


def _learner_member(cls: type, name: str, instance: Any = None) -> bool:
    """True once ``name``, the learner's own member of that API class, is on the shell (or on ``instance``)."""
    api = shell_name(cls)
    shell = CLIENT.classes.get(api or "")
    if api is None or shell is None or not CLIENT.find_member(api, name, instance):
        return False
    return name in shell.__dict__ or (instance is not None and name in vars(instance))


def _module_getattr(self: nn.Module, name: str) -> Any:
    try:
        return nn.Module.__getattr__(self, name)
    except AttributeError:
        if name.startswith("__") or not _learner_member(type(self), name, self):
            raise
    return object.__getattribute__(self, name)


def _object_getattr(self: object, name: str) -> Any:
    if not name.startswith("__") and _learner_member(type(self), name, self):
        return object.__getattribute__(self, name)
    raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _function(api: str) -> Callable[..., Any]:
    def standin(*args: Any, **kwargs: Any) -> Any:
        return CLIENT.ask({"op": "call", "name": api}, args, kwargs)

    return standin


def _constructor(api: str, module: bool) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - the shell's constructor
        if module:
            nn.Module.__init__(self)
        vars(self)["_oracle_args"] = (args, kwargs)  # for the learner's own attributes of its __init__
        CLIENT.ask({"op": "new", "name": api}, args, kwargs, owner=self)

    return __init__


def _method(api: str, method: str) -> Callable[..., Any]:
    def proxy(self: Any, *args: Any, **kwargs: Any) -> Any:
        return CLIENT.ask({"op": "method", "name": api, "method": method}, args, kwargs, owner=self)

    return proxy


def _classmethod(api: str, method: str) -> Callable[..., Any]:
    def proxy(cls: type, *args: Any, **kwargs: Any) -> Any:
        return CLIENT.ask({"op": "classmethod", "name": api, "method": method}, args, kwargs, result_class=cls)

    return proxy


def _staticmethod(api: str, method: str) -> Callable[..., Any]:
    def proxy(*args: Any, **kwargs: Any) -> Any:
        return CLIENT.ask({"op": "static", "name": api, "method": method}, args, kwargs)

    return proxy


def _named(function: Callable[..., Any], api: str, member: str) -> Callable[..., Any]:
    function.__name__, function.__qualname__ = member, f"{api}.{member}"
    return function


def make_shell(api: str, module_name: str, shape: Mapping[str, Any]) -> Any:
    """The shell for one API name of the earlier step ``module_name``, from its description."""
    qualified = f"attention.{module_name}"
    doc = f"The grader's stand-in for {api} (step {module_name}): its answers come from the grader."
    kind = shape.get("kind")
    if kind == "function":
        function = _function(api)
        function.__name__ = function.__qualname__ = api
        function.__module__ = qualified
        function.__doc__ = doc
        return function
    module = kind == "module"
    namespace: dict[str, Any] = {"__module__": qualified, "__qualname__": api, "__doc__": doc, "_oracle_name": api,
                                 "__init__": _named(_constructor(api, module), api, "__init__"),
                                 "__getattr__": _module_getattr if module else _object_getattr}
    for method in shape.get("methods", ()):
        namespace[method] = _named(_method(api, method), api, method)
    for method in shape.get("classmethods", ()):
        namespace[method] = classmethod(_named(_classmethod(api, method), api, method))
    for method in shape.get("staticmethods", ()):
        namespace[method] = staticmethod(_named(_staticmethod(api, method), api, method))
    cls = ShellType(api, (nn.Module,) if module else (), namespace)
    CLIENT.classes[api] = cls
    return cls


def make_standins(plan: Mapping[str, tuple[str, ...]], shapes: Mapping[str, Mapping[str, Any]]
                  ) -> dict[str, dict[str, Any]]:
    """Earlier step's module -> its API name -> shell, for the step's plan."""
    return {module: {api: make_shell(api, module, shapes[api]) for api in names} for module, names in plan.items()}
