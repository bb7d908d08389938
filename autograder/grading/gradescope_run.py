"""Gradescope's ``run_autograder``: grade ``/autograder/submission`` into ``/autograder/results/results.json``.

``python -m autograder.grading.gradescope_run [--root /autograder] [--seed S]``, run by the
``run_autograder`` script of the Gradescope zip (`autograder.build.gradescope`) as root.

It grades with `autograder.grading.cli.grade_all`, the engine of ``python -m autograder grade``:
the same intake (`autograder.grading.intake`: the ``attention`` folder, a folder one level down,
a ``.zip``, loose module files or the step notebooks, found and copied safely), the same hidden
checks, the same ``course.yml`` limits, the same sandbox (learner code runs as an unprivileged uid
in a private mount namespace). Besides what ``grade`` hides, learner code cannot see the rest of
``/autograder`` (the submission metadata, the results folder, the grader's source).

Every upload, however wrong, gets a results file with a score and the intake's notes (an upload
holding nothing gradable scores 0 with "Found at the top of your submission: ..."). The results
file is written atomically; when the grader itself cannot run, no results file is written and the
exit status is non-zero (Gradescope then reports an autograder failure instead of a silent 0).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from .. import REPO_ROOT

NAME = "submission"
SEED_FILE = REPO_ROOT / "seed.txt"  # written by `export gradescope --seed S`


def private_paths(root: Path) -> list[Path]:
    """What learner code must not see in ``root`` (``/autograder``) beyond what ``grade`` hides.

    Everything but the Python the grader runs on (a venv under ``root``) and, in ``source/``, the
    public check library (``exercises/``, needed on ``sys.path``).
    """
    python_homes = [Path(p).resolve() for p in {sys.prefix, sys.exec_prefix}]
    hidden = []
    for entry in _listing(root):
        resolved = entry.resolve()
        if entry.name == "source" or any(h == resolved or resolved in h.parents for h in python_homes):
            continue
        hidden.append(entry)
    source = root / "source"
    hidden += [entry for entry in _listing(source) if entry.name != "exercises"]
    return hidden


def _listing(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _seed(given: int | None) -> int:
    if given is not None:
        return given
    if os.environ.get("AUTOGRADER_SEED"):
        return int(os.environ["AUTOGRADER_SEED"])
    if SEED_FILE.is_file():
        return int(SEED_FILE.read_text().strip())
    return secrets.randbits(31)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"),
                        help="the /autograder folder (default: $AUTOGRADER_ROOT or /autograder)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: $AUTOGRADER_SEED, seed.txt, or fresh)")
    args = parser.parse_args(argv)

    from ..course import COURSE_FILE, CourseError, load_course
    from ..errors import UsageError
    from .cli import grade_all
    from .intake import Submission

    root = Path(args.root).resolve()
    results_file = root / "results" / "results.json"
    try:
        course = load_course(COURSE_FILE, package_dir=None)  # the solutions are not shipped to Gradescope
    except CourseError as error:
        print(f"run_autograder: {error}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        out_dir = work / "grades"
        try:
            status = grade_all(course, [Submission(NAME, root / "submission")], out_dir=out_dir, jobs=1,
                               seed=_seed(args.seed), hidden_paths=tuple(private_paths(root)))
        except UsageError as error:
            print(f"run_autograder: the grader could not run: {error}", file=sys.stderr)
            return 2
        graded = out_dir / NAME / "results.json"
        if status != 0 or not graded.is_file():
            print("run_autograder: the grader failed on this submission; no results were written", file=sys.stderr)
            return 1
        results = json.loads(graded.read_text(encoding="utf-8"))
        print(f"run_autograder: submission form: {results['extra_data'].get('submission_form')}", file=sys.stderr)
        results_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = results_file.with_name(".results.json.tmp")
        temporary.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, results_file)
        print(f"run_autograder: wrote {results_file} (score {results['score']:g})", file=sys.stderr)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
