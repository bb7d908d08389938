"""What grading writes: Gradescope-format results.json, feedback.html, grades.csv, and the terminal summary."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .. import __version__
from ..course import Course
from . import feedback_page
from .course_version import course_fingerprint
from .engine import SubmissionResult, TestResult
from .inert import csv_text, markdown_text, shown_text, terminal_text


def results_json(result: SubmissionResult, course: Course) -> dict[str, Any]:
    """Gradescope's results.json for one submission (top-level score, tests with tags = step id)."""
    visibility = course.feedback_visibility
    done = [s.id for s in course.steps if all(t.passed for t in result.tests if t.step == s.id)]
    lines = [f"Score: {result.score:g} / {result.max_score:g}. Steps complete: {len(done)} of {len(course.steps)}."]
    lines += [markdown_text(note) for note in result.notes]  # learner file names: inert in markdown
    lines.append(f"Graded with seed {result.seed} by grader {__version__}, course version {course.version}.")
    return {
        "score": result.score,
        "execution_time": round(result.elapsed, 2),
        "output": feedback_page.summary_markdown(result, course, lines),
        "output_format": "md",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "extra_data": {
            "seed": result.seed,
            "course_version": course.version,
            "grader_version": __version__,
            "isolation": result.isolation,
            "isolation_mode": result.isolation_mode,
            "isolation_missing": result.isolation_missing,
            "steps": {s.id: {"score": result.step_score(s.id), "max_score": s.points} for s in course.steps},
            "submission_form": result.form,
            "step_sources": result.sources,
            "course_fingerprint": course_fingerprint(course),
            # for `result_from_json` (the class report, rebuilt from the folder): what `tests` shows as markdown
            "notes": result.notes,
            "checks": [{"check": t.check, "output": t.output} for t in result.tests],
        },
        "tests": [
            {
                "name": f"{t.step}: {t.title}",
                "number": t.number,
                "score": t.score,
                "max_score": t.max_score,
                "status": "passed" if t.passed else "failed",
                "output": feedback_page.test_markdown(t),
                "output_format": "md",
                "tags": [t.step],
                "visibility": visibility,
                "extra_data": {"check": t.check, "mistakes": t.mistakes},  # what the reports tally (never parsed)
            }
            for t in result.tests
        ],
    }


def result_from_json(name: str, data: dict[str, Any]) -> SubmissionResult:
    """The `SubmissionResult` a ``results.json`` written by `results_json` holds (what the class report needs).

    Raises ``KeyError``/``TypeError``/``ValueError`` for a file this grader did not write.
    """
    extra = data["extra_data"]
    checks = extra["checks"]
    tests = []
    for test, check in zip(data["tests"], checks, strict=True):
        step = str(test["tags"][0])
        tests.append(TestResult(step, str(check["check"]), str(test["name"]).removeprefix(f"{step}: "),
                                str(test["number"]), float(test["score"]), float(test["max_score"]),
                                test["status"] == "passed", str(check["output"]),
                                [str(m) for m in (test.get("extra_data") or {}).get("mistakes", [])]))
    return SubmissionResult(name, int(extra["seed"]), tests=tests, notes=[str(n) for n in extra.get("notes", [])],
                            isolation=list(extra.get("isolation", [])),
                            isolation_mode=str(extra.get("isolation_mode", "")),
                            elapsed=float(data.get("execution_time", 0.0)),
                            form=str(extra.get("submission_form", "")), sources=dict(extra.get("step_sources", {})))


def writable_folder(out_dir: Path, what: str) -> None:
    """Make ``out_dir`` and check a file can be written there; else one line (`UsageError`) naming ``what``."""
    from ..errors import UsageError

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise UsageError(f"{out_dir}: cannot write {what} there ({error.strerror})") from None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8", errors="backslashreplace")  # an undecodable file name: \udce9
    os.replace(temporary, path)


def write_results(out_dir: Path, result: SubmissionResult, course: Course) -> Path:
    """``DIR/<name>/results.json`` and the learner's page ``DIR/<name>/feedback.html``."""
    path = out_dir / result.name / "results.json"
    write_atomic(path, json.dumps(results_json(result, course), indent=2) + "\n")
    try:
        write_atomic(out_dir / result.name / "feedback.html", feedback_page.feedback_html(result, course))
    except Exception as error:  # noqa: BLE001 - the page is extra: results.json and the other submissions come first
        print(shown_text(f"{result.name}: feedback.html not written ({type(error).__name__}: {error})"),
              file=sys.stderr)
    return path


def grades_csv(results: list[SubmissionResult], course: Course) -> str:
    """One row per submission: submission, score, max_score, then one column per step id in course order."""
    rows: list[list[str]] = [["submission", "score", "max_score", *course.step_ids]]
    for result in results:
        rows.append([result.name, f"{result.score:g}", f"{result.max_score:g}",
                     *(f"{result.step_score(s):g}" for s in course.step_ids)])
    return csv_text(rows)


def _cell(value: float, compact: bool) -> str:
    """A score for the summary: exact (``4.4444``), or at most 3 characters when ``compact`` (``4.4``)."""
    if not compact:
        return f"{value:g}"
    return f"{value:.0f}" if value >= 9.95 or float(value).is_integer() else f"{value:.1f}"


def summary_rows(results: list[SubmissionResult], course: Course, *, compact: bool = False) -> list[list[str]]:
    """The summary table: a header, then per submission its score and each step's points ("ok": all of them).

    ``compact``: step cells of at most 3 characters, scores to 2 decimals and no time column, so
    that the table fits 80 columns.
    """
    heading = ["submission", f"score/{course.max_score:g}" if compact else "score",
               *[str(n) for n in range(1, len(course.steps) + 1)]]
    rows = [heading if compact else [*heading, "time"]]
    for result in results:
        cells = []
        for step in course.steps:
            got = result.step_score(step.id)
            cells.append("ok" if got == step.points else _cell(got, compact))
        if compact:
            rows.append([result.name, f"{round(result.score, 2):g}", *cells])
        else:
            rows.append([result.name, f"{result.score:g}/{result.max_score:g}", *cells, f"{result.elapsed:.1f}s"])
    return rows


NARROW = 100  # below this console width the summary is compact


def print_summary(results: list[SubmissionResult], course: Course, *, seed: int, out_dir: Path,
                  console: Any = None) -> None:
    """A table of submissions by step (rich on a terminal, plain text otherwise); fits 80 columns."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 200)
    compact = console.width < NARROW
    rows = summary_rows(results, course, compact=compact)
    table = Table(title=f"{course.title}: {len(results)} submission(s), seed {seed}", title_justify="left",
                  box=None if compact else box.HEAVY_HEAD, padding=(0, 1, 0, 0) if compact else (0, 1),
                  pad_edge=not compact, header_style="bold underline" if compact else "bold")
    for index, heading in enumerate(rows[0]):
        if index == 0:
            table.add_column(heading, justify="left", overflow="fold", min_width=10)
        else:
            table.add_column(heading, justify="right", no_wrap=True)
    for row in rows[1:]:
        table.add_row(*(terminal_text(cell) for cell in row))  # a folder name is learner text
    console.print(table)
    legend = "  ".join(f"{n}={s.id}" for n, s in enumerate(course.steps, start=1))
    console.print(f"steps: {legend}", highlight=False)
    where = terminal_text(str(out_dir))
    console.print(f"results: {where}/<submission>/results.json and feedback.html, {where}/grades.csv, "
                  f"{where}/report.html, {where}/mistakes.csv", highlight=False)
