"""Exceptions shared by every runner of the checks.

- `CheckFailed`: the learner's result is wrong; its message is shown to the learner.
- `LearnerError`: the learner's code raised. Subclasses mirror the builtin type, so
  `except KeyError` works whether the code ran in this process or in the grader's sandbox.
- `CallFailed`: the call never finished (time limit, crash, memory); raised by the sandbox.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from functools import cache

from .named import name_mistake

HINT_PREFIX = "Common mistake"  # an error whose message gives a common mistake away says so after this


class CheckFailed(AssertionError):
    """A check found the learner's result wrong. The message says what, never the hidden inputs."""


class EarlierStepUnfinished(CheckFailed):
    """This step's code called an earlier step of the learner's that is not implemented yet.

    A failure of this step (it cannot pass yet), but the message names the earlier step to finish.
    """


class CallFailed(Exception):
    """A call into learner code did not complete (time limit, crash, memory, output)."""


KEYS_T = ("dimensions that do not line up; with batched keys, keys.T is a usual cause: .T reverses every "
          "dimension, (B, T, d) becomes (d, T, B); use keys.mT or keys.transpose(-2, -1)")
# Errors whose message gives away a common mistake: (part of the message, what to tell the learner).
KNOWN_MISTAKES = (
    ("before Module.__init__() call", "call super().__init__() first thing in your module's __init__"),
    ("shapes cannot be multiplied", "the inner dimensions of a matrix product differ (a @ b needs "
                                    "a.shape[-1] == b.shape[-2]): check which side is transposed"),
    ("must match the size of tensor", KEYS_T),  # keys.T on batched keys: broadcasting or bmm refuses the shapes
    ("dimensions of batch2 tensor", KEYS_T),
    ("to have the same dtype", "an integer tensor meets a floating one in a product: convert both to a floating "
                               "dtype first (torch.as_tensor(..., dtype=torch.float32) or .float())"),
)
# Only in the steps whose code holds weight matrices does a shape error point at their shapes too.
WEIGHT_MODULES = ("projections", "self_attention", "multi_head", "cross_attention", "causal_attention", "kv_cache")
WEIGHT_HINT = ", and that each weight matrix is (d_in, d_out)"
APIS_WITHOUT_WEIGHTS = ("token_output",)  # in such a module, but its inputs are weights and values only


class LearnerError(Exception):
    """The learner's code raised an exception.

    Attributes:
        type_name: the exception's class name, e.g. ``"KeyError"``.
        learner_message: ``str()`` of the original exception.
        where: ``"tokens.py, line 12"`` (the innermost frame in learner code), or ``None``.
        api_name: the API the check called when it was raised, e.g. ``"encode"``.
    """

    type_name: str = "Exception"

    def __init__(self, type_name: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.learner_message = message
        self.where = where
        self.api_name: str | None = None

    def __str__(self) -> str:
        return self.learner_message

    def describe(self) -> str:
        """One line for the learner: ``encode raised KeyError: 'moon' (tokens.py, line 9)``."""
        who = f"{self.api_name} raised " if self.api_name else "your code raised "
        text = f"{who}{self.type_name}"
        if self.learner_message:
            text += f": {shorten(self.learner_message, 300)}"
        if self.where:
            text += f" ({self.where})"
        hint = next((hint for part, hint in KNOWN_MISTAKES if part in self.learner_message), None)
        module = (self.where or "").split(".py", 1)[0]
        if (hint and "shapes cannot be multiplied" in self.learner_message and module in WEIGHT_MODULES
                and self.api_name not in APIS_WITHOUT_WEIGHTS):
            hint += WEIGHT_HINT
        if hint:
            text += f". {HINT_PREFIX}: {name_mistake(hint)}."
        return text


class NotImplementedYet(LearnerError):
    """The learner's code raised NotImplementedError: the step is not started."""

    def describe(self) -> str:
        name = f"{self.api_name} is " if self.api_name else ""
        return f"{name}not implemented yet"


@cache
def _error_class(type_name: str) -> type[LearnerError]:
    if type_name == "NotImplementedError":
        return NotImplementedYet
    base = getattr(builtins, type_name, None)
    if (
        isinstance(base, type)
        and issubclass(base, Exception)
        and not issubclass(base, LearnerError)
        and base not in (Exception, BaseException)
    ):
        try:
            return type(f"Learner{type_name}", (LearnerError, base), {})
        except TypeError:  # a builtin whose layout cannot be combined
            pass
    return LearnerError


def learner_error(type_name: str, message: str, where: str | None = None) -> LearnerError:
    """Build the `LearnerError` subclass that mirrors ``type_name`` (a builtin name)."""
    cls = _error_class(type_name)
    try:
        return cls(type_name, message, where)
    except Exception:  # noqa: BLE001 - a builtin with an unusual constructor
        return LearnerError(type_name, message, where)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with a marker when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 15] + " ... (shortened)"


def learner_location(tb: object, is_learner_file: Callable[[str], bool]) -> str | None:
    """``"tokens.py, line 12"`` for the innermost traceback frame in learner code.

    When that frame is in another file than the outermost learner frame (a helper module, an earlier
    step's module), the step's own call is named too: ``"utils.py, line 3, called from self_attention.py, line 20"``.
    """
    import os
    import traceback

    frames = [f for f in traceback.extract_tb(tb) if is_learner_file(f.filename)]  # type: ignore[arg-type]
    if not frames:
        return None
    inner, outer = frames[-1], frames[0]
    where = f"{os.path.basename(inner.filename)}, line {inner.lineno}"
    if os.path.basename(outer.filename) != os.path.basename(inner.filename):  # a helper file: name the step's call
        where += f", called from {os.path.basename(outer.filename)}, line {outer.lineno}"
    return where
