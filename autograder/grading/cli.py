"""``python -m autograder grade [SUBMISSION ...] --out DIR [--jobs N] [--seed S]``.

With no SUBMISSION, grades the bundled samples (``autograder/samples``). Writes
``DIR/<name>/results.json`` and ``DIR/<name>/feedback.html`` per submission, ``DIR/grades.csv``,
the class report ``DIR/report.html`` and ``DIR/mistakes.csv``, for two or more submissions the
similarity report ``DIR/similarity.html`` and ``DIR/similarity.csv`` (unless ``--no-similarity``),
and prints a summary table. With
``--gradebook gradebook.db`` it also writes every grade cell's score into nbgrader's gradebook
(``autograder/grading/gradebook.py``). The class files cover every row of ``DIR/grades.csv``; a run
that would keep rows graded under another course is refused (``--regrade-all``:
``autograder/grading/course_version.py``); ``--shard K/N`` grades one of N parts (``shards.py``).
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
from typing import TYPE_CHECKING

from .. import PACKAGE_DIR
from ..errors import UsageError
from ..sandbox.uids import UID_BLOCK
from ..sandbox.worker import Zygote
from .inert import shown_text
from .intake import Submission, SubmissionError, entries, is_output_folder, resolve_submissions

if TYPE_CHECKING:
    from .gradebook import Gradebook

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
    parser.add_argument("--roster", default=None, metavar="CSV", help="roster (submission, student_id, name, email): "
                        "adds those columns to grades.csv and writes lms_grades.csv (Canvas import format)")
    parser.add_argument("--gradebook", default=None, metavar="DB",
                        help="nbgrader's gradebook.db: also write each student's score per grade cell of the "
                             "assignment 'notebooks' there (after `nbgrader generate_assignment notebooks`)")
    parser.add_argument("--no-similarity", action="store_true",
                        help="do not write similarity.html and similarity.csv (written for two or more submissions)")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="grade only the K-th of N deterministic shards of the submissions (needs --seed, the "
                             "same for every shard); merge the N output folders with `python -m autograder report`")
    parser.add_argument("--regrade-all", action="store_true",
                        help="the course changed (version or points) since DIR was graded: set the old grades.csv "
                             "aside and start it afresh with this run's submissions (else such a run is refused)")
    parser.add_argument("--allow-unconfined", action="store_true",
                        help="grade even where learner code cannot be confined (a normal user on a system "
                             "without unprivileged user namespaces): only for submissions you trust")


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
    from ..course import COURSE_FILE, check_course

    course, warnings = check_course(args.course or COURSE_FILE)
    for line in warnings:  # what `check-course` warns about (points not adding up to total_points, ...)
        print(f"warning: {line}", file=sys.stderr)
    gradebook = None
    if args.gradebook:  # checked before anything else is read or written
        from selfcheck.public import PUBLIC

        from .gradebook import open_gradebook

        gradebook = open_gradebook(args.gradebook, PUBLIC)
    try:
        submissions = resolve_submissions(args.submissions or [str(SAMPLES)], course)
    except SubmissionError as error:
        raise UsageError(str(error)) from None
    out_dir = Path(args.out)
    submissions = [s for s in submissions if s.batch is None or s.path.resolve() != out_dir.resolve()]
    if args.shard is not None:
        from .shards import parse_shard, shard_of

        index, count = parse_shard(args.shard)
        if args.seed is None:
            raise UsageError("--shard needs --seed S, the same for every shard (each would draw its own otherwise)")
        found = len(submissions)
        submissions = shard_of(submissions, [s.name for s in submissions], index, count)
        print(f"shard {index} of {count}: {len(submissions)} of the {found} submissions", file=sys.stderr)
    for batch in dict.fromkeys(s.batch for s in submissions if s.batch is not None):
        for folder in [p for p in entries(batch) if is_output_folder(p) or p.resolve() == out_dir.resolve()]:
            print(f"{shown_text(str(folder))}: an output folder of the grader, not graded", file=sys.stderr)
        inside = sum(s.batch == batch for s in submissions)
        print(f"{shown_text(str(batch))}: a folder of {inside} submissions; each subfolder and zip in it is graded "
              "under its own name", file=sys.stderr)
    from .report import writable_folder
    from .roster import roster_or_usage_error

    writable_folder(out_dir, "the results")
    _check_regrade(out_dir, course, submissions, regrade_all=args.regrade_all)
    roster = roster_or_usage_error(args.roster) if args.roster else _kept_roster(out_dir)
    seed = args.seed if args.seed is not None else secrets.randbits(31)
    status = grade_all(course, submissions, out_dir=out_dir, jobs=args.jobs, seed=seed,
                       allow_unconfined=args.allow_unconfined, zygote=zygote, gradebook=gradebook,
                       students={folder: s.name for folder, s in roster.items()} if roster else None)
    if roster is not None:
        from .roster import write_lms_files

        unknown = write_lms_files(out_dir, roster, course)
        if unknown:
            print(f"not on the roster (no student columns): {shown_text(', '.join(unknown))}", file=sys.stderr)
        print(f"roster: {out_dir}/grades.csv has student_id, name, email; LMS import file: {out_dir}/lms_grades.csv",
              file=sys.stderr)
    if len(submissions) >= 2 and not args.no_similarity:
        from .similarity_cli import grades_from_csv, write_similarity

        try:
            print(write_similarity(out_dir, submissions, course, grades=grades_from_csv(out_dir / "grades.csv"),
                                   roster=roster), file=sys.stderr)
        except Exception as error:  # noqa: BLE001 - the grades are written; say so and go on
            print(f"similarity.html and similarity.csv not written ({type(error).__name__}: {error})",
                  file=sys.stderr)
    return status


def _check_regrade(out_dir: Path, course, submissions: list[Submission], *, regrade_all: bool) -> None:  # noqa: ANN001
    """Refuse to keep rows of another course version or other points in ``out_dir`` (see `course_version`)."""
    from .course_version import check_regrade
    from .grades_file import backup_path

    note = check_regrade(out_dir, course, [s.name for s in submissions], regrade_all=regrade_all)
    if note is not None:  # --regrade-all: this run's rows start the table afresh; the old one is kept aside
        grades = out_dir / "grades.csv"
        kept = backup_path(grades)
        os.replace(grades, kept)
        print(f"{note}; the old table is kept as {kept}", file=sys.stderr)


def _kept_roster(out_dir: Path) -> dict | None:
    """Without ``--roster``: the roster columns ``out_dir/grades.csv`` already holds, so that a regrade keeps
    them and the LMS file up to date (students with no submission need ``--roster`` again)."""
    from .report_cli import roster_from_rows

    return roster_from_rows([out_dir]) or None


def grade_all(course, submissions: list[Submission], *, out_dir: Path, jobs: int, seed: int,  # noqa: ANN001
              hidden_paths: tuple[str | Path, ...] = (), allow_unconfined: bool = False,
              zygote: Zygote | None = None, gradebook: Gradebook | None = None,
              students: dict[str, str] | None = None) -> int:
    """Grade ``submissions`` and write every report; returns the exit status.

    ``hidden_paths``: more files or folders learner code must not see, besides the grader's own
    files, ``out_dir`` and the submissions (the Gradescope runner hides the rest of ``/autograder``).
    ``allow_unconfined``: grade even where learner code cannot be confined (`UsageError` otherwise).
    ``zygote``: a worker already started (it is closed at the end); by default one is started here.
    ``gradebook``: nbgrader's gradebook to write the grade cells' scores into (the public checks then run too).
    ``students``: submission -> student name (the roster), shown in the class report.
    """
    from ..sandbox.isolation import make_undumpable
    from ..sandbox.unprivileged import UNCONFINED_RISK, grading_mode
    from ..sandbox.worker import SandboxError

    mode = grading_mode()
    if mode.name == "unconfined" and not allow_unconfined:
        if zygote is not None:
            zygote.stop()
        raise UsageError(f"this system allows no unprivileged user namespaces: {UNCONFINED_RISK}; grade as root "
                         "or in a container, or pass --allow-unconfined for submissions you trust")
    if mode.announcement():
        print(mode.announcement(), file=sys.stderr)
    if zygote is None:
        zygote = Zygote()
        zygote.start()  # imports torch in parallel with us
    make_undumpable()
    import torch

    torch.set_num_threads(1)  # checks use small tensors; jobs run in threads and children run beside us
    from .plots import prewarm

    prewarm()  # the class report's matplotlib loads while the children work
    from ..hidden import load_hidden_checks
    from . import report
    from .engine import Grader, SubmissionResult
    from .grades_file import merge_grades

    work_root = Path(tempfile.mkdtemp(prefix="autograder-"))
    if os.geteuid() == 0:
        os.chmod(work_root, 0o711)  # sandbox uids may enter their own copy, not list the others
    private = gradebook.private_paths if gradebook is not None else ()
    hidden = tuple(str(Path(p).resolve()) for p in (out_dir, *_originals(submissions), *hidden_paths, *private))
    checks = load_hidden_checks(s.id for s in course.steps)  # the steps of course.yml
    public = None
    if gradebook is not None:  # a notebook test cell also runs public checks: the gradebook needs their outcomes
        from selfcheck.public import PUBLIC as public
    grader = Grader(course, checks, seed=seed, zygote=zygote, work_root=work_root, hidden_paths=hidden,
                    mode=mode, public_checks=public)
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
    merged = merge_grades(out_dir / "grades.csv", report.grades_csv(ordered, course))
    report.write_atomic(out_dir / "grades.csv", merged.text)
    try:  # every row of grades.csv: this run's results, the kept rows' from their results.json
        from .report_cli import class_results, write_class_files

        everyone, left_out = class_results(out_dir, course, results)
        for problem in left_out:
            print(shown_text(f"not in the class report: {problem}"), file=sys.stderr)
        write_class_files(out_dir, everyone, course, students=students)
    except Exception as error:  # noqa: BLE001 - grades.csv and results.json are written; say so and go on
        print(shown_text(f"report.html and mistakes.csv not written ({type(error).__name__}: {error})"),
              file=sys.stderr)
    if gradebook is not None:
        try:
            print(shown_text(gradebook.write(ordered, {s.name: s.path for s in submissions})), file=sys.stderr)
        except Exception as error:  # noqa: BLE001 - grades.csv and results.json are written; say so
            print(shown_text(f"the gradebook {gradebook.path} was not written ({type(error).__name__}: {error})"),
                  file=sys.stderr)
            failures += 1
    report.print_summary(ordered, course, seed=seed, out_dir=out_dir)
    print(f"{_counted(len(submissions), 'folder')} found, {len(submissions) - failures} graded in "
          f"{time.monotonic() - started:.1f} s; {merged.message}")
    return 1 if failures else 0


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


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
        line = f"{shown_text(result.name)}: {result.score:g}/{result.max_score:g} ({result.elapsed:.1f} s)"
        if self.bar is not None:
            from rich.markup import escape

            self.bar.update(self.task, advance=1, description=escape(line))
        else:
            print(f"[{self.done}/{self.total}] {line}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
