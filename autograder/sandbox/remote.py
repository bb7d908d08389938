"""The trusted side of the sandbox: the zygote's client, step sessions, `RemoteSubject`.

A `StepSession` is one confined child serving one learner module. Checks talk to it through a
`RemoteSubject`, the same interface `selfcheck.LocalSubject` offers in-process: every call is a
request with a deadline; results come back as plain data. When the child hangs, crashes or
exits, the call raises `CallFailed` with a learner-facing message and the session is dead; the
engine starts a fresh one for the next check. While it waits for a reply, the session answers
the questions of the child's stand-ins for earlier steps with its `Oracle` (`sandbox.oracle`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from selfcheck.errors import CallFailed, CheckFailed, LearnerError, learner_error
from selfcheck.subject import CallRecord, Handle, Subject

from .oracle import MAX_REQUESTS_PER_CALL, Oracle, api_shapes
from .wire import WireError, WireTimeout, decode_value, encode_value, recv_message, send_message
from .worker import SandboxError as SandboxError  # re-exported: the worker client lives in .worker
from .worker import Zygote


class Budget:
    """The time left for one submission."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise CallFailed(f"not run: this submission used up its time budget of {self.seconds:g} s")


class Timings:
    """Wall seconds the grader spends in each phase of the sandbox, summed over its lanes (`bench` prints them).

    ``spawn``: the worker forks a child; ``start``: the child builds the stand-ins, confines
    itself and imports the step's module; ``calls``: round trips into learner code; ``cleanup``:
    the worker kills the child's process tree; ``checks``: whole checks (their calls included).
    """

    PHASES = ("spawn", "start", "calls", "cleanup", "checks")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = dict.fromkeys(self.PHASES, 0.0)
        self.counts = dict.fromkeys(self.PHASES, 0)

    def add(self, phase: str, since: float) -> None:
        """Count the time from ``since`` (a `time.perf_counter` reading) to now for ``phase``."""
        elapsed = time.perf_counter() - since
        with self._lock:
            self.seconds[phase] += elapsed
            self.counts[phase] += 1


TIMINGS = Timings()


@dataclass
class SessionSpec:
    """Everything the zygote needs to start a child for one step."""

    package_dir: str
    module: str
    standins: dict[str, tuple[str, ...]]
    step_ids: dict[str, str]
    workdir: str
    output_path: str
    memory_bytes: int
    cpu_seconds: int
    output_bytes: int
    uid: int | None = None
    hidden_paths: tuple[str, ...] = ()
    from_scratch: bool = False  # course.yml: the child refuses to start programs (no way round the ban)

    def request(self) -> dict:
        return {
            "plan": {"package_dir": self.package_dir, "module": self.module,
                     "standins": {k: list(v) for k, v in self.standins.items()}, "step_ids": self.step_ids,
                     "from_scratch": self.from_scratch,
                     "shapes": api_shapes(name for names in self.standins.values() for name in names)},
            "confinement": {"memory_bytes": self.memory_bytes, "cpu_seconds": self.cpu_seconds,
                            "output_bytes": self.output_bytes, "uid": self.uid,
                            "hidden_paths": list(self.hidden_paths)},
            "output": self.output_path,
            "workdir": self.workdir,
        }


@dataclass
class ImportFailure:
    """The step's module raised while being imported."""

    type_name: str
    message: str
    where: str | None


@dataclass
class StepSession:
    """One confined child serving one learner module."""

    zygote: Zygote
    spec: SessionSpec
    call_seconds: float
    budget: Budget
    pid: int | None = None
    conn: socket.socket | None = None
    import_failure: ImportFailure | None = None
    isolation: list[str] = field(default_factory=list)
    forbidden: set[str] = field(default_factory=set)
    dead: bool = False
    # api name -> the child's answer to its lookup (a handle's description, or None: not defined), shared by
    # the checks this child serves: each looks a name up once per child, not once per check
    api_answers: dict[str, Any] = field(default_factory=dict)
    oracle: Oracle | None = None  # answers the child's stand-ins (earlier steps' API names)

    def start(self) -> None:
        """Fork the child and wait until it has imported the module (raises `CallFailed`)."""
        self.budget.check()
        self.oracle = Oracle(name for names in self.spec.standins.values() for name in names)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        started = time.perf_counter()
        try:
            self.pid = self.zygote.spawn(self.spec.request(), theirs)
        finally:
            theirs.close()
        TIMINGS.add("spawn", started)
        self.conn = ours
        started = time.perf_counter()
        header, _ = self._receive(f"importing attention/{self.spec.module}.py")
        TIMINGS.add("start", started)
        self.isolation = list(header.get("isolation", []))
        self.forbidden.update(header.get("forbidden", []))
        if not header.get("ready"):
            error = header.get("error") or {}
            self.import_failure = ImportFailure(
                str(error.get("type", "Exception")), str(error.get("message", "")), error.get("where")
            )

    def request(self, header: dict, tensors: dict[str, torch.Tensor], what: str) -> tuple[dict, dict]:
        """Send one request and wait for its reply within the call and submission limits."""
        if self.dead or self.conn is None:
            raise CallFailed(f"{what} was not run: the process running your code had already ended")
        self.budget.check()
        started = time.perf_counter()
        try:
            send_message(self.conn, header, tensors)
        except OSError:
            self._fail(what, None)
        try:
            return self._receive(what)
        finally:
            TIMINGS.add("calls", started)

    def _receive(self, what: str) -> tuple[dict, dict]:
        """The reply to the request in flight; meanwhile, answer the child's stand-ins (`sandbox.oracle`)."""
        assert self.conn is not None
        limit = min(self.call_seconds, max(self.budget.remaining(), 0.0))
        deadline = time.monotonic() + limit
        asked = 0
        while True:
            try:
                reply = recv_message(self.conn, deadline)
            except WireTimeout:
                self.close()
                if limit < self.call_seconds:
                    raise CallFailed(
                        f"{what} was stopped: this submission used up its time budget of {self.budget.seconds:g} s"
                    ) from None
                raise CallFailed(
                    f"{what} did not finish within {self.call_seconds:g} s (an infinite loop, or far too slow?)"
                ) from None
            except WireError:
                self._fail(what, None)
            if "oracle" not in reply[0]:
                break
            asked += 1
            if asked > MAX_REQUESTS_PER_CALL or self.oracle is None:
                self.close()
                raise CallFailed(f"{what} was stopped: it asked the stand-ins of earlier steps more than "
                                 f"{MAX_REQUESTS_PER_CALL:,} times in one call")
            answer, tensors = self.oracle.answer(reply[0]["oracle"], reply[1])
            self.conn.settimeout(max(deadline - time.monotonic(), 0.001))  # a child that stops reading
            try:
                send_message(self.conn, answer, tensors)
            except TimeoutError:
                self.close()
                raise CallFailed(f"{what} did not finish within {self.call_seconds:g} s (it stopped reading "
                                 "the answers of the stand-ins it asked)") from None
            except OSError:
                self._fail(what, None)
            finally:
                if not self.dead:
                    self.conn.settimeout(None)
        self.forbidden.update(reply[0].get("forbidden", []) or [])
        return reply

    def _fail(self, what: str, _: Any) -> None:
        status = self.close(ended=True) or "ended"
        if "signal" in status:
            reason = "it may have used too much memory or CPU time, or killed itself"
        else:
            reason = "does your code call sys.exit or os._exit, or kill a process?"
        raise CallFailed(f"the process running your code ended during {what} ({status}): {reason}")

    def output_capped(self) -> bool:
        """True when learner code printed as much as the output limit allows (more was refused)."""
        try:
            return os.path.getsize(self.spec.output_path) >= self.spec.output_bytes
        except OSError:
            return False

    def close(self, ended: bool = False) -> str | None:
        """Kill the child and everything it started; returns how it ended.

        ``ended``: its connection closed, so it is exiting (let it finish, to tell how it ended)."""
        if self.dead:
            return None
        self.dead = True
        if self.conn is not None:
            self.conn.close()
        if self.pid is None:
            return None
        started = time.perf_counter()
        try:
            return self.zygote.release(self.pid, ended=ended)
        finally:
            TIMINGS.add("cleanup", started)


class RemoteHandle(Handle):
    """A handle to an object living in a sandboxed child."""

    def __init__(self, subject: RemoteSubject, data: dict, label: str) -> None:
        super().__init__(subject, label, str(data.get("type_name", "?")),
                         tuple(str(n) for n in data.get("mro", [])), bool(data.get("is_class")))
        self._h_id = int(data["id"])
        self._h_session = subject.session

    def _h_request(self, op: str, label: str, **fields: Any) -> tuple[dict, Any]:
        subject: RemoteSubject = self._h_subject  # type: ignore[assignment]
        if self._h_session is not subject.session:
            raise CallFailed(f"{label} was not run: its object belonged to a process that has ended")
        return subject.request(dict(fields, op=op, id=self._h_id), label)

    def _h_call(self, args: tuple, kwargs: dict, label: str) -> Any:
        tensors: dict[str, torch.Tensor] = {}
        header, value = self._h_request(
            "call", label,
            args=encode_value(list(args), tensors, _reference),
            kwargs=encode_value(dict(kwargs), tensors, _reference),
            _tensors=tensors,
            _result_label=self._h_result_label(label),
        )
        self._h_subject.last_call = CallRecord(label, tuple(str(m) for m in header.get("modified", [])))
        return value

    def _h_getattr(self, name: str) -> Any:
        label = f"{self.type_name}.{name}"
        header, value = self._h_request("getattr", label, name=name, _result_label=label)
        if header.get("missing"):
            raise CheckFailed(f"{self.type_name} has no attribute `{name}`")
        return value

    def _h_len(self) -> int:
        _, value = self._h_request("len", f"len({self.type_name})")
        return int(value)

    def _h_getitem(self, key: Any) -> Any:
        label = f"{self.type_name}[{key!r}]"
        tensors: dict[str, torch.Tensor] = {}
        _, value = self._h_request("getitem", label, key=encode_value(key, tensors, _reference), _tensors=tensors,
                                   _result_label=label)
        return value

    def _h_tensors(self, kind: str) -> dict[str, torch.Tensor]:
        _, value = self._h_request(kind, f"{self.type_name}.named_{kind}()")
        return dict(value)

    def _h_load(self, values: dict[str, torch.Tensor]) -> list[str]:
        label = f"{self.type_name}: setting its parameters"
        _, value = self._h_request("load", label, _tensors=dict(values))
        return [str(problem) for problem in value] if isinstance(value, list) else ["the child's answer was not a list"]


def _reference(value: Any) -> dict:
    if isinstance(value, RemoteHandle):
        return {"$": "ref", "id": value._h_id}
    raise CheckFailed(f"internal: cannot send a {type(value).__name__} to learner code")


class RemoteSubject(Subject):
    """A step's learner code running in a `StepSession`."""

    def __init__(self, step: str, origin: str, session: StepSession) -> None:
        super().__init__(step, origin)
        self.session = session

    def request(self, header: dict, label: str) -> tuple[dict, Any]:
        tensors = header.pop("_tensors", {})
        result_label = header.pop("_result_label", label)
        reply, reply_tensors = self.session.request(header, tensors, label)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raised = learner_error(str(error.get("type", "Exception")), str(error.get("message", "")),
                                   error.get("where"))
            raised.api_name = label
            raise self.note_error(raised)
        try:
            value = decode_value(reply.get("value"), reply_tensors,
                                 lambda data: RemoteHandle(self, data, result_label))
        except WireError as error:
            raise CallFailed(f"{label}: the grader could not read the result ({error})") from None
        return reply, value

    def manual_seed(self, seed: int) -> None:
        self.request({"op": "seed", "seed": int(seed)}, "torch.manual_seed")

    @contextmanager
    def fresh_randomness(self, seed: int) -> Iterator[None]:
        """Seed torch, ``random`` and NumPy in the child before a check (`Subject.fresh_randomness`)."""
        try:
            self.request({"op": "seed", "seed": int(seed), "everything": True}, "torch.manual_seed")
        except (CallFailed, LearnerError):
            pass  # a process that has ended: the check's own first call says so
        yield

    def standin(self, name: str) -> Handle:
        """The grader's stand-in for ``name``, an earlier step's API, in the learner's process."""
        reply, value = self.request({"op": "standin", "name": name}, name)
        if reply.get("missing"):
            raise RuntimeError(f"internal: no stand-in {name!r} for step {self.step!r}")
        return value

    def _lookup_api(self, name: str) -> Handle | None:
        if name not in self.session.api_answers:
            reply, _ = self.request({"op": "api", "name": name}, name)
            self.session.api_answers[name] = None if reply.get("missing") else reply.get("value")
        answer = self.session.api_answers[name]
        if answer is None:
            return None
        try:
            return decode_value(answer, {}, lambda data: RemoteHandle(self, data, name))
        except WireError as error:
            raise CallFailed(f"{name}: the grader could not read the result ({error})") from None
