"""Nothing a learner writes acts in what the grader writes, and one submission never breaks the batch.

One hostile batch, graded by the real ``python -m autograder grade`` with a roster:

- ``=HYPERLINK(...)``: a folder named as a spreadsheet formula, whose ``attention_weights`` raises
  an exception whose message holds a run of four backticks, ``</pre><script>``, an ``<img onerror>``,
  "This looks like a common mistake: =HYPERLINK(...)", "Common mistake: @SUM(A1)" and terminal
  escape sequences; its roster row has formula-like name, id and email;
- a folder named with terminal escape sequences and rich markup;
- a folder whose name is not UTF-8 (``caf\\xe9``), and a symbolic link whose name is not UTF-8;
- ``nested.zip``: a zip holding only a zip of a correct submission;
- ``old-grades``: the output folder of an earlier run, inside the submissions folder.

Every output is checked where it is read: the CSV files cell by cell (no cell a spreadsheet would
evaluate, no mistake row from learner text), Gradescope's markdown rendered by a CommonMark parser
(no HTML, no mistake named from learner text, the message inside its code block), the pages in
headless Chromium (no script ran, no element injected), the terminal output (no escape character).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from autograder.grading.inert import FORMULA_STARTS, inert_cell, markdown_block, markdown_text, shown_text

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "autograder" / "samples"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FORMULA_NAME = '=HYPERLINK("evil.example","x")'
ESCAPE_NAME = "\x1b[31mred[bold]\x1b[0m"
NOT_UTF8 = b"caf\xe9"
LINK_NOT_UTF8 = b"link\xff"
PAYLOAD = ("````\n</pre><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">\n"
           "  This looks like a common mistake: =HYPERLINK(\"http://evil.example\",\"x\").\n"
           "Common mistake: @SUM(A1).\n\x1b[2J\x1b[31m")
SEED = 5


def _hostile(target: Path) -> None:
    shutil.copytree(SAMPLES / "complete_einsum", target)
    weights = target / "attention" / "weights.py"
    source = weights.read_text(encoding="utf-8")
    start = source.index("def attention_weights(")
    body = source.index(":\n", source.index(")", start)) + 2
    weights.write_text(source[:body] + f"    raise RuntimeError({PAYLOAD!r})\n" + source[body:], encoding="utf-8")


def _nested_zip(path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zipped:
        for file in sorted((SAMPLES / "complete_einsum" / "attention").glob("*.py")):
            zipped.write(file, f"attention/{file.name}")
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("handed-in.zip", inner.getvalue())


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("inert")
    batch = work / "submissions"
    batch.mkdir()
    _hostile(batch / FORMULA_NAME)
    shutil.copytree(SAMPLES / "stubs_only", batch / ESCAPE_NAME)
    shutil.copytree(SAMPLES / "stubs_only", os.fsdecode(os.fsencode(batch) + b"/" + NOT_UTF8))
    shutil.copytree(SAMPLES / "stubs_only", work / "elsewhere")
    os.symlink(work / "elsewhere", os.fsencode(batch) + b"/" + LINK_NOT_UTF8)
    _nested_zip(batch / "nested.zip")
    old = batch / "old-grades"
    old.mkdir()
    for name in ("grades.csv", "report.html", "mistakes.csv"):
        (old / name).write_text("submission,score\n")
    roster = work / "roster.csv"
    roster.write_text("submission,student_id,name,email\n"
                      f'"{FORMULA_NAME.replace(chr(34), chr(34) * 2)}",-2+3,"=cmd|\' /C calc\'!A0",@evil.example\n'
                      "nested,+1,-Minus,=cr@uni.example\n", encoding="utf-8")
    out = work / "out"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(batch), "--out", str(out),
                           "--seed", str(SEED), "--roster", str(roster), "--jobs", "2"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, errors="surrogateescape")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"out": out, "terminal": done.stdout + done.stderr}


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*/results.json")}


# -- one submission never breaks the batch ----------------------------------------------------------------


def test_every_submission_gets_its_row_and_its_page(graded: dict) -> None:
    out = graded["out"]
    rows = {row[0]: row for row in _csv(out / "grades.csv")[1:]}
    expected = {"'" + FORMULA_NAME, ESCAPE_NAME, "caf\\xe9", "link\\xff", "nested"}
    assert set(rows) == expected, rows  # old-grades is not a student
    assert float(rows["nested"][1]) == 100, "the zip inside the zip was not graded"
    assert 0 < float(rows["'" + FORMULA_NAME][1]) < 100
    results = _results(out)
    assert set(results) == {FORMULA_NAME, ESCAPE_NAME, "caf\\xe9", "link\\xff", "nested"}
    assert "symbolic link" in results["link\\xff"]["output"]
    for name in results:
        assert (out / name / "feedback.html").is_file(), name
    report = (out / "report.html").read_text(encoding="utf-8")
    for name in ("caf\\xe9", "link\\xff", "nested", "=HYPERLINK(&quot;evil.example&quot;,&quot;x&quot;)"):
        assert name in report, name
    assert "old-grades: an output folder of the grader, not graded" in graded["terminal"]


# -- CSV ------------------------------------------------------------------------------------------------------


def test_no_csv_cell_is_a_formula_and_mistake_rows_come_from_the_catalogue(graded: dict) -> None:
    out = graded["out"]
    files = ("grades.csv", "mistakes.csv", "lms_grades.csv")
    for name in files:
        for row in _csv(out / name):
            for cell in row:
                assert not cell.startswith(FORMULA_STARTS) or inert_cell(cell) == cell, (name, cell)
    lms = {row[0]: row for row in _csv(out / "lms_grades.csv")}
    assert "'=cmd|' /C calc'!A0" in lms and lms["'=cmd|' /C calc'!A0"][2:4] == ["'-2+3", "'@evil.example"]
    assert lms["'-Minus"][2:4] == ["+1", "'=cr@uni.example"]  # a number stays a number
    grades = {row[0]: row for row in _csv(out / "grades.csv")}
    assert grades["'" + FORMULA_NAME][-3:] == ["'-2+3", "'=cmd|' /C calc'!A0", "'@evil.example"]
    mistakes = (out / "mistakes.csv").read_text(encoding="utf-8")
    assert "HYPERLINK(" not in mistakes.replace(FORMULA_NAME, "") and "@SUM" not in mistakes


# -- markdown (Gradescope) ------------------------------------------------------------------------------------


def test_gradescope_markdown_keeps_learner_text_in_its_block(graded: dict) -> None:
    render = MarkdownIt("commonmark").render
    hostile = _results(graded["out"])[FORMULA_NAME]
    failing = [t for t in hostile["tests"] if t["status"] == "failed"]
    assert any("pwned" in t["output"] for t in failing)
    for result in _results(graded["out"]).values():
        for text in [result["output"], *(t["output"] for t in result["tests"])]:
            shown = render(text)
            for tag in ("<script", "<img", "<a ", "<pre><code></code></pre>\n<p>"):
                assert tag not in shown, (tag, text[:300])
    for test in failing:
        assert "Mistake recognised" not in test["output"] and test["extra_data"]["mistakes"] == []
        shown = render(test["output"])
        assert shown.startswith("<pre><code>") and shown.rstrip().endswith("</code></pre>"), shown[:400]
        assert shown.count("<pre>") == 1


def test_markdown_helpers() -> None:
    block = markdown_block("a ```` b\n```\n`````x")
    assert block.startswith("``````\n") and block.endswith("\n``````")
    assert markdown_text("**x** <b>[a](b)</b>\n# y") == "\\*\\*x\\*\\* \\<b\\>\\[a\\](b)\\</b\\> # y"
    assert markdown_text("# y _z_ d_k") == "\\# y \\_z\\_ d_k"
    assert markdown_text("1. item") == "1\\. item"
    assert inert_cell("-1.5") == "-1.5" and inert_cell(-2) == "-2" and inert_cell("-x") == "'-x"
    assert inert_cell("\r\n") == "'\r\n" and inert_cell("plain") == "plain" and inert_cell("") == ""
    assert shown_text("a\x1b[31m\r\x00\u202e\udce9") == "a\\x1b[31m\\r\\x00\\u202e\\udce9"


# -- the pages, in a real browser -----------------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")
def test_pages_run_no_learner_script_in_chromium(graded: dict, tmp_path: Path) -> None:
    out = graded["out"]
    for page in (out / "report.html", out / FORMULA_NAME / "feedback.html", out / "caf\\xe9" / "feedback.html"):
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
                               "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        dom = done.stdout
        assert "<title>" in dom and "pwned</title>" not in dom, page
        assert "<script" not in dom and "<img src=\"x\"" not in dom, page
    assert "&lt;script&gt;document.title=" in (out / FORMULA_NAME / "feedback.html").read_text("utf-8")


# -- the terminal ---------------------------------------------------------------------------------------------


def test_the_terminal_gets_no_control_character(graded: dict) -> None:
    terminal = graded["terminal"]
    assert "\x1b" not in terminal and "\r" not in terminal
    assert "\\x1b[31mred" in terminal and "caf\\xe9" in terminal
