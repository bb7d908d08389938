"""The class report of a batch: ``DIR/report.html`` and ``DIR/mistakes.csv``.

``report.html`` is one self-contained page (inline CSS, matplotlib histograms as base64 PNG):
the score distribution; per step its mean, completion and a histogram; the mistakes the checks
named, ranked by how many learners made them, with who made them (with ``--roster``, the students'
names beside their folders); the checks failed most often;
the submissions with notes (not found, empty, crashed, timed out, ...); the seed and the course
version. ``mistakes.csv`` holds the ranked mistakes, one row per (step, mistake).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from html import escape
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..course import Course
from .engine import SubmissionResult
from .feedback_page import STYLE
from .inert import csv_text
from .mistake_tally import failed_checks, mistake_counts, submission_notes
from .plots import histogram_png, score_bins, small_histograms_png

MISTAKES_COLUMNS = ["rank", "step", "mistake", "learners", "share", "submissions"]
TOP_CHECKS = 15


def mistakes_csv(results: list[SubmissionResult], course: Course) -> str:
    """rank, step, mistake, learners (count), share (of the batch), submissions (``;``-separated)."""
    rows: list[list[object]] = [MISTAKES_COLUMNS]
    for rank, (step, mistake, names) in enumerate(mistake_counts(results), start=1):
        rows.append([rank, step, mistake, len(names), f"{len(names) / max(1, len(results)):.3f}", ";".join(names)])
    return csv_text(rows)


def _complete(result: SubmissionResult, step_id: str, points: float) -> bool:
    return math.isclose(result.step_score(step_id), points, abs_tol=1e-9)


def step_statistics(results: list[SubmissionResult], course: Course) -> list[dict]:
    """Per step: number, id, title, points, mean score, completion (share with full points)."""
    rows = []
    for number, step in enumerate(course.steps, start=1):
        scores = [r.step_score(step.id) for r in results]
        done = sum(_complete(r, step.id, step.points) for r in results)
        rows.append({"number": number, "id": step.id, "title": step.title, "points": step.points,
                     "mean": statistics.fmean(scores) if scores else 0.0, "complete": done,
                     "completion": done / len(results) if results else 0.0, "scores": scores})
    return rows


def _picture(draw: Callable[[], str], alt: str) -> str:
    """``<img>`` of what ``draw`` renders; without matplotlib (a grading-only install) a line saying so."""
    try:
        return f'<img alt="{escape(alt)}" src="{draw()}">'
    except ImportError:
        return (f'<p class="meta">({escape(alt)}: needs matplotlib, '
                '<code>pip install -r requirements/course.txt</code>)</p>')


def report_html(results: list[SubmissionResult], course: Course, *, seed: int,
                students: Mapping[str, str] | None = None) -> str:
    """The whole class report; ``students`` (submission -> student name, from ``--roster``) adds their names."""
    students = students or {}

    def who(name: str) -> str:
        return f"{escape(name)} ({escape(students[name])})" if students.get(name) else escape(name)

    scores = [r.score for r in results]
    maximum = course.max_score
    out = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>Class report: {escape(course.title)}</title><style>{STYLE}</style></head><body>",
           f"<p class=\"meta\">Class report</p><h1>{escape(course.title)}</h1>",
           f'<p class="meta">{len(results)} submission(s); seed {seed}; course version {escape(course.version)}; '
           f"grader {escape(__version__)}.</p>"]
    out.append("<h2>Score distribution</h2>")
    if scores:
        out.append(f"<p>Mean {statistics.fmean(scores):.2f}, median {statistics.median(scores):.2f}, "
                   f"min {min(scores):g}, max {max(scores):g} (out of {maximum:g}).</p>")
        out.append(_picture(lambda: histogram_png(scores, bins=score_bins(maximum), title="Total scores",
                                                  xlabel=f"score (out of {maximum:g})"), "histogram of total scores"))
    out.append("<h2>Steps</h2><table><tr><th>#</th><th>step</th><th>points</th><th>mean</th>"
               "<th>complete</th></tr>")
    rows = step_statistics(results, course)
    for row in rows:
        out.append(f'<tr><td class="num">{row["number"]}</td><td><b>{escape(row["id"])}</b>: '
                   f'{escape(row["title"])}</td><td class="num">{row["points"]:g}</td>'
                   f'<td class="num">{row["mean"]:.2f}</td>'
                   f'<td class="num">{row["complete"]} / {len(results)} ({row["completion"]:.0%})</td></tr>')
    out.append("</table>")
    if results:
        panels = [(f"{r['number']}. {r['id']} (of {r['points']:g})", r["scores"], r["points"]) for r in rows]
        out.append("<h3>Scores per step</h3>" + _picture(lambda: small_histograms_png(panels),
                                                         "histograms of the step scores"))
    out.append("<h2>Mistakes the grader recognised</h2>")
    ranked = mistake_counts(results)
    if ranked:
        out.append("<table><tr><th>#</th><th>step</th><th>mistake</th><th>learners</th><th>who</th></tr>")
        for rank, (step, mistake, names) in enumerate(ranked, start=1):
            out.append(f'<tr><td class="num">{rank}</td><td>{escape(step)}</td><td>{escape(mistake)}</td>'
                       f'<td class="num">{len(names)}</td><td>{", ".join(who(n) for n in names)}</td></tr>')
        out.append("</table><p class=\"meta\">Also in mistakes.csv.</p>")
    else:
        out.append("<p>No recognised mistake in this batch.</p>")
    out.append("<h2>Checks failed most often</h2>")
    failed = failed_checks(results)[:TOP_CHECKS]
    if failed:
        out.append("<table><tr><th>check</th><th>step</th><th>what it checks</th><th>failed by</th></tr>")
        for (step, number, title), count in failed:
            out.append(f'<tr><td class="num">{escape(number)}</td><td>{escape(step)}</td><td>{escape(title)}</td>'
                       f'<td class="num">{count} / {len(results)}</td></tr>')
        out.append("</table>")
    else:
        out.append("<p>Every check passed for every submission.</p>")
    out.append("<h2>Submissions with notes</h2>")
    noted = [(r, submission_notes(r)) for r in results]
    noted = [(r, labels) for r, labels in noted if labels or r.notes]
    if noted:
        out.append("<table><tr><th>submission</th><th>score</th><th>what happened</th><th>notes</th></tr>")
        for result, labels in noted:
            out.append(f"<tr><td>{who(result.name)}</td><td class=\"num\">{result.score:g}</td>"
                       f"<td>{escape('; '.join(labels))}</td>"
                       f"<td>{'<br>'.join(escape(n) for n in result.notes)}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>None.</p>")
    out.append("<h2>All submissions</h2><table><tr><th>submission</th>"
               + ("<th>student</th>" if students else "") + "<th>score</th>"
               + "".join(f"<th title=\"{escape(s.id)}\">{n}</th>" for n, s in enumerate(course.steps, start=1))
               + "</tr>")
    for result in results:
        cells = "".join(f'<td class="num">{result.step_score(s.id):g}</td>' for s in course.steps)
        student = f"<td>{escape(students.get(result.name, ''))}</td>" if students else ""
        out.append(f'<tr><td><a href="{escape(quote(result.name))}/feedback.html">{escape(result.name)}</a></td>'
                   f'{student}<td class="num">{result.score:g}</td>{cells}</tr>')
    out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_class_report(out_dir: Path, results: list[SubmissionResult], course: Course, *, seed: int,
                       students: Mapping[str, str] | None = None) -> None:
    """``DIR/report.html`` and ``DIR/mistakes.csv`` for the submissions graded in this run (``students``: the
    roster's names by submission)."""
    from .report import write_atomic

    write_atomic(out_dir / "mistakes.csv", mistakes_csv(results, course))
    write_atomic(out_dir / "report.html", report_html(results, course, seed=seed, students=students))
