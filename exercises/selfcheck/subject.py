"""The learner's code as checks see it: plain data and handles.

A check never touches learner objects directly. It calls ``subject.<api name>(...)`` and gets
plain data back (see `selfcheck.plain`) or a `Handle` for anything else (a module, a cache, a
bound method). `LocalSubject` runs the code in this process; the grader's `RemoteSubject`
runs it in a sandboxed child process. Both record, for every call, whether the call changed
a tensor argument in place (`Subject.last_call`).

Every call into learner code made here runs under `selfcheck.time_limit.time_limit`: a call that
does not finish within `CALL_SECONDS` fails its check with "... did not finish within N s", as in
the grader, instead of hanging ``pytest`` or the notebook.
"""

from __future__ import annotations

import os
import random
import sys
import types
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .errors import CallFailed, CheckFailed, LearnerError, NotImplementedYet, learner_error, learner_location
from .plain import copy_into_parameters, plain_tensor, qualified_name, same_tensor, tensors_in, to_plain
from .time_limit import CALL_SECONDS, TimeLimitReached, stopped_in, time_limit, too_slow_message

MODULE_CLASS = "torch.nn.modules.module.Module"


@dataclass
class CallRecord:
    """What the last call into learner code did to its arguments."""

    label: str
    modified_args: tuple[str, ...] = ()


class Handle:
    """A learner object that is not plain data. Call it, read attributes, take ``len()``.

    ``type_name`` is the class name (of the object, or of the class itself when the object is
    a class); ``mro_names`` are qualified names of that class's MRO; ``is_class`` tells which.
    """

    def __init__(
        self, subject: Subject, label: str, type_name: str, mro_names: tuple[str, ...], is_class: bool
    ) -> None:
        self._h_subject = subject
        self._h_label = label
        self.type_name = type_name
        self.mro_names = mro_names
        self.is_class = is_class

    # -- the operations a backend implements ---------------------------------------------
    def _h_call(self, args: tuple, kwargs: dict, label: str) -> Any:
        """Call the object; ``label`` names the call in messages (``SelfAttention.forward``)."""
        raise NotImplementedError

    def _h_getattr(self, name: str) -> Any:
        raise NotImplementedError

    def _h_len(self) -> int:
        raise NotImplementedError

    def _h_getitem(self, key: Any) -> Any:
        raise NotImplementedError

    def _h_tensors(self, kind: str) -> dict[str, torch.Tensor]:
        """``named_parameters()`` (kind ``"parameters"``) or ``named_buffers()`` of a module."""
        raise NotImplementedError

    def _h_load(self, values: dict[str, torch.Tensor]) -> list[str]:
        """Copy ``values`` into the module's parameters of those names (`selfcheck.plain.copy_into_parameters`)."""
        raise NotImplementedError

    # -- Python protocol -------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        calls_forward = not self.is_class and self.is_a(MODULE_CLASS)
        return self._h_call(args, kwargs, f"{self._h_label}.forward" if calls_forward else self._h_label)

    def _h_result_label(self, call_label: str) -> str:
        """Label of what a call returned: an instance is named by its class."""
        return self.type_name if self.is_class else call_label

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name.startswith("_h_"):
            raise AttributeError(name)
        return self._h_getattr(name)

    def __len__(self) -> int:
        return self._h_len()

    def __getitem__(self, key: Any) -> Any:
        """``handle[key]`` (e.g. ``wrapper.heads[0]``); iteration works through it too."""
        return self._h_getitem(key)

    def __repr__(self) -> str:
        return f"<learner {self.type_name} {'class' if self.is_class else 'object'}>"

    def is_a(self, qualified: str) -> bool:
        """True when the object (or class) has ``qualified`` in its MRO."""
        return qualified in self.mro_names

    def has_base_named(self, name: str) -> bool:
        """True when a class named ``name`` (any module) is in the MRO."""
        return any(q.rsplit(".", 1)[-1] == name for q in self.mro_names)


def is_module(value: Any) -> bool:
    """True for a handle of an ``nn.Module`` instance (not the class)."""
    return isinstance(value, Handle) and not value.is_class and value.is_a(MODULE_CLASS)


def parameters(module: Any) -> dict[str, torch.Tensor]:
    """``dict(module.named_parameters())`` as plain tensors; fails the check for a non-module."""
    return _module_tensors(module, "parameters")


def buffers(module: Any) -> dict[str, torch.Tensor]:
    """``dict(module.named_buffers())`` as plain tensors; fails the check for a non-module."""
    return _module_tensors(module, "buffers")


def load_parameters(module: Any, values: dict[str, torch.Tensor], what: str) -> None:
    """Set ``module``'s parameters (``named_parameters()`` names) to the checker's own ``values``.

    Forward checks load their own draws this way and compute the expected output from them, so the
    verdict never rests on weights the learner's module reports. Fails the check, naming ``what``,
    when a parameter is missing or has another shape.
    """
    if not is_module(module):
        raise CheckFailed(f"expected an nn.Module instance, got {describe_value(module)}")
    problems = module._h_load({name: value.detach().to(torch.float32).clone() for name, value in values.items()})
    if problems:
        raise CheckFailed(f"{what}: the checker could not set its own weights: {'; '.join(map(str, problems[:3]))}")


def _module_tensors(module: Any, kind: str) -> dict[str, torch.Tensor]:
    if not is_module(module):
        raise CheckFailed(f"expected an nn.Module instance, got {describe_value(module)}")
    return module._h_tensors(kind)


def describe_value(value: Any) -> str:
    """A short description of a plain value or handle, for messages (no values shown)."""
    if isinstance(value, Handle):
        return f"a {value.type_name} {'class' if value.is_class else 'object'}"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


class Subject:
    """The learner's code for one step. ``subject.<api name>`` is a handle to that object."""

    def __init__(self, step: str, origin: str) -> None:
        self.step = step
        self.origin = origin  # "attention/tokens.py" or "the notebook"
        self.last_call: CallRecord | None = None
        self.not_implemented: LearnerError | None = None  # the first NotImplementedError learner code raised
        self._api_handles: dict[str, Handle] = {}

    def note_error(self, error: LearnerError) -> LearnerError:
        """Remember an unfinished step (NotImplementedError), however the check handles the error."""
        if isinstance(error, NotImplementedYet) and self.not_implemented is None:
            self.not_implemented = error
        return error

    def _lookup_api(self, name: str) -> Handle | None:
        raise NotImplementedError

    def manual_seed(self, seed: int) -> None:
        """``torch.manual_seed(seed)`` in the process where the learner code runs.

        Use it right before constructing a learner module whose parameter draws a check
        compares: ``subject.manual_seed(123); attn = subject.SelfAttention(3, 2, 4)``.
        """
        raise NotImplementedError

    @contextmanager
    def fresh_randomness(self, seed: int) -> Iterator[None]:
        """Around one check: the learner's process starts it with random state fixed by ``seed``.

        So a check's verdict never depends on what an earlier check (or the learner's code in it)
        left in the global generators: torch, Python's ``random`` and NumPy, in the learner's process
        (the grader's subject seeds its sandbox child). `LocalSubject` puts all three back as they
        were afterwards. This base version seeds torch only; a process that has already ended is left
        for the check's own first call to report.
        """
        try:
            self.manual_seed(seed)
        except (CallFailed, LearnerError):
            pass
        yield

    def __getattr__(self, name: str) -> Handle:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._api_handles:
            handle = self._lookup_api(name)
            if handle is None:
                raise CheckFailed(f"{self.origin} does not define `{name}`")
            self._api_handles[name] = handle
        return self._api_handles[name]


# ---------------------------------------------------------------------------------------
# In-process backend
# ---------------------------------------------------------------------------------------

_SELFCHECK_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    os.path.realpath(p)
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
)


def is_local_learner_file(filename: str) -> bool:
    """Learner code in this process: not the checks, not the standard library or site-packages."""
    if filename.startswith("<frozen") or filename.startswith("<string"):
        return False
    path = os.path.realpath(filename)
    if path.startswith(_SELFCHECK_DIR) or "site-packages" in path:
        return False
    return not path.startswith(_LIBRARY_DIRS) or "ipykernel" in path


class LocalHandle(Handle):
    """A handle to an object that lives in this process."""

    def __init__(self, subject: Subject, obj: Any, label: str) -> None:
        cls = obj if isinstance(obj, type) else type(obj)
        super().__init__(
            subject,
            label,
            type_name=cls.__name__,
            mro_names=tuple(qualified_name(c) for c in type.mro(cls)),
            is_class=isinstance(obj, type),
        )
        self._h_obj = obj

    def _h_wrap(self, value: Any, label: str) -> Any:
        return to_plain(value, lambda obj: LocalHandle(self._h_subject, obj, label))

    def _h_call(self, args: tuple, kwargs: dict, label: str) -> Any:
        real_args = tuple(_unwrap(a) for a in args)
        real_kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        before = list(tensors_in(real_args, real_kwargs))
        snapshots = [t.detach().clone() for _, t in before]
        try:
            with self._h_subject.limited(label):
                result = self._h_obj(*real_args, **real_kwargs)
        except (KeyboardInterrupt, CheckFailed, CallFailed):
            raise
        except BaseException as exc:  # noqa: BLE001 - any learner exception becomes data
            raise self._h_subject.note_error(_local_error(exc, label)) from exc
        modified = tuple(name for (name, t), snap in zip(before, snapshots, strict=True) if not same_tensor(t, snap))
        self._h_subject.last_call = CallRecord(label, modified)
        return self._h_wrap(result, self._h_result_label(label))

    def _h_getattr(self, name: str) -> Any:
        try:
            with self._h_subject.limited(f"{self.type_name}.{name}"):
                value = getattr(self._h_obj, name)
        except CallFailed:
            raise
        except AttributeError:
            raise CheckFailed(f"{self.type_name} has no attribute `{name}`") from None
        except BaseException as exc:  # noqa: BLE001 - a property that raises
            raise self._h_subject.note_error(_local_error(exc, f"{self.type_name}.{name}")) from exc
        return self._h_wrap(value, f"{self.type_name}.{name}")

    def _h_len(self) -> int:
        try:
            with self._h_subject.limited(f"len({self.type_name})"):
                return int.__index__(len(self._h_obj))
        except CallFailed:
            raise
        except TypeError as exc:
            raise CheckFailed(f"len() of a {self.type_name} failed: {exc}") from None
        except BaseException as exc:  # noqa: BLE001
            raise self._h_subject.note_error(_local_error(exc, f"len({self.type_name})")) from exc

    def _h_getitem(self, key: Any) -> Any:
        label = f"{self.type_name}[{key!r}]"
        try:
            with self._h_subject.limited(label):
                value = self._h_obj[_unwrap(key)]
        except CallFailed:
            raise
        except BaseException as exc:  # noqa: BLE001 - IndexError ends iteration, as it should
            raise self._h_subject.note_error(_local_error(exc, label)) from exc
        return self._h_wrap(value, label)

    def _h_tensors(self, kind: str) -> dict[str, torch.Tensor]:
        named = nn.Module.named_parameters if kind == "parameters" else nn.Module.named_buffers
        return {name: plain_tensor(t) for name, t in named(self._h_obj)}

    def _h_load(self, values: dict[str, torch.Tensor]) -> list[str]:
        label = f"{self.type_name}: setting its parameters"
        try:
            with self._h_subject.limited(label):
                return copy_into_parameters(self._h_obj, values)
        except CallFailed:
            raise
        except BaseException as exc:  # noqa: BLE001 - a learner tensor subclass that raises on copy_
            raise self._h_subject.note_error(_local_error(exc, label)) from exc


class LocalSubject(Subject):
    """Learner code in this process: a module's namespace or a notebook's globals.

    ``too_slow`` remembers, by call label (``encode``, ``SelfAttention.forward``), the calls that
    ran out of time. Share one mapping between the subjects of a step's checks (``conftest.py``
    does) and a later check fails at once on a call that already timed out, instead of waiting
    for the limit again. ``timed_out`` is the message of this subject's call that ran out of time.
    """

    def __init__(
        self,
        step: str,
        namespace: Mapping[str, Any],
        origin: str,
        *,
        too_slow: MutableMapping[str, str] | None = None,
        seconds: float = CALL_SECONDS,
        guard: AbstractContextManager[Any] | None = None,
    ) -> None:
        super().__init__(step, origin)
        self._namespace = namespace
        self.guard = guard
        self.too_slow: MutableMapping[str, str] = {} if too_slow is None else too_slow
        self.seconds = seconds
        self.timed_out: str | None = None
        self.stuck_file: str | None = None  # the learner file a call that ran out of time was running

    @classmethod
    def from_module(cls, step: str, module: types.ModuleType, **options: Any) -> LocalSubject:
        filename = os.path.basename(getattr(module, "__file__", "") or f"{step}.py")
        return cls(step, vars(module), f"attention/{filename}", **options)

    @contextmanager
    def limited(self, label: str) -> Iterator[None]:
        """Run learner code (the call ``label``) under the time limit; raises `CallFailed` when it runs out."""
        if label in self.too_slow:
            self.timed_out = self.too_slow[label]
            raise CallFailed(f"{self.too_slow[label]} (in an earlier check, so it was not run again)")
        try:
            with time_limit(self.seconds), (self.guard if self.guard is not None else nullcontext()):
                yield
        except TimeLimitReached as error:
            message = too_slow_message(label, self.seconds)
            stuck = stopped_in(error, is_local_learner_file)
            if stuck is not None:  # the file that hangs may be a helper, or an earlier step's module
                self.stuck_file = stuck[0]
                message += f"; it was running {os.path.basename(stuck[0])}, line {stuck[1]} when stopped"
            self.timed_out = self.too_slow[label] = message
            raise CallFailed(self.timed_out) from None

    def manual_seed(self, seed: int) -> None:
        torch.random.default_generator.manual_seed(int(seed))  # CPU only: torch.manual_seed costs ms per call

    @contextmanager
    def fresh_randomness(self, seed: int) -> Iterator[None]:
        """Seed torch, ``random`` and NumPy here for one check, and restore all three after it."""
        numpy_random = _numpy_random()
        saved_python = random.getstate()
        saved_numpy = numpy_random.get_state() if numpy_random is not None else None
        with torch.random.fork_rng(devices=()):  # CPU only
            self.manual_seed(seed)
            random.seed(seed)
            if numpy_random is not None:
                numpy_random.seed(seed % 2**32)
            try:
                yield
            finally:
                random.setstate(saved_python)
                if numpy_random is not None:
                    numpy_random.set_state(saved_numpy)

    def _lookup_api(self, name: str) -> Handle | None:
        if name not in self._namespace:
            return None
        return LocalHandle(self, self._namespace[name], name)


def _numpy_random() -> Any:
    """``numpy.random`` when NumPy is installed (learner code may use it), else ``None``."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy.random


def _unwrap(value: Any) -> Any:
    if isinstance(value, LocalHandle):
        return value._h_obj
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _local_error(exc: BaseException, label: str) -> LearnerError:
    error = learner_error(type(exc).__name__, str(exc), learner_location(exc.__traceback__, is_local_learner_file))
    error.api_name = label
    return error

