"""pytest set-up for the public self-checks: run ``pytest`` in this folder (or a copy of it).

- Puts this folder first on ``sys.path``, so ``attention`` (your code) and ``selfcheck`` (the
  checks) are imported from here.
- ``run_public_check`` (a fixture) runs one public check of `selfcheck.public` on your module
  and turns every way it can go wrong into a one-line failure: a module that cannot be
  imported names the file and line, an unstarted step reads "<step>: <name> is not implemented
  yet", a wrong result shows what was expected, with no traceback into the checks.
- Every call into your code, and the import of each of your modules, has a time limit
  (`selfcheck.time_limit.CALL_SECONDS`, the grader's): an endless loop fails its check with
  "... did not finish within N s", later checks of that step fail at once on the same call, and
  the other steps still run.
- At the end, a summary says step by step how many checks pass, and which step to work on next.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
if sys.path[:1] != [str(HERE)]:
    sys.path.insert(0, str(HERE))

from selfcheck import Check, LocalSubject, run_check  # noqa: E402 - needs the path above
from selfcheck.errors import learner_location, shorten  # noqa: E402
from selfcheck.forbidden import ForbiddenGuard  # noqa: E402
from selfcheck.forbidden_scan import local_verdict  # noqa: E402
from selfcheck.steps import BY_ID, STEPS, StepInfo  # noqa: E402
from selfcheck.subject import is_local_learner_file  # noqa: E402
from selfcheck.time_limit import CALL_SECONDS, TimeLimitReached, time_limit, too_slow_message  # noqa: E402

SEED = 0  # public checks use fixed inputs; the seed only feeds the (unused) per-check generator

# user_properties keys a public test records, read back by the summary
STEP_PROPERTY = "selfcheck_step"
STATUS_PROPERTY = "selfcheck_status"
IMPORT_ERROR = "import_error"
TOO_SLOW = "too_slow"


# ---------------------------------------------------------------------------------------
# Importing the learner's module and running one check
# ---------------------------------------------------------------------------------------

_imports: dict[str, ModuleType | str] = {}  # module name -> module, or why it cannot be imported
_too_slow: dict[str, dict[str, str]] = {}  # step id -> {call label: "... did not finish within N s"}


def import_step(step: StepInfo) -> ModuleType | str:
    """``attention.<module>``, or a one-line reason it cannot be imported (cached per run)."""
    if step.module not in _imports:
        what = f"importing attention/{step.module}.py"
        try:
            with time_limit(CALL_SECONDS):
                _imports[step.module] = importlib.import_module(f"attention.{step.module}")
        except KeyboardInterrupt:
            raise
        except TimeLimitReached:
            _imports[step.module] = (f"attention/{step.module}.py cannot be imported: "
                                     f"{too_slow_message(what)} Is there a loop at the top level of the module?")
        except BaseException as error:  # noqa: BLE001 - anything the learner's module raises on import (sys.exit too)
            _imports[step.module] = f"attention/{step.module}.py cannot be imported: {_describe_import_error(error)}"
    return _imports[step.module]


def _describe_import_error(error: BaseException) -> str:
    """``SyntaxError: invalid syntax (scores.py, line 12)``: the error and where it is."""
    if isinstance(error, SyntaxError) and error.filename:
        where: str | None = f"{os.path.basename(error.filename)}, line {error.lineno}"
        message = error.msg
    else:
        where = learner_location(error.__traceback__, is_local_learner_file)
        message = str(error)
    text = type(error).__name__ + (f": {shorten(message, 300)}" if message else "")
    return f"{text} ({where})" if where else text


def run_public(check: Check, record: Callable[[str, str], None]) -> None:
    """Run one public check on the learner's module; fail the test with a one-line reason."""
    step = BY_ID[check.step]
    record(STEP_PROPERTY, step.id)
    module = import_step(step)
    if isinstance(module, str):
        record(STATUS_PROPERTY, IMPORT_ERROR)
        pytest.fail(f"{step.id}: {module}", pytrace=False)
    guard = ForbiddenGuard() if step.from_scratch else None  # the grader's run-time guard and message
    subject = LocalSubject.from_module(step.id, module, too_slow=_too_slow.setdefault(step.id, {}), guard=guard)
    outcome = run_check(check, subject, SEED)
    if step.from_scratch and (forbidden := local_verdict(step.id, step.module, HERE / "attention", guard,
                                                         {s.module for s in STEPS})):
        record(STATUS_PROPERTY, "failed")
        pytest.fail(f"{step.id}: {forbidden}", pytrace=False)
    record(STATUS_PROPERTY, TOO_SLOW if subject.timed_out and not outcome.passed else outcome.status)
    if outcome.status == "not_implemented":
        pytest.fail(f"{step.id}: {outcome.message}", pytrace=False)
    if not outcome.passed:
        pytest.fail(f"{step.id}: {outcome.message}\n  (this check: {check.title})", pytrace=False)


@pytest.fixture
def run_public_check(request: pytest.FixtureRequest) -> Callable[[Check], None]:
    """``run_public_check(check)`` runs one public check on your module (see `run_public`)."""

    def record(name: str, value: str) -> None:  # like `record_property`, without its junitxml warning
        request.node.user_properties.append((name, value))

    return lambda check: run_public(check, record)


def check_id(check: Check) -> str:
    """Test id of a check: its name (``test_scores[one_query_vector]``)."""
    return check.name


# ---------------------------------------------------------------------------------------
# Reporting: how a not-implemented check reads, and the per-step summary
# ---------------------------------------------------------------------------------------


def _properties(report: pytest.TestReport) -> dict[str, str]:
    return {str(k): str(v) for k, v in report.user_properties}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple | None:
    """In verbose mode an unstarted check reads NOT IMPLEMENTED (still a failure)."""
    if report.when == "call" and report.failed and _properties(report).get(STATUS_PROPERTY) == "not_implemented":
        return "failed", "F", ("NOT IMPLEMENTED", {"yellow": True})
    return None


@dataclass
class StepTally:
    """What happened to one step's checks in this run."""

    counts: dict[str, int] = field(default_factory=dict)
    import_error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def line(self) -> tuple[str, dict[str, bool]]:
        """``3/4 passed, 1 failed`` and its colour."""
        passed, total = self.counts.get("passed", 0), self.total
        if self.import_error is not None:
            return self.import_error, {"red": True}
        if passed == total:
            return f"{passed}/{total} passed", {"green": True}
        if self.counts.get("not_implemented", 0) == total:
            return "not implemented yet", {"yellow": True}
        parts = [f"{passed}/{total} passed"]
        for status, label in (("failed", "failed"), (TOO_SLOW, f"did not finish within {CALL_SECONDS:g} s"),
                              ("error", "could not be checked"), ("not_implemented", "not implemented yet")):
            if self.counts.get(status):
                parts.append(f"{self.counts[status]} {label}")
        return ", ".join(parts), {"red": True}


_tallies: dict[str, StepTally] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Tally each public test's outcome by step (also works when reports come from xdist workers)."""
    properties = _properties(report)
    step = properties.get(STEP_PROPERTY)
    if step is None or step not in BY_ID or (report.when != "call" and not report.failed):
        return
    status = properties.get(STATUS_PROPERTY) or ("passed" if report.passed else "failed")
    tally = _tallies.setdefault(step, StepTally())
    tally.counts[status] = tally.counts.get(status, 0) + 1
    if status == IMPORT_ERROR and tally.import_error is None:
        message = str(report.longrepr) if report.longrepr else "cannot be imported"
        tally.import_error = message.split(": ", 1)[-1].splitlines()[0]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """``step 4 scores: 3/3 passed`` for every step that ran, then the step to work on next."""
    if not _tallies:
        return
    writer = terminalreporter
    writer.ensure_newline()
    writer.section("your progress, step by step", sep="=")
    width = max(len(f"step {s.number} {s.id}:") for s in STEPS if s.id in _tallies)
    next_step: StepInfo | None = None
    for step in STEPS:
        tally = _tallies.get(step.id)
        if tally is None:
            continue
        text, colour = tally.line()
        writer.write_line(f"{f'step {step.number} {step.id}:':<{width}} {text}", **colour)
        if next_step is None and tally.counts.get("passed", 0) != tally.total:
            next_step = step
    if next_step is not None:
        writer.write_line(
            f"Next: step {next_step.number} {next_step.id} (attention/{next_step.module}.py); "
            f"run only it with: pytest -k {next_step.id}",
            bold=True,
        )
        return
    writer.write_line("Every step that ran passes its public checks.", green=True, bold=True)
    last_ran = max(step.number for step in STEPS if step.id in _tallies)
    following = next((step for step in STEPS if step.number > last_ran), None)
    if following is not None:  # `pytest -k <step>` passed: name the step after it
        writer.write_line(
            f"Next: step {following.number} {following.id} (attention/{following.module}.py); "
            f"check it with: pytest -k {following.id}",
            bold=True,
        )
