"""What runs inside the sandboxed child, after `isolation.confine`.

1. The forbidden-API guard (`sandbox.guard`, with the dispatcher ban of `sandbox.ban`) refuses
   and notes every call to torch's attention shortcuts that learner code makes, by whatever
   route (no code in the child is the grader's reference, so nothing in it is trusted).
2. The ``attention`` package (`sandbox.standins`): the step under test, helper modules and later
   steps are the learner's files; the modules of earlier steps are shells (`sandbox.shells`) for
   their API names, which ask the grader for the reference's answers over the call server's
   connection, and the learner's own file for anything else.
3. The call server answers the grader's requests (look up an API, call, read an attribute,
   ``len``, a module's parameters, load the grader's own weights into them, seed the RNG) with
   plain data and handles.

Nothing here compares results, knows the expected values or holds reference code; that is the
parent's job.
"""

from __future__ import annotations

import os
import random
import sys
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from selfcheck.errors import learner_location
from selfcheck.plain import copy_into_parameters, qualified_name, same_tensor, tensors_in, to_plain

from .guard import ChildGuard
from .shells import CLIENT, make_standins
from .standins import LearnerPackage
from .wire import WireError, decode_value, encode_value, recv_message, send_message


@dataclass(frozen=True)
class StepPlan:
    """Which learner module to serve, and the stand-ins for the earlier steps."""

    package_dir: str
    module: str
    standins: dict[str, tuple[str, ...]]  # module name -> api names, for earlier steps
    step_ids: dict[str, str]  # module name -> step id (for stand-ins)
    from_scratch: bool = False  # the step's forbidden APIs are banned, and so is starting a program
    shapes: dict[str, dict] = field(default_factory=dict)  # api name -> its shell's description (`oracle.api_shapes`)


class _GraderImportBlocker:
    """Refuses to import any grader module that is not already loaded (meta path finder)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == "autograder" or fullname.startswith("autograder."):
            raise ImportError(f"{fullname} is not available to submissions")
        return None


@dataclass
class _ChildState:
    package: LearnerPackage


_state: _ChildState | None = None


def build_package(plan: StepPlan) -> types.ModuleType:
    """Register ``attention`` with the earlier steps' stand-in modules (`sandbox.standins`).

    Runs before confinement. The stand-ins are shells (`sandbox.shells`): no reference code is
    imported. Then any further import of the grader's modules is refused. No learner file runs here.
    """
    global _state
    learner_package = LearnerPackage(plan.package_dir, make_standins(plan.standins, plan.shapes))
    CLIENT.find_member = learner_package.learner_member
    package = learner_package.build()
    _state = _ChildState(learner_package)
    sys.meta_path.insert(0, _GraderImportBlocker())
    return package


class CallServer:
    """Answers the grader's requests about one learner module."""

    def __init__(self, conn: Any, plan: StepPlan, guard: ChildGuard, isolation: list[str]) -> None:
        self.conn = conn
        CLIENT.conn = conn  # the shells' questions to the grader go over the same connection
        self.isolation = isolation
        self.plan = plan
        self.guard = guard
        self.objects: dict[int, Any] = {}
        self.module: types.ModuleType | None = None
        self.learner_dir = os.path.realpath(plan.package_dir) + os.sep

    # -- handles --------------------------------------------------------------------------
    def describe(self, obj: Any) -> dict:
        if not isinstance(obj, _Opaque):
            raise TypeError(f"cannot send a {type(obj).__name__}")
        value = obj.value
        key = len(self.objects) + 1
        self.objects[key] = value
        cls = value if isinstance(value, type) else type(value)
        try:
            mro = [qualified_name(c) for c in type.mro(cls)]
        except TypeError:
            mro = [qualified_name(cls)]
        return {"$": "handle", "id": key, "type_name": getattr(cls, "__name__", "?"), "mro": mro,
                "is_class": isinstance(value, type)}

    def resolve(self, data: dict) -> Any:
        if data.get("$") != "ref" or data.get("id") not in self.objects:
            raise WireError("unknown object reference")
        return self.objects[data["id"]]

    def reply_value(self, value: Any, extra: dict | None = None) -> None:
        tensors: dict[str, torch.Tensor] = {}
        plain = to_plain(value, _Opaque)
        header = {"ok": True, "value": encode_value(plain, tensors, self.describe), "forbidden": self.guard.take()}
        header.update(extra or {})
        send_message(self.conn, header, tensors)

    def reply_error(self, exc: BaseException) -> None:
        send_message(self.conn, {"ok": False, "error": self.error_data(exc), "forbidden": self.guard.take()})

    def error_data(self, exc: BaseException) -> dict:
        try:
            message = str(exc)
        except BaseException:  # noqa: BLE001 - a learner __str__ that raises
            message = "(the exception's message could not be shown)"
        where = learner_location(exc.__traceback__, self.is_learner_file)
        if isinstance(exc, SyntaxError) and exc.filename and self.is_learner_file(exc.filename):
            where = f"{os.path.basename(exc.filename)}, line {exc.lineno}"
            message = exc.msg or message
        notes = ""
        if isinstance(exc, (ImportError, AttributeError, NameError)) and _state is not None:
            notes = _state.package.failure_notes(message)  # a helper's module that could not be run
        return {"type": type(exc).__name__, "message": message[:2000] + notes[:2000], "where": where}

    def is_learner_file(self, filename: str) -> bool:
        return os.path.realpath(filename).startswith(self.learner_dir)

    # -- requests ---------------------------------------------------------------------------
    def import_step(self) -> None:
        try:
            self.module = __import__(f"attention.{self.plan.module}", fromlist=["_"])
        except BaseException as exc:  # noqa: BLE001 - learner code at import time
            send_message(self.conn, {"ready": False, "error": self.error_data(exc), "forbidden": self.guard.take(),
                                     "isolation": self.isolation})
            return
        send_message(self.conn, {"ready": True, "forbidden": self.guard.take(), "isolation": self.isolation})

    def serve(self) -> None:
        while True:
            try:
                request, tensors = recv_message(self.conn)
            except WireError:
                return
            op = request.get("op")
            if op == "bye":
                return
            try:
                self.handle(op, request, tensors)
            except WireError:
                return

    def handle(self, op: str, request: dict, tensors: dict[str, torch.Tensor]) -> None:
        if op == "api":
            name = request["name"]
            if self.module is None or not hasattr(self.module, name):
                send_message(self.conn, {"ok": True, "missing": True, "forbidden": []})
                return
            handle = self.describe(_Opaque(getattr(self.module, name)))  # always a handle, as in-process
            send_message(self.conn, {"ok": True, "value": handle, "forbidden": self.guard.take()})
            return
        if op == "standin":  # an earlier step's stand-in, e.g. a CausalSelfAttention for the KV-cache checks
            name = str(request["name"])
            owner = next((m for m, api in self.plan.standins.items() if name in api), None)
            if owner is None:
                send_message(self.conn, {"ok": True, "missing": True, "forbidden": []})
                return
            obj = getattr(sys.modules[f"attention.{owner}"], name)
            send_message(self.conn, {"ok": True, "value": self.describe(_Opaque(obj)), "forbidden": []})
            return
        if op == "seed":
            torch.manual_seed(int(request["seed"]))
            if request.get("everything"):  # a check's fresh start: Python's and NumPy's generators too
                random.seed(int(request["seed"]))
                if "numpy" in sys.modules:
                    sys.modules["numpy"].random.seed(int(request["seed"]) % 2**32)
            self.reply_value(None)
            return
        target = self.resolve({"$": "ref", "id": request.get("id")})
        try:
            if op == "call":
                args = decode_value(request.get("args", []), tensors, self.resolve)
                kwargs = decode_value(request.get("kwargs", {"$": "dict", "items": []}), tensors, self.resolve)
                watched = list(tensors_in(tuple(args), kwargs))
                snapshots = [t.detach().clone() for _, t in watched]
                result = target(*args, **kwargs)
                modified = [name for (name, t), snap in zip(watched, snapshots, strict=True)
                            if not same_tensor(t, snap)]
                self.reply_value(result, {"modified": modified})
            elif op == "getattr":
                name = str(request["name"])
                if not hasattr(target, name):
                    send_message(self.conn, {"ok": True, "missing": True, "forbidden": self.guard.take()})
                    return
                self.reply_value(getattr(target, name))
            elif op == "getitem":
                self.reply_value(target[decode_value(request.get("key"), tensors, self.resolve)])
            elif op == "len":
                self.reply_value(int.__index__(len(target)))
            elif op in ("parameters", "buffers"):
                named = nn.Module.named_parameters if op == "parameters" else nn.Module.named_buffers
                self.reply_value({name: t for name, t in named(target)})
            elif op == "load":  # the grader's own weights into a module's parameters (forward checks)
                self.reply_value(copy_into_parameters(target, dict(tensors)))
            else:
                raise WireError(f"unknown request {op!r}")
        except WireError:
            raise
        except BaseException as exc:  # noqa: BLE001 - learner code raised (SystemExit included)
            self.reply_error(exc)


class _Opaque:
    """Marks a learner object that must travel as a handle."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def run_child(conn: Any, plan: StepPlan, isolation: list[str]) -> None:
    """Entry point in the child after `build_package` and confinement: guard, import, serve; never returns."""
    status = 0
    try:
        guard = ChildGuard(frozenset())  # the child holds no reference code: nothing in it is trusted
        guard.install(refuse_processes=plan.from_scratch)
        if _state is not None:
            _state.package.quiet = guard.suspended
        server = CallServer(conn, plan, guard, isolation)
        server.import_step()
        if server.module is not None:
            server.serve()
    except BaseException:  # noqa: BLE001 - report and exit; the parent sees the closed socket
        status = 70
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(status)
