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
- One broken file is tried once per run (`selfcheck.learner_files`): a file that cannot be imported,
  or whose call hangs, is named, and a later step that imports it is reported as blocked by that file
  (and its step) at once, instead of failing each check after its own time limit.
- What your code prints is capped per step as in the grader (`selfcheck.output_cap`, `OUTPUT_KB`).
- At the end, a summary says step by step the points at stake and how many checks pass, which step to
  work on next, and what the grader checks that ``pytest`` cannot.
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
from selfcheck.learner_files import BlockedImport, BrokenFiles, blocked_message  # noqa: E402
from selfcheck.output_cap import OutputBudget, capped_output, output_limit_note  # noqa: E402
from selfcheck.steps import BY_ID, OUTPUT_KB, STEPS, StepInfo  # noqa: E402
from selfcheck.subject import is_local_learner_file  # noqa: E402
from selfcheck.time_limit import CALL_SECONDS, TimeLimitReached, stopped_in, time_limit, too_slow_message  # noqa: E402

SEED = 0  # public checks use fixed inputs; the seed only feeds the (unused) per-check generator

# user_properties keys a public test records, read back by the summary
STEP_PROPERTY = "selfcheck_step"
STATUS_PROPERTY = "selfcheck_status"
IMPORT_ERROR = "import_error"
TOO_SLOW = "too_slow"
BLOCKED = "blocked"
OUTPUT_CAPPED = "selfcheck_output_capped"
PACKAGE_DIR = HERE / "attention"


# ---------------------------------------------------------------------------------------
# Importing the learner's module and running one check
# ---------------------------------------------------------------------------------------

_imports: dict[str, ModuleType | str] = {}  # module name -> module, or why it cannot be imported
_too_slow: dict[str, dict[str, str]] = {}  # step id -> {call label: "... did not finish within N s"}
_broken = BrokenFiles()  # learner files that failed to import or hung: each is tried once per run
_printed: dict[str, OutputBudget] = {}  # step id -> what its code printed so far


def _package_file(path: str | None) -> str | None:
    """``context.py`` for a file of the learner's ``attention/`` package, else None."""
    if not path:
        return None
    resolved = Path(path).resolve()
    return resolved.name if resolved.parent == PACKAGE_DIR.resolve() and resolved.suffix == ".py" else None


def _owner(filename: str) -> str:
    """``step 6 context`` for a step's module, else ``a helper module``."""
    step = next((s for s in STEPS if f"{s.module}.py" == filename), None)
    return f"step {step.number} {step.id}" if step is not None else "a helper module"


def import_step(step: StepInfo) -> ModuleType | str:
    """``attention.<module>``, or a one-line reason it cannot be imported (cached per run).

    When the failure lies in another file the module imports (a loop or an error at its top level), that
    file is named and remembered as broken, so it is not imported (nor waited for) again in this run.
    """
    if step.module not in _imports:
        own = f"{step.module}.py"
        try:
            with time_limit(CALL_SECONDS), capped_output(_printed.setdefault(step.id, OutputBudget(OUTPUT_KB * 1024))):
                _imports[step.module] = importlib.import_module(f"attention.{step.module}")
            return _imports[step.module]
        except KeyboardInterrupt:
            raise
        except TimeLimitReached as error:
            stuck = stopped_in(error, is_local_learner_file)
            culprit = _package_file(stuck[0] if stuck else None) or own
            reason = (f"cannot be imported: {too_slow_message(f'importing attention/{culprit}')} "
                      "Is there a loop at the top level of the module?")
        except BlockedImport as error:
            culprit, reason = error.filename, error.reason
        except BaseException as error:  # noqa: BLE001 - anything the learner's module raises on import (sys.exit too)
            culprit = _failing_file(error) or own
            reason = f"cannot be imported: {_describe_import_error(error)}"
            if _printed[step.id].hit:
                reason += output_limit_note(OUTPUT_KB)
        broken = _broken.add(culprit, reason, _owner(culprit))
        _imports[step.module] = f"attention/{own} {reason}" if culprit == own else blocked_message(broken)
    return _imports[step.module]


def _failing_file(error: BaseException) -> str | None:
    """The package file an import error comes from: a syntax error's file, or the innermost learner frame's."""
    if isinstance(error, SyntaxError) and error.filename:
        return _package_file(error.filename)
    import traceback

    frames = [f.filename for f in traceback.extract_tb(error.__traceback__) if is_local_learner_file(f.filename)]
    return _package_file(frames[-1]) if frames else None


def _describe_import_error(error: BaseException) -> str:
    """``SyntaxError: invalid syntax (scores.py, line 12)``: the error and where it is."""
    if isinstance(error, SyntaxError) and error.filename:
        where: str | None = f"{os.path.basename(error.filename)}, line {error.lineno}"
        message = error.msg
    else:
        where = learner_location(error.__traceback__, lambda name: _package_file(name) is not None)
        message = str(error)
    text = type(error).__name__ + (f": {shorten(message, 300)}" if message else "")
    return f"{text} ({where})" if where else text


def run_public(check: Check, record: Callable[[str, str], None]) -> None:
    """Run one public check on the learner's module; fail the test with a one-line reason."""
    step = BY_ID[check.step]
    record(STEP_PROPERTY, step.id)
    blocker = _broken.blocking(PACKAGE_DIR, f"{step.module}.py")
    if blocker is not None:
        record(STATUS_PROPERTY, BLOCKED)
        pytest.fail(f"{step.id}: {blocked_message(blocker)}", pytrace=False)
    module = import_step(step)
    if isinstance(module, str):
        record(STATUS_PROPERTY, BLOCKED if module.startswith("blocked by") else IMPORT_ERROR)
        pytest.fail(f"{step.id}: {module}", pytrace=False)
    guard = ForbiddenGuard() if step.from_scratch else None  # the grader's run-time guard and message
    subject = LocalSubject.from_module(step.id, module, too_slow=_too_slow.setdefault(step.id, {}), guard=guard)
    budget = _printed.setdefault(step.id, OutputBudget(OUTPUT_KB * 1024))
    with capped_output(budget):
        outcome = run_check(check, subject, SEED)
    if budget.hit:
        record(OUTPUT_CAPPED, "yes")
    stuck = _package_file(subject.stuck_file)
    if subject.timed_out and stuck is not None and subject.stuck_file is not None:
        _broken.add(stuck, f"hung in step {step.number} {step.id}: {subject.timed_out}", _owner(stuck))
    if step.from_scratch and (forbidden := local_verdict(step.id, step.module, HERE / "attention", guard,
                                                         {s.module for s in STEPS})):
        record(STATUS_PROPERTY, "failed")
        pytest.fail(f"{step.id}: {forbidden}", pytrace=False)
    record(STATUS_PROPERTY, TOO_SLOW if subject.timed_out and not outcome.passed else outcome.status)
    note = output_limit_note(OUTPUT_KB) if budget.hit else ""
    if outcome.status == "not_implemented":
        pytest.fail(f"{step.id}: {outcome.message}", pytrace=False)
    if not outcome.passed:
        pytest.fail(f"{step.id}: {outcome.message}{note}\n  (this check: {check.title})", pytrace=False)


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
    output_capped: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def line(self) -> tuple[str, dict[str, bool]]:
        """``3/4 passed, 1 failed`` and its colour."""
        passed, total = self.counts.get("passed", 0), self.total
        if self.import_error is not None:
            return self.import_error, {"red": True}
        if passed == total:
            capped = f" (but it printed more than {OUTPUT_KB:g} KB: the grader refuses that)" * self.output_capped
            return f"{passed}/{total} passed{capped}", {"yellow" if capped else "green": True}
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
    tally.output_capped = tally.output_capped or OUTPUT_CAPPED in properties
    if status in (IMPORT_ERROR, BLOCKED) and tally.import_error is None:
        message = str(report.longrepr) if report.longrepr else "cannot be imported"
        message = message.split(": ", 1)[-1].splitlines()[0]
        tally.import_error = message.split(": it imports", 1)[0] if status == BLOCKED else message


def _write_outlook(writer: pytest.TerminalReporter) -> None:
    """The points whose public checks pass, and what the grader checks that ``pytest`` cannot (nothing hidden)."""
    ran = [step for step in STEPS if step.id in _tallies]
    passing = [step for step in ran if _tallies[step.id].counts.get("passed", 0) == _tallies[step.id].total]
    total = sum(step.points for step in STEPS)
    whole = f"the course's {total:g} points" if len(ran) == len(STEPS) else (
        f"the {sum(s.points for s in ran):g} points of the steps that ran ({total:g} in the course)")
    writer.write_line(f"Public checks pass in steps worth {sum(s.points for s in passing):g} of {whole}.")
    asked = [step for step in STEPS if step.question_points]
    questions = ", ".join(f"step {s.number}: {s.question_points:g} of its {s.points:g}" for s in asked)
    lines = [
        "What the grader also checks, and pytest cannot:",
        f"  - concept questions ({questions} points): pytest does not check your answers;"
        if asked else "",
        "  - hidden inputs: other sizes, batches and values than these public checks use; a step whose public checks "
        "pass can still lose points there;",
        f"  - limits on every input: {CALL_SECONDS:g} s per call and {OUTPUT_KB:g} KB of printed output per step "
        "(pytest applies them to the public inputs only).",
    ]
    for line in lines:
        if line:
            writer.write_line(line)


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
        writer.write_line(f"{f'step {step.number} {step.id}:':<{width}} {step.points:>3g} pts  {text}", **colour)
        if next_step is None and tally.counts.get("passed", 0) != tally.total:
            next_step = step
    _write_outlook(writer)
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
