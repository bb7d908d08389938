"""``python -m autograder bench``: how fast grading is, measured, not asserted.

Prints, from one run on this machine:

1. ``python -c "import torch"`` (median of a few runs), the floor for any torch grader;
2. the wall time of ``python -m autograder grade`` on one complete submission, and its ratio to 1;
3. the wall time of grading N copies (default 50) with ``--jobs 2``, per submission;
4. with ``--nbgrader``, the wall time of ``nbgrader autograde`` on one submission made of every
   step notebook (the course's own configuration), extrapolated to N submissions, and its ratio
   to the sandboxed grader's batch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import REPO_ROOT

COMPLETE = REPO_ROOT / "solutions"  # a complete submission: the reference package


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submissions", type=int, default=50, metavar="N", help="batch size (default 50)")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs for the batch (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the short measurements (median)")
    parser.add_argument("--nbgrader", action="store_true",
                        help="also time nbgrader autograde on one submission of every notebook (slow: 1-2 minutes)")


def timed(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def median_of(repeat: int, command: list[str], **kwargs: object) -> float:
    return statistics.median(timed(command, **kwargs) for _ in range(repeat))


def grade_command(paths: list[Path], out: Path, jobs: int) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", *map(str, paths), "--out", str(out),
            "--jobs", str(jobs), "--seed", "1"]


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="autograder-bench-") as scratch:
        root = Path(scratch)
        single = root / "one" / "complete"
        shutil.copytree(COMPLETE / "attention", single / "attention")
        torch_import = median_of(args.repeat, [sys.executable, "-c", "import torch"], env=env)
        rows.append(("python -c 'import torch'", f"{torch_import:6.2f} s"))
        one = median_of(args.repeat, grade_command([single], root / "out-one", 1), env=env, cwd=REPO_ROOT)
        rows.append(("grade 1 complete submission", f"{one:6.2f} s  = {one / torch_import:.2f} x the torch import"))
        batch_dir = root / "batch"
        for index in range(args.submissions):
            shutil.copytree(single / "attention", batch_dir / f"learner{index:03d}" / "attention")
        many = timed(grade_command([batch_dir], root / "out-batch", args.jobs), env=env, cwd=REPO_ROOT)
        rows.append((f"grade {args.submissions} submissions, --jobs {args.jobs}",
                     f"{many:6.2f} s  = {many / args.submissions:.2f} s per submission"))
        if args.nbgrader:
            measured = time_nbgrader(root, env)
            if measured is None:
                rows.append(("nbgrader autograde", "skipped: no notebooks in solutions/notebooks"))
            else:
                per_submission, notebooks = measured
                projected = per_submission * args.submissions
                rows.append((f"nbgrader autograde, 1 submission ({notebooks} notebooks)",
                             f"{per_submission:6.2f} s  = {per_submission / notebooks:.2f} s per notebook"))
                rows.append((f"  x {args.submissions} submissions (projected)",
                             f"{projected:6.1f} s  = {projected / many:.1f} x the sandboxed grader's batch"))
    width = max(len(label) for label, _ in rows)
    print(f"benchmark on {os.cpu_count()} cores, {sys.version.split()[0]}")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


def time_nbgrader(root: Path, env: dict[str, str]) -> tuple[float, int] | None:
    """Seconds for ``nbgrader autograde`` of one student handing in every step notebook, and their count.

    The course's own nbgrader configuration and notebooks, in a scratch course folder (as the
    README's "Grade notebooks with nbgrader" does from the repository root).
    """
    from .notebook_ids import ASSIGNMENT

    source = REPO_ROOT / "solutions" / "notebooks"
    if not any(source.glob("*.ipynb")):
        return None
    course = root / "nbgrader-course"
    course.mkdir()
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(source, course / "solutions" / ASSIGNMENT, ignore=shutil.ignore_patterns("__pycache__", "src"))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    timed([*nbgrader, "generate_assignment", ASSIGNMENT, "--force"], cwd=course, env=env)
    submitted = course / "submitted" / "student" / ASSIGNMENT
    submitted.parent.mkdir(parents=True)
    shutil.copytree(course / "exercises" / ASSIGNMENT, submitted)
    notebooks = len(list(submitted.glob("*.ipynb")))
    return timed([*nbgrader, "autograde", ASSIGNMENT, "--force"], cwd=course, env=env), notebooks
