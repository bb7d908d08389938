"""``DIR/similarity.html`` and ``DIR/similarity.csv``: the similarity report of a batch, for a human to review.

The page (self-contained: inline CSS and SVG, no script, no network) shows what it claims and what
it does not, the distribution of every pair's score (a log scale, so that a few outliers among
thousands of pairs stay visible), the pairs ranked by score with the steps where their overlap
lies and both students' grades, a side-by-side view of each top pair with the shared regions
highlighted per step file, and the submissions that match the instructor's solutions or follow
the article. Every text from a submission (folder names, roster names, code) is HTML-escaped;
every CSV cell that a spreadsheet would read as a formula is neutralised.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

from ..course import Course
from .feedback_page import STYLE
from .inert import csv_text
from .roster import Student
from .similarity import FLAG_SCORE, FLAG_SHARED, OTHER, Pair, SimilarityResult, file_keys, highlighted_slices

TOP_PAIRS = 50  # pairs in the ranked table
TOP_VIEWS = 20  # pairs with a side-by-side view
BINS = 20
CSV_COLUMNS = ["rank", "submission_a", "submission_b", "score", "shared_fingerprints", "review", "steps",
               "grade_a", "grade_b", "name_a", "name_b"]
PAGE_STYLE = STYLE + """
.claim{background:#ebf8ff;border:1px solid #90cdf4;padding:.6rem 1rem;border-radius:6px}
tr.review td{background:#fffff0}.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:.8rem}
.side pre{overflow-x:auto;white-space:pre;font-size:.78rem;max-height:32rem}
mark{background:#fbd38d;color:inherit}section.view{border-top:1px solid #e2e8f0;margin-top:1.5rem}
"""


def _steps(pair: Pair, course: Course) -> str:
    keys = file_keys(course)
    return ", ".join(f"{'+'.join(keys.get(key) or [OTHER])} ({count})" for key, count in pair.files.items())


def _who(name: str, roster: dict[str, Student] | None) -> str:
    student = (roster or {}).get(name)
    return f"{student.name} ({name})" if student and student.name else name


def similarity_csv(result: SimilarityResult, course: Course, *, grades: dict[str, str] | None = None,
                   roster: dict[str, Student] | None = None) -> str:
    """One row per pair sharing distinctive code, highest score first (see `CSV_COLUMNS`)."""
    grades = grades or {}
    rows: list[list[object]] = [list(CSV_COLUMNS)]
    for rank, pair in enumerate(result.pairs, start=1):
        names = [(roster or {}).get(n) for n in (pair.first, pair.second)]
        rows.append([rank, pair.first, pair.second, f"{pair.score:.3f}", pair.shared, "yes" if pair.flagged else "",
                     _steps(pair, course), grades.get(pair.first, ""), grades.get(pair.second, ""),
                     *(s.name if s else "" for s in names)])
    return csv_text(rows)


def histogram_svg(scores: list[float], *, threshold: float = FLAG_SCORE, width: int = 640, height: int = 220) -> str:
    """Bars of pair counts per score bin (0 to 1), heights on a log scale, the review threshold dashed."""
    counts = [0] * BINS
    for score in scores:
        counts[min(BINS - 1, int(score * BINS))] += 1
    left, bottom, top = 40, 30, 12
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = math.log10(max(counts, default=0) + 1) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
             "<title>pairs of submissions per similarity score (log scale)</title>"]
    bar = plot_w / BINS
    for index, count in enumerate(counts):
        tall = plot_h * math.log10(count + 1) / peak
        x = left + index * bar
        colour = "#c05621" if (index + 1) / BINS > threshold else "#2b6cb0"
        if count:
            parts.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - tall:.1f}" width="{bar - 2:.1f}" '
                         f'height="{tall:.1f}" fill="{colour}"/>'
                         f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - tall - 2:.1f}" text-anchor="middle">'
                         f"{count}</text>")
    for tick in range(0, 11, 2):
        x = left + plot_w * tick / 10
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle">{tick / 10:g}</text>')
    limit = left + plot_w * threshold
    parts.append(f'<line x1="{limit:.1f}" y1="{top}" x2="{limit:.1f}" y2="{top + plot_h}" stroke="#c05621" '
                 f'stroke-dasharray="4 3"/><line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
                 f'y2="{top + plot_h}" stroke="#4a5568"/>'
                 f'<text x="{left + plot_w / 2:.0f}" y="{height - 2}" text-anchor="middle">similarity score '
                 f"(share of the smaller side's distinctive code)</text>"
                 f'<text x="10" y="{top + plot_h / 2:.0f}" transform="rotate(-90 10 {top + plot_h / 2:.0f})" '
                 f'text-anchor="middle">pairs (log scale)</text></svg>')
    return "".join(parts)


def _marked(code: str, slices: np.ndarray) -> str:
    """``code`` escaped, every line that a slice (copydetect's start and end positions) touches in ``<mark>``.

    Whole lines: copydetect's positions in the original text can be a few characters off.
    """
    lines = code.splitlines()
    starts = np.cumsum([0] + [len(line) + 1 for line in lines])
    marked: set[int] = set()
    if getattr(slices, "size", 0):
        for start, end in zip(*np.asarray(slices, dtype=np.int64), strict=True):
            first = int(np.searchsorted(starts, start, side="right")) - 1
            last = int(np.searchsorted(starts, max(start, end - 1), side="right")) - 1
            marked.update(range(first, last + 1))
    return "\n".join(f"<mark>{escape(line)}</mark>" if n in marked and line.strip() else escape(line)
                     for n, line in enumerate(lines))


def _view(result: SimilarityResult, pair: Pair, rank: int, course: Course, grades: dict[str, str],
          roster: dict[str, Student] | None) -> list[str]:
    keys = file_keys(course)
    out = [f'<section class="view" id="pair-{rank}"><h3>#{rank}: {escape(_who(pair.first, roster))} and '
           f"{escape(_who(pair.second, roster))}</h3>",
           f'<p>Score {pair.score:.0%}; {pair.shared} shared fingerprints; grades '
           f"{escape(grades.get(pair.first, 'not graded'))} and {escape(grades.get(pair.second, 'not graded'))}. "
           'Highlighted: code the two share that the stubs, the solutions, the article and the class do not '
           '(<a href="#pairs">back to the ranking</a>).</p>']
    for key in pair.files:
        first, second = highlighted_slices(result, pair, key)
        label = "+".join(keys.get(key) or [OTHER])
        out.append(f"<h4>{escape(label)} ({pair.files[key]} shared)</h4><div class=\"side\">")
        for name, slices in ((pair.first, first), (pair.second, second)):
            out.append(f"<div><p class=\"meta\">{escape(_who(name, roster))}</p>"
                       f"<pre>{_marked(result.studied[name].codes.get(key, ''), slices)}</pre></div>")
        out.append("</div>")
    out.append("</section>")
    return out


def similarity_html(result: SimilarityResult, course: Course, *, grades: dict[str, str] | None = None,
                    roster: dict[str, Student] | None = None) -> str:
    """The whole page (module docstring)."""
    grades = grades or {}
    keys = file_keys(course)
    n = len(result.names)
    out = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>Similarity: {escape(course.title)}</title><style>{PAGE_STYLE}</style></head><body>",
           f"<p class=\"meta\">Similarity report</p><h1>{escape(course.title)}</h1>",
           f"<p class=\"meta\">{n} submission(s), {result.pair_count} pairs compared, "
           f"{len(result.pairs)} share some distinctive code, {len(result.flagged)} marked for review.</p>",
           '<div class="claim"><p><b>Similarity for a human to review, never a verdict.</b> A high score says two '
           "submissions share more code than the rest of the class shares; it does not say who wrote it, or "
           "that anyone copied: read the code side by side, and talk to the students, before concluding "
           "anything.</p><p>Not counted: the released stubs (signatures, docstrings, imports); code matching the "
           "instructor's solutions or the article's listings (listed per submission below instead); code that "
           f"more than {result.common_limit} of the {n} submissions share (common idioms). Names, comments, "
           "whitespace and the order of functions do not matter. "
           f"Marked for review: a score of at least {FLAG_SCORE:.0%} with at least {FLAG_SHARED} shared "
           "fingerprints.</p></div>"]
    for note in result.notes:
        out.append(f"<p class=\"meta\">Note: {escape(note)}.</p>")
    out.append("<h2>Distribution of pair scores</h2>")
    zeros = [0.0] * (result.pair_count - len(result.pairs))
    out.append(histogram_svg([p.score for p in result.pairs] + zeros))
    out.append('<h2 id="pairs">Pairs ranked by similarity</h2>')
    if result.pairs:
        out.append("<table><tr><th>#</th><th>submission</th><th>submission</th><th>score</th><th>shared</th>"
                   "<th>steps where the overlap lies (shared fingerprints)</th><th>grades</th><th>review</th></tr>")
        for rank, pair in enumerate(result.pairs[:TOP_PAIRS], start=1):
            link = (f'<a href="#pair-{rank}">{rank}</a>' if rank <= TOP_VIEWS else str(rank))
            out.append(f'<tr class="{"review" if pair.flagged else ""}"><td class="num">{link}</td>'
                       f"<td>{escape(_who(pair.first, roster))}</td><td>{escape(_who(pair.second, roster))}</td>"
                       f'<td class="num">{pair.score:.0%}</td><td class="num">{pair.shared}</td>'
                       f"<td>{escape(_steps(pair, course))}</td>"
                       f"<td>{escape(grades.get(pair.first, 'not graded'))} / "
                       f"{escape(grades.get(pair.second, 'not graded'))}</td>"
                       f"<td>{'worth a look' if pair.flagged else ''}</td></tr>")
        out.append(f"</table><p class=\"meta\">Every pair sharing distinctive code is in similarity.csv "
                   f"({len(result.pairs)} rows).</p>")
    else:
        out.append("<p>No two submissions share code beyond the stubs, the solutions, the article and what the "
                   "class has in common.</p>")
    out.append("<h2>Matches to the solutions and the article, per submission</h2>")
    rows = [(name, result.solution_steps.get(name, {}), result.article_steps.get(name, {})) for name in result.names]
    rows = [row for row in rows if row[1] or row[2]]
    if rows:
        out.append("<p>A submission matching the reference solution may hold a leaked solution, worth a look; "
                   "following the article is expected. Neither counts as similarity between two learners.</p>"
                   "<table><tr><th>submission</th><th>grade</th><th>matches the reference solution</th>"
                   "<th>follows the article</th></tr>")

        def listed(shares: dict[str, float]) -> str:
            return ", ".join(f"{'+'.join(keys.get(k) or [OTHER])} ({v:.0%})" for k, v in shares.items())

        for name, solution, article in rows:
            out.append(f"<tr><td>{escape(_who(name, roster))}</td><td>{escape(grades.get(name, 'not graded'))}</td>"
                       f"<td>{escape(listed(solution))}</td><td>{escape(listed(article))}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No submission matches the solutions or the article in a step.</p>")
    noted = [(name, result.studied[name].notes) for name in result.names if result.studied[name].notes]
    if noted:
        out.append("<h2>Not compared in full</h2><ul>" + "".join(
            f"<li>{escape(_who(name, roster))}: {escape('; '.join(notes))}</li>" for name, notes in noted) + "</ul>")
    if result.pairs:
        out.append("<h2>Side by side</h2>")
        for rank, pair in enumerate(result.pairs[:TOP_VIEWS], start=1):
            out.extend(_view(result, pair, rank, course, grades, roster))
    out.append("</body></html>")
    return "\n".join(out)
