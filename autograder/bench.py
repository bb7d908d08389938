"""``python -m autograder bench``: how fast grading is, measured, not asserted.

Prints, from one run on this machine:

1. ``python -c "import torch"`` (median of a few runs), the floor for any torch grader;
2. the wall time of ``python -m autograder grade`` on one complete submission (default ``--jobs``: its
   steps on two lanes on two cores), and its ratio to 1;
3. the wall time of grading N copies (default 50) with ``--jobs 2``, per submission, the CPU time
   it used (the grader, and the sandbox worker with its children), and where the time went:
   spawning children, their start (stand-ins, confinement, the step's import), calls into learner
   code, cleanup, and the checks' own work in the grader (summed over lanes, so with
   ``--jobs 2`` the phases add up to about twice the wall time);
4. with ``--scale``, the same batch with ``--jobs 1, 2, 4``, then 500 submissions (``--scale-submissions``)
   with the grader's resident memory sampled as submissions finish: time per submission and
   memory in each fifth of the run (linear time and flat memory show as equal rows);
5. the wall time of ``python -m autograder similarity`` on a class of ``--similarity-submissions``
   (default 500) varied submissions: each step file taken from one of the samples, the solutions or
   the stub, renamed per learner, with a helper of the learner's own;
6. with ``--nbgrader``, the wall time of ``nbgrader autograde`` on one submission made of every
   step notebook (the course's own configuration), extrapolated to N submissions, and its ratio
   to the sandboxed grader's batch.

Every grading run is ``python -m autograder grade`` itself, started through a small wrapper that
also writes the sandbox's phase timings (`autograder.sandbox.remote.TIMINGS`) and CPU times.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO_ROOT

COMPLETE = REPO_ROOT / "solutions"  # a complete submission: the reference package

# ``python -m autograder ARGS`` (autograder/__main__.py), then the sandbox's phase timings and CPU times as
# JSON into REPORT.
RUNNER = """
import json, resource, sys
from autograder.cli import exit_process, main
report, sys.argv = sys.argv[1], ["autograder", *sys.argv[2:]]
status = main()
from autograder.sandbox.remote import TIMINGS
own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
with open(report, "w") as handle:
    json.dump({"seconds": TIMINGS.seconds, "counts": TIMINGS.counts,
               "grader_cpu": own.ru_utime + own.ru_stime, "sandbox_cpu": children.ru_utime + children.ru_stime}, handle)
exit_process(status)
"""

PHASE_LABELS = {
    "spawn": "spawn (the worker forks a child)",
    "start": "child start (stand-ins, confinement, import)",
    "calls": "calls into learner code (round trips)",
    "cleanup": "cleanup (kill the child's process tree)",
    "parent": "checks in the grader (their calls excluded)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--submissions", type=int, default=50, metavar="N", help="batch size (default 50)")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs for the batch (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the short measurements (median)")
    parser.add_argument("--scale", action="store_true",
                        help="also grade the batch with --jobs 1, 2 and 4, and a batch of --scale-submissions "
                             "with the grader's memory sampled (slow: minutes)")
    parser.add_argument("--scale-submissions", type=int, default=500, metavar="N",
                        help="batch size for --scale (default 500)")
    parser.add_argument("--similarity-submissions", type=int, default=500, metavar="N",
                        help="class size for timing `similarity` (default 500; 0 skips it)")
    parser.add_argument("--nbgrader", action="store_true",
                        help="also time nbgrader autograde on one submission of every notebook (slow: 1-2 minutes)")


@dataclass
class GradeRun:
    """One ``python -m autograder grade`` run: wall time, CPU, phase timings, progress samples."""

    wall: float
    seconds: dict[str, float]
    counts: dict[str, int]
    grader_cpu: float
    sandbox_cpu: float
    # (seconds since the start, submissions done, the grader's resident memory in MB) at each finished submission
    samples: list[tuple[float, int, float]] = field(default_factory=list)


def timed(command: list[str], **kwargs: object) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def median_of(repeat: int, command: list[str], **kwargs: object) -> float:
    return statistics.median(timed(command, **kwargs) for _ in range(repeat))


def resident_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (0 when it has ended)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def grade(paths: list[Path], out: Path, jobs: int | None, env: dict[str, str], scratch: Path) -> GradeRun:
    """Run ``python -m autograder grade PATHS --out OUT [--jobs JOBS] --seed 1`` and measure it."""
    report = scratch / f"timings-{time.monotonic_ns()}.json"
    command = [sys.executable, "-c", RUNNER, str(report), "grade", *map(str, paths), "--out", str(out),
               *(["--jobs", str(jobs)] if jobs is not None else []), "--seed", "1"]
    started = time.perf_counter()
    samples: list[tuple[float, int, float]] = []
    errors: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                          cwd=REPO_ROOT) as process:
        assert process.stderr is not None
        for line in process.stderr:  # "[k/N] name: score (t s)" as each submission finishes
            errors.append(line)
            if line.startswith("[") and "/" in line.split("]")[0]:
                done = int(line[1:line.index("/")])
                samples.append((time.perf_counter() - started, done, resident_mb(process.pid)))
        status = process.wait()
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"grading failed ({status}): {''.join(errors)[-800:]}")
    data = json.loads(report.read_text())
    return GradeRun(wall, data["seconds"], data["counts"], data["grader_cpu"], data["sandbox_cpu"], samples)


def make_batch(root: Path, count: int) -> Path:
    batch = root / f"batch-{count}"
    if not batch.exists():
        for index in range(count):
            shutil.copytree(COMPLETE / "attention", batch / f"learner{index:04d}" / "attention")
    return batch


def make_varied_class(root: Path, count: int) -> Path:
    """``count`` submissions, each step file one of the samples', the solutions' or the stub, names changed per learner.

    Learner ``i`` takes its ``m``-th module from source ``(i + 7 m) mod 6``, renames ``scores`` and
    ``values`` after itself, and adds a helper of its own: files differ in text, as a real class's do.
    """
    batch = root / f"class-{count}"
    if batch.exists():
        return batch
    samples = REPO_ROOT / "autograder" / "samples"
    origins = [samples / name / "attention" for name in ("complete_einsum", "partial_mistakes", "broken", "stubs_only")]
    origins += [COMPLETE / "attention", REPO_ROOT / "exercises" / "attention"]
    modules = sorted(p.name for p in origins[-1].glob("*.py"))
    for index in range(count):
        package = batch / f"learner{index:04d}" / "attention"
        package.mkdir(parents=True)
        for number, module in enumerate(modules):
            origin = origins[(index + number * 7) % len(origins)] / module
            text = origin.read_text(encoding="utf-8") if origin.is_file() else ""
            text = text.replace("scores", f"scores{index}").replace("values", f"vals{index}")
            text += f"\n\ndef _helper_{index}(x):\n    return x * {index} + {index * 7 % 13} - {number}\n"
            (package / module).write_text(text, encoding="utf-8")
    return batch


def time_similarity(root: Path, count: int, env: dict[str, str]) -> list[tuple[str, str]]:
    """Wall time of ``python -m autograder similarity`` on `make_varied_class` (two processes on two cores)."""
    batch = make_varied_class(root, count)
    command = [sys.executable, "-m", "autograder", "similarity", str(batch), "--out", str(root / "out-similarity")]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed(command, env=env, cwd=REPO_ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return [(f"similarity of {count} varied submissions",
             f"{seconds:6.2f} s  = {1000 * seconds / count:.0f} ms per submission"),
            ("  CPU (the command and its two worker processes)", f"{cpu:6.2f} s")]


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="autograder-bench-") as scratch:
        root = Path(scratch)
        single = root / "one" / "complete"
        shutil.copytree(COMPLETE / "attention", single / "attention")
        torch_import = median_of(args.repeat, [sys.executable, "-c", "import torch"], env=env)
        rows.append(("python -c 'import torch'", f"{torch_import:6.2f} s"))
        # the grader's default --jobs, as a user runs it: a lone submission grades its steps on that many lanes
        one = statistics.median(grade([single], root / "out-one", None, env, root).wall for _ in range(args.repeat))
        rows.append(("grade 1 complete submission", f"{one:6.2f} s  = {one / torch_import:.2f} x the torch import"))
        batch = make_batch(root, args.submissions)
        many = grade([batch], root / "out-batch", args.jobs, env, root)
        rows.append((f"grade {args.submissions} submissions, --jobs {args.jobs}",
                     f"{many.wall:6.2f} s  = {many.wall / args.submissions:.2f} s per submission"))
        rows.append(("  CPU: grader, sandbox worker and children",
                     f"{many.grader_cpu:6.2f} s + {many.sandbox_cpu:.2f} s = "
                     f"{(many.grader_cpu + many.sandbox_cpu) / args.submissions:.2f} s per submission"))
        rows.extend(breakdown(many))
        if args.scale:
            rows.extend(scaling(args, batch, root, env))
        if args.similarity_submissions > 1:
            rows.extend(time_similarity(root, args.similarity_submissions, env))
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
                             f"{projected:6.1f} s  = {projected / many.wall:.1f} x the sandboxed grader's batch"))
    width = max(len(label) for label, _ in rows)
    print(f"benchmark on {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{'as root' if os.geteuid() == 0 else 'as a normal user'}, {datetime.date.today().isoformat()}")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


def breakdown(measured: GradeRun) -> list[tuple[str, str]]:
    """Where the batch's time went, phase by phase (wall seconds summed over lanes)."""
    seconds = dict(measured.seconds)
    seconds["parent"] = max(0.0, seconds.get("checks", 0.0) - seconds.get("calls", 0.0))
    counts = dict(measured.counts, parent=measured.counts.get("checks", 0))
    total = sum(seconds[phase] for phase in PHASE_LABELS) or 1.0
    rows = [("  where the time went (summed over lanes)", "")]
    for phase, label in PHASE_LABELS.items():
        count = max(counts.get(phase, 0), 1)
        rows.append((f"    {label}", f"{seconds[phase]:6.2f} s  {100 * seconds[phase] / total:3.0f} %  "
                                      f"{counts.get(phase, 0):6d} x {1000 * seconds[phase] / count:6.2f} ms"))
    return rows


def scaling(args: argparse.Namespace, batch: Path, root: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """The batch with --jobs 1, 2, 4; then a large batch in fifths: time per submission and the grader's memory."""
    rows: list[tuple[str, str]] = []
    base = None
    for jobs in (1, 2, 4):
        measured = grade([batch], root / f"out-jobs-{jobs}", jobs, env, root)
        base = base or measured.wall
        rows.append((f"grade {args.submissions} submissions, --jobs {jobs}",
                     f"{measured.wall:6.2f} s  = {base / measured.wall:.2f} x --jobs 1"))
    count = args.scale_submissions
    large = make_batch(root, count)
    measured = grade([large], root / "out-scale", args.jobs, env, root)
    rows.append((f"grade {count} submissions, --jobs {args.jobs}",
                 f"{measured.wall:6.1f} s  = {measured.wall / count:.2f} s per submission"))
    previous_time, previous_done = 0.0, 0
    for fifth in range(1, 6):
        goal = count * fifth // 5
        reached = next((s for s in measured.samples if s[1] >= goal), None)
        if reached is None:
            break
        at, done, rss = reached
        per = (at - previous_time) / max(done - previous_done, 1)
        rows.append((f"  submissions {previous_done + 1}-{done}",
                     f"{per:6.3f} s per submission, grader resident memory {rss:5.0f} MB"))
        previous_time, previous_done = at, done
    return rows


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
