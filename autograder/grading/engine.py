"""Grade one submission: every step's hidden checks, run against learner code in the sandbox.

For each step the parent starts one sandboxed child (`StepSession`) that imports only that
step's module (earlier steps are stand-ins), then runs the step's checks one by one with a
`RemoteSubject`. A check's score is all or nothing; a step's points are split over its checks
by weight, after its concept questions' points (`concept_answers`: scored from the answers the
intake read, never run). A failure (wrong result, exception, timeout, crash) costs the checks it touches in that
step only; a dead child is replaced for the next check. A forbidden API, seen by the static
scan or called in any check, costs the whole step, and every check's output says why.
"""

from __future__ import annotations

import os
import queue
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from selfcheck.errors import CallFailed
from selfcheck.forbidden import called_message, uses_message
from selfcheck.forbidden_scan import scan_step
from selfcheck.named import naming_mistakes
from selfcheck.output_cap import output_limit_note
from selfcheck.registry import Check, CheckRegistry, Outcome, run_check

from .. import REPO_ROOT, parsing
from ..course import Course, Step
from ..sandbox.remote import TIMINGS, Budget, RemoteSubject, SessionSpec, StepSession, Zygote
from ..sandbox.uids import reserve_uid_block
from ..sandbox.unprivileged import GradingMode, grading_mode
from .concept_answers import code_points, question_results
from .intake import PrivateCopy, Submission, make_private_copy
from .public_example import CALL_SECONDS as EXAMPLE_CALL_SECONDS
from .public_example import examples_for, learner_examples


@dataclass
class TestResult:
    step: str
    check: str
    title: str
    number: str
    score: float
    max_score: float
    passed: bool
    output: str
    mistakes: list[str] = field(default_factory=list)  # catalogue mistakes the check named (never read from output)


@dataclass
class SubmissionResult:
    name: str
    seed: int
    tests: list[TestResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    isolation: list[str] = field(default_factory=list)  # the layers learner code ran under (as its child reported)
    isolation_mode: str = ""  # "root", "user namespaces" or "unconfined"
    isolation_missing: dict[str, str] = field(default_factory=dict)  # layer -> what learner code could do
    elapsed: float = 0.0
    form: str = ""  # what the intake found: "attention folder", "notebooks", "zip (...)", "nothing"
    sources: dict[str, str] = field(default_factory=dict)  # step id -> the file its code came from
    # step id -> example name -> the learner's matrix on the public example, or why there is none
    examples: dict[str, dict[str, list[list[float]] | str]] = field(default_factory=dict)
    # step id -> public check name -> its outcome; only when the grader runs the public checks too (--gradebook)
    public: dict[str, dict[str, Outcome]] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    def step_score(self, step_id: str) -> float:
        return round(sum(t.score for t in self.tests if t.step == step_id), 4)


def split_points(points: float, weights: list[float]) -> list[float]:
    """``points`` shared by ``weights``, rounded to 4 decimals, summing exactly to ``points``."""
    if not weights:
        return []
    total = sum(weights)
    shares = [round(points * w / total, 4) for w in weights]
    shares[-1] = round(points - sum(shares[:-1]), 4)
    return shares


class Grader:
    """Grades submissions with one course, one set of checks, one seed and one sandbox worker."""

    def __init__(self, course: Course, checks: CheckRegistry, *, seed: int, zygote: Zygote, work_root: Path,
                 hidden_paths: tuple[str, ...] = (), mode: GradingMode | None = None,
                 public_checks: CheckRegistry | None = None) -> None:
        """``public_checks``: also run each step's public checks, after its hidden ones and in the same
        sandboxed child, recording only whether each passed (`SubmissionResult.public`, never points)."""
        self.course = course
        self.public_checks = public_checks
        self.mode = mode or grading_mode()
        self.checks = checks
        self.seed = seed
        self.zygote = zygote
        self.work_root = work_root
        self.hidden_paths = tuple(dict.fromkeys((*default_hidden_paths(), *hidden_paths)))
        self.is_root = os.geteuid() == 0
        self.uids = reserve_uid_block() if self.is_root else None  # job slot k runs as self.uids.uid(k)
        for missing in [s.id for s in course.steps if not checks.for_step(s.id)]:
            raise ValueError(f"no hidden checks for step {missing!r}")

    def grade(self, submission: Submission, slot: int = 0, *, lanes: Sequence[int] = ()) -> SubmissionResult:
        """Grade one submission in a private copy; never raises for anything the submission does.

        ``lanes``: job slots to grade its steps on at once (default: ``slot`` alone). Each lane has
        its own sandbox uid and its own private copy, so a step that kills every process of its uid
        or rewrites its files can still only cost its own step.
        """
        started = time.monotonic()
        slots = list(lanes) or [slot]
        result = SubmissionResult(submission.name, self.seed, isolation_mode=self.mode.name,
                                  isolation_missing=dict(self.mode.missing))
        uids = [self.uids.uid(s) if self.uids is not None else None for s in slots]
        copies: list[PrivateCopy] = []
        budget = Budget(self.course.limits.submission_seconds)
        try:
            copies = [make_private_copy(submission, self.work_root, uid, self.course) for uid in uids]
            result.notes.extend(copies[0].notes)
            result.form, result.sources = copies[0].form, copies[0].sources
            steps = list(enumerate(self.course.steps, start=1))
            tests: dict[int, list[TestResult]] = {}
            waiting: queue.Queue[tuple[int, Step]] = queue.Queue()
            for item in steps:
                waiting.put(item)

            def lane(copy: PrivateCopy, uid: int | None) -> None:
                while True:
                    try:
                        number, step = waiting.get_nowait()
                    except queue.Empty:
                        return
                    tests[number] = self._grade_step(number, step, copy, budget, uid, result)

            if len(copies) == 1:
                lane(copies[0], uids[0])
            else:
                with ThreadPoolExecutor(max_workers=len(copies)) as pool:
                    for done in [pool.submit(lane, copy, uid) for copy, uid in zip(copies, uids, strict=True)]:
                        done.result()
            for number, _ in steps:
                result.tests.extend(tests[number])
        finally:
            for copy in copies:
                shutil.rmtree(copy.root, ignore_errors=True)
        result.elapsed = time.monotonic() - started
        return result

    def grade_many(self, submissions: list[Submission], jobs: int,
                   on_result: Callable[[Submission, SubmissionResult | BaseException], None] | None = None,
                   ) -> dict[str, SubmissionResult | BaseException]:
        """Grade ``submissions`` with ``jobs`` at once; each job slot has its own sandbox uid.

        A slot is held for the whole submission, so two submissions graded at the same time never
        share a uid (a submission's ``kill(-1)`` can only reach its own processes). With fewer
        submissions than jobs, each gets several slots and grades its steps on them at once.
        ``on_result`` is called as each submission finishes, with its result or the grader's own error.
        """
        lanes = max(1, jobs // max(1, len(submissions)))
        slots: queue.Queue[list[int]] = queue.Queue()
        for first in range(0, jobs - lanes + 1, lanes):
            slots.put(list(range(first, first + lanes)))
        workers = slots.qsize()

        def grade_in_slots(submission: Submission) -> SubmissionResult:
            held = slots.get()
            try:
                return self.grade(submission, lanes=held)
            finally:
                slots.put(held)

        results: dict[str, SubmissionResult | BaseException] = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(grade_in_slots, s): s for s in submissions}
            for future in as_completed(futures):
                submission = futures[future]
                try:
                    outcome: SubmissionResult | BaseException = future.result()
                except Exception as error:  # noqa: BLE001 - reported per submission by the caller
                    outcome = error
                results[submission.name] = outcome
                if on_result is not None:
                    on_result(submission, outcome)
        return results

    # -- one step -------------------------------------------------------------------------------
    def _grade_step(self, number: int, step: Step, copy: PrivateCopy, budget: Budget, uid: int | None,
                    result: SubmissionResult) -> list[TestResult]:
        checks = self.checks.for_step(step.id)
        public = self.public_checks.for_step(step.id) if self.public_checks is not None else []
        shares = split_points(code_points(step), [c.weight for c in checks])
        filename = f"attention/{step.module}.py"
        blocked = self._blocked_reason(step, copy, filename)
        outcomes: list[Outcome] = []
        if blocked is not None:
            outcomes = [Outcome("failed", blocked)] * (len(checks) + len(public))
        else:
            outcomes = self._run_checks(step, [*checks, *public], copy, budget, uid, result, filename)
        outcomes, public_outcomes = outcomes[: len(checks)], outcomes[len(checks):]
        if public:
            result.public[step.id] = dict(zip((c.name for c in public), public_outcomes, strict=True))
        tests = [
            TestResult(step.id, check.name, check.title, f"{number}.{index}",
                       share if outcome.passed else 0.0, share, outcome.passed,
                       "passed" if outcome.passed else outcome.message, list(outcome.mistakes))
            for index, (check, share, outcome) in enumerate(zip(checks, shares, outcomes, strict=True), start=1)
        ]
        questions = question_results(step, copy.answers)  # read by the intake before any learner code ran
        return tests + [TestResult(step.id, q.check, q.title, f"{number}.{index}", q.points, q.question.points,
                                   q.passed, q.output) for index, q in enumerate(questions, start=len(tests) + 1)]

    def _blocked_reason(self, step: Step, copy: PrivateCopy, filename: str) -> str | None:
        """Why no check of this step can run at all, or None."""
        if not copy.has_package:
            return "not graded: the submission has no attention/ package"
        module_file = copy.module_file(step.module)
        if not module_file.is_file():
            return f"not graded: {filename} is missing from the submission"
        if step.from_scratch:
            step_modules = {s.module for s in self.course.steps}
            found = scan_step(copy.package_dir, step.module, step_modules, parsing.parse)
            if found:
                uses = [violation.describe(f"attention/{name}") for name, violation in found]
                return uses_message(uses, found[0][1].api, step.id)
        return None

    def _run_checks(self, step: Step, checks: list[Check], copy: PrivateCopy, budget: Budget, uid: int | None,
                    result: SubmissionResult, filename: str) -> list[Outcome]:
        outcomes: list[Outcome] = []
        session: StepSession | None = None
        sessions = 0
        capped = False
        used: set[str] = set()  # forbidden APIs the child saw learner code call, over every session
        try:
            for check in checks:
                if session is None or session.dead:
                    if session is not None:
                        used |= session.forbidden
                    try:
                        sessions += 1
                        session = self._start_session(step, copy, budget, uid, sessions)
                    except CallFailed as failure:  # the import hung or crashed: no check of this step can run
                        outcomes += [Outcome("failed", str(failure))] * (len(checks) - len(outcomes))
                        break
                    result.isolation = result.isolation or session.isolation
                    if session.import_failure is not None:
                        capped = session.output_capped()
                        outcomes += [Outcome("failed", _import_message(filename, session))] * (
                            len(checks) - len(outcomes))
                        break
                started = time.perf_counter()
                try:
                    with naming_mistakes() as named:
                        outcome = run_check(check, RemoteSubject(step.id, filename, session), self.seed)
                    outcome = replace(outcome, mistakes=named_in(outcome, named))
                except CallFailed as failure:
                    outcome = Outcome("failed", str(failure))
                TIMINGS.add("checks", started)
                outcomes.append(outcome)
                capped = capped or session.output_capped()
                used |= session.forbidden
                if hung(session, time.perf_counter() - started):  # one hang costs one limit, not one per check
                    outcomes += [Outcome("failed", skipped_after_hang(check.title, session.call_seconds))] * (
                        len(checks) - len(outcomes))
                    break
            if session is not None:
                used |= session.forbidden
            # After the scored checks: what the example calls do is never scored (forbidden calls included).
            if examples_for(step.id) and session is not None and not session.dead and session.import_failure is None:
                self._run_examples(step, session, budget, result, filename)
        finally:
            if session is not None:
                session.close()
        if step.from_scratch and used:  # seen in any test (or at import): the whole step scores 0
            return [Outcome("failed", called_message(used, filename, step.id))] * len(checks)
        if capped:
            note = output_limit_note(self.course.limits.output_kb)  # the learner's pytest says the same
            outcomes = [o if o.passed else replace(o, message=o.message + note) for o in outcomes]
        return outcomes

    @staticmethod
    def _run_examples(step: Step, session: StepSession, budget: Budget, result: SubmissionResult,
                      filename: str) -> None:
        """The learner's code on the public example, for the feedback page's heatmaps; never for points.

        Runs after the step's checks, with a short limit per call; the time it takes is given back
        to the submission's budget, so that code slow or stuck on the example costs no other step.
        """
        started = time.monotonic()
        limit, session.call_seconds = session.call_seconds, min(session.call_seconds, EXAMPLE_CALL_SECONDS)
        try:
            result.examples[step.id] = learner_examples(step.id, RemoteSubject(step.id, filename, session))
        finally:
            session.call_seconds = limit
            budget.deadline += time.monotonic() - started

    def _start_session(self, step: Step, copy: PrivateCopy, budget: Budget, uid: int | None,
                       number: int) -> StepSession:
        earlier = self.course.earlier_steps(step.id)
        spec = SessionSpec(
            package_dir=str(copy.package_dir),
            module=step.module,
            standins={s.module: tuple(s.api) for s in earlier},
            step_ids={s.module: s.id for s in earlier},
            workdir=str(copy.root),
            output_path=str(self.work_root / f"{copy.root.name}-{step.id}-{number}.out"),
            memory_bytes=self.course.limits.memory_mb * 1024 * 1024,
            cpu_seconds=int(self.course.limits.submission_seconds) + 5,
            output_bytes=self.course.limits.output_kb * 1024,
            uid=uid,
            hidden_paths=self.hidden_paths,
            from_scratch=step.from_scratch,
        )
        session = StepSession(self.zygote, spec, self.course.limits.call_seconds, budget)
        session.start()
        return session


def named_in(outcome: Outcome, named: list[str]) -> tuple[str, ...]:
    """The mistakes the checker named while ``outcome`` was found that its message still states.

    ``named`` comes from the checker's own code (`selfcheck.mistakes.naming_mistakes`), never from
    the message: a learner's exception text that reads like a mistake note names nothing.
    """
    if outcome.passed:
        return ()
    return tuple(description for description in named if description in outcome.message)


def hung(session: StepSession, seconds: float) -> bool:
    """True when the check that just ran ended its child by running out of a call's time limit.

    A timeout closes the child after waiting the whole limit; a crash ends it at once, and a call
    that finishes in time leaves it alive. So a correct but slow solution is never taken for a hang.
    """
    return session.dead and seconds >= session.call_seconds


def skipped_after_hang(title: str, call_seconds: float) -> str:
    """What a check that was not run because an earlier check of its step hung says."""
    return (f"not run because of a hang: a call of the check \"{title}\" ran out of its {call_seconds:g} s limit, "
            "so this step's remaining checks were skipped; fix the hang first")


def _import_message(filename: str, session: StepSession) -> str:
    failure = session.import_failure
    assert failure is not None
    if failure.type_name == "NotImplementedError":
        return f"not implemented yet: importing {filename} raised NotImplementedError"
    where = f" ({failure.where})" if failure.where else ""
    detail = f": {failure.message}" if failure.message else ""
    return f"{filename} could not be imported: {failure.type_name}{detail}{where}"


def default_hidden_paths() -> tuple[str, ...]:
    """What learner code must never see: the grader's own files and the reference solutions."""
    return tuple(str(REPO_ROOT / name) for name in ("solutions", "autograder", "tests", ".git", "course.yml"))
