"""A learner's feedback: ``DIR/<submission>/feedback.html``, and the same content as Gradescope markdown.

The page is one self-contained file (inline CSS, inline SVG, no script, no network): per step
the score, each check's title and message, the mistake named where one was recognised, and
heatmaps of the learner's own results on the course's public running example beside the correct
ones (`autograder.grading.public_example`); then what to do next. Every text it shows is either
the course's (step titles), a check's title or message (what results.json already holds), or
computed from the public example: nothing about the hidden inputs.
"""

from __future__ import annotations

import math
from html import escape

from .. import __version__
from ..course import Course, Step
from ..notebook_ids import question_id
from .engine import SubmissionResult, TestResult
from .inert import markdown_block, markdown_text
from .mistake_tally import NOT_FOUND, message_without_mistakes, submission_notes
from .plots import heatmap_svg
from .public_example import Example, examples_for, expected_matrix

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#1a202c;background:#fff;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #e2e8f0}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.meta{color:#4a5568;font-size:.9rem}.score{font-size:1.3rem;font-weight:600}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #e2e8f0;padding:.25rem .6rem;text-align:left}
th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#22543d;background:#f0fff4}.part{color:#744210;background:#fffff0}.bad{color:#742a2a;background:#fff5f5}
ul.checks{list-style:none;padding-left:0}
ul.checks li{margin:.45rem 0;padding:.35rem .6rem;border-left:4px solid #cbd5e0}
ul.checks li.pass{border-color:#38a169}ul.checks li.fail{border-color:#e53e3e}
pre{white-space:pre-wrap;background:#f7fafc;padding:.4rem .6rem;margin:.3rem 0;font-size:.85rem;border-radius:4px}
.mistake{background:#fefcbf;border:1px solid #ecc94b;padding:.3rem .6rem;border-radius:4px;margin:.3rem 0}
.pair{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}.pair figure{margin:0}
figcaption{font-size:.85rem;color:#4a5568;margin-bottom:.2rem}.missing{color:#742a2a;font-size:.9rem;max-width:380px}
img{max-width:100%;height:auto}.next{background:#ebf8ff;border:1px solid #90cdf4;padding:.6rem 1rem;border-radius:6px}
"""


def _status(got: float, points: float) -> str:
    if points and math.isclose(got, points, abs_tol=1e-9):
        return "ok"
    return "part" if got > 0 else "bad"


def step_tests(result: SubmissionResult, step: Step) -> list[TestResult]:
    return [t for t in result.tests if t.step == step.id]


def next_steps(result: SubmissionResult, course: Course) -> list[str]:
    """What the learner should do next, most useful first (plain text; `code` in backticks)."""
    notes = submission_notes(result)
    advice: list[str] = []
    if NOT_FOUND in notes:
        advice.append("Hand in your `attention/` folder (the `attention/<module>.py` files, laid out as in the "
                      "`attention-course/` folder you were given) or your step notebooks: nothing gradable was found "
                      "in this submission.")
        return advice
    if not result.tests:
        return ["Your submission could not be graded (see the notes above): please tell your instructor."]
    unfinished = [(n, s) for n, s in enumerate(course.steps, start=1)
                  if not math.isclose(result.step_score(s.id), s.points, abs_tol=1e-9) and s.points > 0]
    if not unfinished:
        return ["Every step passes every check: nothing left to do. Well done."]
    number, step = unfinished[0]
    failed = [t for t in step_tests(result, step) if not t.passed]
    text = (f"Work on step {number}, `{step.id}` ({step.title}), next: {len(failed)} of "
            f"{len(step_tests(result, step))} checks fail. Run `pytest -k {step.id}` in your `attention-course/` "
            "folder: the self-checks test the same things on public inputs.")
    if all(t.check.startswith(question_id("")) for t in failed):  # only its concept questions: pytest cannot help
        text = (f"Step {number}, `{step.id}`: your code passes; its concept questions are not all answered right "
                f"yet ({', '.join(t.title for t in failed)}): answer them in `attention/answers.py` or the notebook.")
    advice.append(text)
    mistakes = [m for t in failed for m in t.mistakes]
    for mistake in dict.fromkeys(mistakes):
        advice.append(f"In `{step.id}`, look for this mistake: {mistake}.")
    if len(unfinished) > 1:
        rest = ", ".join(f"{n} `{s.id}`" for n, s in unfinished[1:])
        advice.append(f"Then the other unfinished steps: {rest}.")
    if any(label.startswith(("timed out", "crashed")) for label in notes):
        advice.append("Some code ran out of time or ended its process: look for endless loops, `sys.exit`, "
                      "or very large tensors in the steps named below.")
    return advice


def shown_points(value: float) -> str:
    """Points as a page shows them: at most 2 decimals (``0.4287`` -> ``0.43``); results.json and grades.csv
    keep them exact."""
    return f"{round(value, 2):g}"


def _code(text: str) -> str:
    """Escape ``text`` and render `backticks` as <code>."""
    parts = escape(text).split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def _heatmaps_html(example: Example, learner: list[list[float]] | str | None) -> str:
    expected = expected_matrix(example)
    values = [v for row in expected for v in row if math.isfinite(v)]
    if isinstance(learner, list):
        values += [v for row in learner for v in row if math.isfinite(v)]
    low, high = min(values, default=0.0), max(values, default=1.0)
    if isinstance(learner, list):
        mine = heatmap_svg(learner, example.rows, example.columns, low=low, high=high, label="your result")
    else:
        reason = learner or "your code was not run on the example (this step's checks could not run it)"
        mine = f'<p class="missing">No result from your code: {escape(reason)}</p>'
    correct = heatmap_svg(expected, example.rows, example.columns, low=low, high=high, label="correct result")
    return (f"<h4>{escape(example.title)}</h4><p class=\"meta\">On the example: <code>{escape(example.call)}</code>"
            f"</p><div class=\"pair\"><figure><figcaption>Your code</figcaption>{mine}</figure>"
            f"<figure><figcaption>Correct</figcaption>{correct}</figure></div>")


def _test_html(test: TestResult) -> str:
    mark = "✓" if test.passed else "✗"
    body = f'<li class="{"pass" if test.passed else "fail"}"><b>{mark} {escape(test.number)}</b> {escape(test.title)} '
    body += f'<span class="meta">({shown_points(test.score)} / {shown_points(test.max_score)})</span>'
    if not test.passed:
        body += f"<pre>{escape(message_without_mistakes(test))}</pre>"
        for mistake in test.mistakes:
            body += f'<div class="mistake"><b>Mistake recognised:</b> {escape(mistake)}</div>'
    return body + "</li>"


def feedback_html(result: SubmissionResult, course: Course) -> str:
    """The whole page for one submission."""
    title = f"{result.name}: {course.title}"
    out = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>Feedback: {escape(title)}</title><style>{STYLE}</style></head><body>",
           f"<p class=\"meta\">{escape(course.title)}: feedback</p><h1>{escape(result.name)}</h1>",
           f'<p class="score">Score: {shown_points(result.score)} / {shown_points(result.max_score)}</p>',
           f'<p class="meta">Graded with seed {result.seed} by grader {escape(__version__)}, course version '
           f"{escape(course.version)}.</p>"]
    if result.notes:
        out.append("<h2>Notes on your submission</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in result.notes)
                   + "</ul>")
    out.append('<h2>What to do next</h2><div class="next"><ul>'
               + "".join(f"<li>{_code(a)}</li>" for a in next_steps(result, course)) + "</ul></div>")
    out.append("<h2>Steps</h2><table><tr><th>#</th><th>step</th><th>score</th><th>checks passed</th></tr>")
    for number, step in enumerate(course.steps, start=1):
        tests = step_tests(result, step)
        got = result.step_score(step.id)
        out.append(f'<tr class="{_status(got, step.points)}"><td class="num">{number}</td>'
                   f'<td><a href="#step-{escape(step.id)}">{escape(step.id)}</a>: {escape(step.title)}</td>'
                   f'<td class="num">{shown_points(got)} / {shown_points(step.points)}</td>'
                   f'<td class="num">{sum(t.passed for t in tests)} / {len(tests)}</td></tr>')
    out.append("</table>")
    for number, step in enumerate(course.steps, start=1):
        tests = step_tests(result, step)
        got = result.step_score(step.id)
        out.append(f'<h2 id="step-{escape(step.id)}">Step {number}: {escape(step.id)} '
                   f'<span class="meta">({escape(step.title)})</span></h2>'
                   f'<p class="{_status(got, step.points)}"><b>{shown_points(got)} / {shown_points(step.points)}</b> '
                   'points, '
                   f"{sum(t.passed for t in tests)} of {len(tests)} checks passed</p>")
        out.append('<ul class="checks">' + "".join(_test_html(t) for t in tests) + "</ul>")
        examples = examples_for(step.id)
        if examples:
            out.append("<h3>On the course's example, \u201cThe sun rises in the east\u201d</h3>")
            learner = result.examples.get(step.id, {})
            out.extend(_heatmaps_html(e, learner.get(e.name)) for e in examples)
    out.append("</body></html>")
    return "\n".join(out)


# -- the same content for Gradescope (markdown) ------------------------------------------------------------


def _matrix_md(matrix: list[list[float]], rows: tuple[str, ...], columns: tuple[str, ...]) -> str:
    def cell(value: float) -> str:
        return f"{value:.2f}" if math.isfinite(value) else str(value)

    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| **{name}** | " + " | ".join(cell(v) for v in row) + " |" for name, row in zip(rows, matrix,
                                                                                                  strict=True)]
    return "\n".join(lines)


def _same(mine: list[list[float]], correct: list[list[float]], tolerance: float = 1e-4) -> bool:
    return all(abs(a - b) <= tolerance or (math.isinf(a) and a == b) for row_a, row_b in zip(mine, correct, strict=True)
               for a, b in zip(row_a, row_b, strict=True))


def examples_markdown(result: SubmissionResult, step: Step) -> str:
    """The step's example matrices (yours, then the correct one) as markdown tables; '' when none."""
    parts = []
    learner = result.examples.get(step.id, {})
    for example in examples_for(step.id):
        mine = learner.get(example.name)
        parts.append(f"**{example.title}**, on the example: `{example.call}`")
        correct = expected_matrix(example)
        if isinstance(mine, list) and _same(mine, correct):
            parts.append("Your code gives the correct result:\n\n" + _matrix_md(correct, example.rows, example.columns))
            continue
        if isinstance(mine, list):
            parts.append("Your code:\n\n" + _matrix_md(mine, example.rows, example.columns))
        else:
            parts.append(f"Your code: no result ({markdown_text(mine or 'not run on the example')}).")
        parts.append("Correct:\n\n" + _matrix_md(correct, example.rows, example.columns))
    return "\n\n".join(parts)


def test_markdown(test: TestResult) -> str:
    """One test's output for Gradescope (``output_format: md``): the message in a code block, the mistake named."""
    if test.passed:
        return "passed"
    text = markdown_block(message_without_mistakes(test))
    for mistake in test.mistakes:
        text += f"\n\n**Mistake recognised:** {markdown_text(mistake)}"
    return text


def summary_markdown(result: SubmissionResult, course: Course, lines: list[str]) -> str:
    """The top-level output for Gradescope: ``lines`` (score, notes, seed), what to do next, the examples."""
    parts = ["\n\n".join(lines), "### What to do next", "\n".join(f"- {a}" for a in next_steps(result, course))]
    for number, step in enumerate(course.steps, start=1):
        shown = examples_markdown(result, step) if step.id in result.examples else ""  # code that ran on it only
        if shown:
            parts += [f"### Step {number}, `{step.id}`: your code on the example \u201cThe sun rises in the east\u201d",
                      shown]
    return "\n\n".join(parts)
