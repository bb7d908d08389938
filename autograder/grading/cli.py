"""``python -m autograder grade [SUBMISSION ...] --out DIR [--jobs N] [--seed S]``.

With no SUBMISSION, grades the bundled samples (``autograder/samples``). Writes
``DIR/<name>/results.json`` per submission and ``DIR/grades.csv``, and prints a summary table.
Exit status 0 when every submission was graded, whatever the scores; 2 (with one line) when the
grader cannot run (a bad path, an invalid course.yml, an unwritable output folder).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .. import PACKAGE_DIR
from ..cli import UsageError
from ..sandbox.isolation import UID_BLOCK
from ..sandbox.worker import Zygote
from .submissions import Submission, SubmissionError, resolve_submissions

SAMPLES = PACKAGE_DIR / "samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                        help="submission folders or .zip files, or folders of them (default: autograder/samples)")
    parser.add_argument("--out", default="grades", metavar="DIR", help="output folder (default: ./grades)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                        help="submissions graded at once (default: 2)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the hidden tests' random inputs "
                        "(default: a fresh one, recorded in every results.json)")
    parser.add_argument("--course", default=None, metavar="FILE", help="course file (default: course.yml)")


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.jobs <= UID_BLOCK:
        raise UsageError(f"--jobs must be between 1 and {UID_BLOCK}")
    zygote = Zygote()
    zygote.start()  # the worker imports torch while we read the course and the submissions
    try:
        return _run(args, zygote)
    finally:
        zygote.stop()  # at once when the arguments were bad; grade_all has already closed it otherwise


def _run(args: argparse.Namespace, zygote: Zygote) -> int:
    from ..course import COURSE_FILE, load_course

    course = load_course(args.course or COURSE_FILE)
    try:
        submissions = resolve_submissions(args.submissions or [str(SAMPLES)])
    except SubmissionError as error:
        raise UsageError(str(error)) from None
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UsageError(f"{out_dir}: cannot write the results there ({error.strerror})") from None
    seed = args.seed if args.seed is not None else secrets.randbits(31)
    return grade_all(course, submissions, out_dir=out_dir, jobs=args.jobs, seed=seed, zygote=zygote)


def grade_all(course, submissions: list[Submission], *, out_dir: Path, jobs: int, seed: int,  # noqa: ANN001
              hidden_paths: tuple[str | Path, ...] = (), zygote: Zygote | None = None) -> int:
    """Grade ``submissions`` and write every report; returns the exit status.

    ``hidden_paths``: more files or folders learner code must not see, besides the grader's own
    files, ``out_dir`` and the submissions (the Gradescope runner hides the rest of ``/autograder``).
    ``zygote``: a worker already started (it is closed at the end); by default one is started here.
    """
    from ..sandbox.isolation import make_undumpable
    from ..sandbox.worker import SandboxError

    if zygote is None:
        zygote = Zygote()
        zygote.start()  # imports torch in parallel with us
    make_undumpable()
    import torch

    torch.set_num_threads(1)  # checks use small tensors; jobs run in threads and children run beside us
    from ..hidden import load_hidden_checks
    from . import report
    from .engine import Grader, SubmissionResult

    work_root = Path(tempfile.mkdtemp(prefix="autograder-"))
    if os.geteuid() == 0:
        os.chmod(work_root, 0o711)  # sandbox uids may enter their own copy, not list the others
    hidden = tuple(str(Path(p).resolve()) for p in (out_dir, *_originals(submissions), *hidden_paths))
    grader = Grader(course, load_hidden_checks(), seed=seed, zygote=zygote, work_root=work_root, hidden_paths=hidden)
    results: dict[str, SubmissionResult] = {}
    failures = 0
    started = time.monotonic()
    try:
        with _Progress(len(submissions)) as progress:

            def record(submission: Submission, outcome: SubmissionResult | BaseException) -> None:
                nonlocal failures
                if isinstance(outcome, SandboxError):
                    raise UsageError(f"the sandbox could not run: {outcome}")
                if isinstance(outcome, BaseException):  # a grader bug must not lose the other submissions
                    failures += 1
                    outcome = SubmissionResult(submission.name, seed, notes=[
                        f"the grader failed on this submission ({type(outcome).__name__}: {outcome}); "
                        "it was not graded, please report this"])
                results[submission.name] = outcome
                report.write_results(out_dir, outcome, course)
                progress.advance(outcome)

            grader.grade_many(submissions, jobs, record)
    finally:
        zygote.close()
        shutil.rmtree(work_root, ignore_errors=True)
    ordered = [results[s.name] for s in submissions]
    report.write_atomic(out_dir / "grades.csv", report.grades_csv(ordered, course))
    report.print_summary(ordered, course, seed=seed, out_dir=out_dir)
    print(f"graded {len(ordered)} submission(s) in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 1 if failures else 0


def _originals(submissions: list[Submission]) -> list[Path]:
    return [s.path for s in submissions]


class _Progress:
    """A progress bar on a terminal, one plain line per submission otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.bar = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=self.total)
        return self

    def advance(self, result) -> None:  # noqa: ANN001
        self.done += 1
        line = f"{result.name}: {result.score:g}/{result.max_score:g} ({result.elapsed:.1f} s)"
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=line)
        else:
            print(f"[{self.done}/{self.total}] {line}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
