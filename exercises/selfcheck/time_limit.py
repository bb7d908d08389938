"""A time limit for every call into learner code, in this process (pytest, notebooks).

The grader runs learner code in a child process and stops a call after its per-call time limit.
`CALL_SECONDS` is the same limit on the learner's side (the project's tests keep the two equal).
Only the standard library is used, so the self-checks need nothing but torch and pytest.

How a call is stopped, by platform:

- **Linux, macOS and other POSIX systems, main thread** (``pytest``, Jupyter): ``SIGALRM`` from
  ``signal.setitimer`` raises `TimeLimitReached` in the learner's code, wherever it loops. The
  previous handler and timer are restored afterwards. If the learner's code swallows the
  exception, the timer fires again every `REPEAT_SECONDS`, and the call fails even if it then
  returns.
- **Windows, or a thread other than the main one** (no ``SIGALRM`` there): a watchdog thread
  raises `TimeLimitReached` in the calling thread with CPython's ``PyThreadState_SetAsyncExc``.
  It takes effect at the next Python bytecode, so a loop in Python code is stopped; a single
  torch operation that runs for minutes in C is only stopped when it returns. ``faulthandler``
  then prints where the code hangs, once, to stderr.

`time_limit` is the one entry point; `selfcheck.subject.LocalHandle` wraps every call,
attribute read, ``len()`` and indexing of learner objects in it, and ``conftest.py`` wraps the
import of each learner module.
"""

from __future__ import annotations

import ctypes
import faulthandler
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

CALL_SECONDS = 10.0  # one call into learner code; the grader's per-call limit (the same number)
REPEAT_SECONDS = 0.5  # after the limit, SIGALRM fires again this often until the call gives up
WATCHDOG_GRACE_SECONDS = 5.0  # fallback only: faulthandler shows the stack when the call still runs this much later


class TimeLimitReached(BaseException):  # noqa: N818 - a BaseException, so `except Exception` in learner code lets it by
    """Raised inside learner code when its call runs out of time.

    ``stack``: where the code was when it was stopped, ``(filename, line)`` from the outermost frame to the
    innermost (empty when unknown), so a message can name the file that hangs (`stopped_in`).
    """

    def __init__(self, stack: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__()
        self.stack = stack


def stopped_in(error: TimeLimitReached, is_learner_file: Callable[[str], bool]) -> tuple[str, int] | None:
    """``(filename, line)`` of the innermost learner frame the call was running when it was stopped."""
    return next(((name, line) for name, line in reversed(error.stack) if is_learner_file(name)), None)


def _stack_of(frame: FrameType | None) -> tuple[tuple[str, int], ...]:
    return tuple((f.filename, f.lineno or 0) for f in traceback.extract_stack(frame)) if frame is not None else ()


def _stack_of_traceback(error: BaseException) -> tuple[tuple[str, int], ...]:
    return tuple((f.filename, f.lineno or 0) for f in traceback.extract_tb(error.__traceback__))


def too_slow_message(what: str, seconds: float = CALL_SECONDS) -> str:
    """``"encode did not finish within 10 s (an infinite loop, or far too slow?)"``: the grader's wording."""
    return f"{what} did not finish within {seconds:g} s (an infinite loop, or far too slow?)"


_state = threading.local()  # .depth: nested time limits in this thread (only the outermost one is armed)


@contextmanager
def time_limit(seconds: float = CALL_SECONDS) -> Iterator[None]:
    """Run the body with a time limit; raises `TimeLimitReached` when it runs out (see the module docstring).

    Nested uses run under the outermost limit.
    """
    depth = getattr(_state, "depth", 0)
    if depth or seconds <= 0:
        yield
        return
    _state.depth = 1
    try:
        if _can_use_alarm():
            with _alarm(seconds):
                yield
        else:
            with _watchdog(seconds):
                yield
    finally:
        _state.depth = 0


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    fired = False
    armed = True
    stack: tuple[tuple[str, int], ...] = ()

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal fired, stack
        if armed:
            fired = True
            stack = stack or _stack_of(frame)  # where the learner's code was when it ran out (the first time)
            raise TimeLimitReached(stack)

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    previous_timer = signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    try:
        yield
    except TimeLimitReached:
        fired = True
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_timer[0] > 0:  # someone else's timer was running: give it back (less our time)
            left = previous_timer[0] - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), previous_timer[1])
    if fired:  # raised, or the learner's code caught the exception and returned anyway
        raise TimeLimitReached(stack)


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    target = threading.get_ident()
    done = threading.Event()
    fired = threading.Event()

    def watch() -> None:
        if done.wait(seconds):
            return
        fired.set()
        while True:  # again and again, in case the learner's code catches it
            _async_raise(target, TimeLimitReached)
            if done.wait(REPEAT_SECONDS):
                return

    watcher = threading.Thread(target=watch, name="selfcheck-time-limit", daemon=True)
    watcher.start()
    dumping = hasattr(sys.stderr, "fileno")
    try:
        if dumping:
            faulthandler.dump_traceback_later(seconds + WATCHDOG_GRACE_SECONDS, repeat=False)
    except (ValueError, OSError, AttributeError):  # no real stderr (some notebook front ends)
        dumping = False
    stack: tuple[tuple[str, int], ...] = ()
    try:
        yield
    except TimeLimitReached as error:
        fired.set()
        stack = _stack_of_traceback(error)
    finally:
        done.set()
        watcher.join()
        _async_raise(target, None)  # drop one that was sent but not raised yet
        if dumping:
            faulthandler.cancel_dump_traceback_later()
    if fired.is_set():
        raise TimeLimitReached(stack)


def _async_raise(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in thread ``thread_id`` at its next bytecode (``None`` cancels a pending one)."""
    set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    set_async_exc(ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else ctypes.c_void_p(0))
