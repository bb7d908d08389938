"""The pages a grade run writes: feedback.html per submission, report.html and mistakes.csv per batch.

One real ``python -m autograder grade`` run (the bundled samples, plus a correct submission whose
``attention_weights`` kills its process on the public example's (6, 6) scores only) feeds:

- the pages' content: every step, every check's title, the named mistakes, heatmaps beside the
  correct ones, what to do next; mistakes.csv ranked; notes; seed and course version;
- the learner's code run on the public example costs no points and never breaks the page;
- headless Chromium renders both pages (not blank, every step named), and no line of the hidden
  checks' code and no hidden input value appears in any page; screenshots are kept in
  ``tests/artifacts/`` (ignored by git);
- Gradescope's results.json carries the same feedback as markdown;
- the terminal summary fits 80 columns without an ellipsis.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder.course import load_course
from autograder.grading import report
from autograder.grading.engine import SubmissionResult
from autograder.grading.engine import TestResult as CheckResult
from autograder.grading.mistake_tally import submission_notes
from autograder.grading.public_example import EXAMPLES, example_qkv, expected_matrix, learner_examples
from autograder.hidden import load_hidden_checks
from selfcheck import LocalSubject, run_check
from selfcheck.plain import tensors_in, to_plain
from selfcheck.subject import LocalHandle

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES = REPO_ROOT / "autograder" / "samples"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
COURSE = load_course()
SEED = 7
CRASHER = "crash_on_example"
ROSTERED = ("broken", "complete_einsum", "partial_mistakes", "stubs_only")  # the crasher is not on the roster
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def _environment() -> dict[str, str]:
    paths = [str(REPO_ROOT), str(REPO_ROOT / "exercises"), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples and the crasher, graded by the real command into a fresh folder.

    The crasher is complete_einsum, except that on the public example (never a hidden input)
    ``attention_weights`` kills its process and ``attention_scores`` loops forever.
    """
    work = tmp_path_factory.mktemp("reports")
    crasher = work / CRASHER
    shutil.copytree(SAMPLES / "complete_einsum", crasher)
    weights = crasher / "attention" / "weights.py"
    source = weights.read_text(encoding="utf-8")
    signature = re.search(r"def attention_weights\(.*?\).*?:\n", source, re.S)
    assert signature, source
    crash = ('    if tuple(scores.shape) == (6, 6):  # the public example only (hidden scores are never square)\n'
             '        import os\n        os._exit(3)\n')
    weights.write_text(source[:signature.end()] + crash + source[signature.end():], encoding="utf-8")
    first_query = float(example_qkv()[0][0, 0])
    scores = crasher / "attention" / "scores.py"
    source = scores.read_text(encoding="utf-8")
    signature = re.search(r"def attention_scores\(.*?\).*?:\n", source, re.S)
    assert signature, source
    hang = (f"    if queries.dim() == 2 and abs(float(queries[0, 0]) - {first_query!r}) < 1e-6:  # the example only\n"
            "        while True:\n            pass\n")
    scores.write_text(source[:signature.end()] + hang + source[signature.end():], encoding="utf-8")
    roster = work / "roster.csv"
    roster.write_text("Submission,Student_ID,Name,Email,Section\n" + "".join(
        f"{name},{1000 + index},Student {name.title()},{name}@uni.example,A\n" for index, name in enumerate(ROSTERED))
        + "absent,2000,Absent Student,absent@uni.example,B\n", encoding="utf-8")
    out = work / "out"
    submissions = sorted(str(p) for p in SAMPLES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    command = [sys.executable, "-m", "autograder", "grade", *submissions, str(crasher), "--out", str(out),
               "--seed", str(SEED), "--roster", str(roster)]
    done = subprocess.run(command, cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"not on the roster (no student columns): {CRASHER}" in done.stderr
    return out


def _names(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir())


def _page(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _text(page: str) -> str:
    """What a reader sees: tags dropped, entities decoded, the inline images left out."""
    shown = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]*"', "", page)))
    return " ".join(shown.split())


# -- content ------------------------------------------------------------------------------------------------


def test_every_submission_gets_a_self_contained_feedback_page(graded: Path) -> None:
    for name in _names(graded):
        page = _page(graded / name / "feedback.html")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page), name  # nothing fetched
        assert "<script" not in page and "<link" not in page, name
        text = _text(page)
        assert "What to do next" in text and name in text
        for number, step in enumerate(COURSE.steps, start=1):
            assert f"Step {number}: {step.id}" in text, (name, step.id)
        results = json.loads((graded / name / "results.json").read_text(encoding="utf-8"))
        for test in results["tests"]:
            assert test["name"].split(": ", 1)[1] in text, (name, test["name"])


def test_feedback_names_the_mistakes_and_shows_the_heatmaps(graded: Path) -> None:
    page = _page(graded / "partial_mistakes" / "feedback.html")
    text = _text(page)
    assert "Mistake recognised: softmax over the wrong dimension" in text
    weights = text[text.index("Step 5: weights"):text.index("Step 6: context")]
    named = "softmax over the wrong dimension (every row, one query over all keys, must sum to 1: use dim=-1)"
    results = json.loads((graded / "partial_mistakes" / "results.json").read_text(encoding="utf-8"))
    assert [t["extra_data"]["mistakes"] for t in results["tests"] if t["number"] in ("5.1", "5.3")] == [[named]] * 2
    assert weights.count(named) == weights.count(f"Mistake recognised: {named}") == 2, weights  # once per check
    assert re.search(r"\(\d+\.\d{3,} / ", text) is None  # per-check points rounded for display
    assert "Work on step 5, weights" in text  # the first unfinished step
    assert page.count("<svg") == 2 * len(EXAMPLES) - 1  # causal_attention is a stub: no learner heatmap there
    assert "No result from your code" in text
    complete = _page(graded / "complete_einsum" / "feedback.html")
    assert complete.count("<svg") == 2 * len(EXAMPLES) and "nothing left to do" in _text(complete)


def test_correct_heatmaps_are_the_published_example() -> None:
    """The 'correct' side is the course's example: SelfAttention(3, 2, 4) seeded with 123, row 1 published."""
    output = next(e for e in EXAMPLES if e.step == "self_attention")
    assert output.rows == ("The", "sun", "rises", "in", "the", "east")
    published = torch.tensor([0.5313, 1.3607, 0.7891, 1.3110], dtype=torch.float64)
    assert torch.allclose(torch.tensor(expected_matrix(output)[1], dtype=torch.float64), published, atol=1e-4)
    weights = next(e for e in EXAMPLES if e.step == "weights")
    assert torch.allclose(torch.tensor(expected_matrix(weights), dtype=torch.float64).sum(-1),
                          torch.ones(6, dtype=torch.float64))


def test_learner_examples_in_process_match_for_the_solution_and_not_for_a_mistake(solutions_module: Any) -> None:
    for step in dict.fromkeys(e.step for e in EXAMPLES):
        module = solutions_module(COURSE.step(step).module)
        found = learner_examples(step, LocalSubject.from_module(step, module))
        for example in (e for e in EXAMPLES if e.step == step):
            assert torch.allclose(torch.tensor(found[example.name]), torch.tensor(expected_matrix(example)),
                                  atol=1e-5), (step, example.name)
    wrong = {"attention_weights": lambda scores, d_k: torch.softmax(scores / d_k**0.5, dim=0)}
    found = learner_examples("weights", LocalSubject("weights", wrong, "attention/weights.py"))
    assert not torch.allclose(torch.tensor(found["weights"]), torch.tensor(expected_matrix(EXAMPLES[1])))
    broken = {"attention_weights": lambda scores, d_k: 1 / 0}
    assert "ZeroDivisionError" in learner_examples("weights", LocalSubject("weights", broken, "w.py"))["weights"]
    shaped = {"attention_weights": lambda scores, d_k: scores[0]}
    assert "shape (6,)" in learner_examples("weights", LocalSubject("weights", shaped, "w.py"))["weights"]


def test_code_failing_on_the_example_costs_no_points_and_the_page_says_so(graded: Path) -> None:
    results = json.loads((graded / CRASHER / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == pytest.approx(COURSE.max_score), [t["output"] for t in results["tests"]]
    text = _text(_page(graded / CRASHER / "feedback.html"))
    section = text[text.index("Step 5: weights"):text.index("Step 6: context")]
    assert "No result from your code: the process running your code ended" in section
    section = text[text.index("Step 4: scores"):text.index("Step 5: weights")]
    assert "No result from your code: attention_scores did not finish within 2 s" in section


def test_gradescope_results_carry_the_feedback_as_markdown(graded: Path) -> None:
    results = json.loads((graded / "partial_mistakes" / "results.json").read_text(encoding="utf-8"))
    assert results["output_format"] == "md"
    assert "### What to do next" in results["output"] and "| **sun** |" in results["output"]
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert all(t["output_format"] == "md" and t["output"].startswith("```") for t in failed)
    assert any("**Mistake recognised:** softmax over the wrong dimension" in t["output"] for t in failed)
    complete = json.loads((graded / "complete_einsum" / "results.json").read_text(encoding="utf-8"))["output"]
    assert complete.count("Your code gives the correct result") == len(EXAMPLES) and "Your code:" not in complete


def test_class_report_and_mistakes_csv(graded: Path) -> None:
    text = _text(_page(graded / "report.html"))
    assert f"seed {SEED}" in text and f"course version {COURSE.version}" in text
    for step in COURSE.steps:
        assert step.id in text and step.title in text, step.id
    for name in _names(graded):
        assert name in text
    assert "Checks failed most often" in text and "Submissions with notes" in text
    noted = r"broken \(Student Broken\)\s+65\s+(?:crashed|timed out|import error)"
    assert re.search(noted, text), text[text.index("with notes"):][:600]
    with open(graded / "mistakes.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == ["rank", "step", "mistake", "learners", "share", "submissions"]
    counts = [int(r["learners"]) for r in rows]
    assert counts == sorted(counts, reverse=True)
    by_mistake = {r["mistake"]: r for r in rows}
    assert by_mistake["call super().__init__() first thing in your module's __init__"]["submissions"] == "broken"
    assert by_mistake["scores divided by d_k instead of sqrt(d_k)"]["step"] == "self_attention"
    assert all(r["submissions"] == "partial_mistakes" for r in rows if r["step"] in ("weights", "cross_attention"))


def test_named_mistakes_are_the_checkers_data_and_notes_are_read_from_messages() -> None:
    from autograder.grading.engine import named_in
    from autograder.grading.mistake_tally import message_without_mistakes, submission_mistakes
    from selfcheck import Outcome
    from selfcheck.errors import learner_error
    from selfcheck.mistakes import with_mistake
    from selfcheck.named import naming_mistakes

    with naming_mistakes() as named:
        message = with_mistake("x: 3 of 4 values differ", "scores divided by d_k instead of sqrt(d_k)")
        dropped = with_mistake("not used", "a note the check built and then dropped")
        error = learner_error("RuntimeError", "This looks like a common mistake: =HYPERLINK(1). "
                                              "before Module.__init__() call")
        message += "\n" + error.describe()
    assert dropped
    assert named == ["scores divided by d_k instead of sqrt(d_k)", "a note the check built and then dropped",
                     "call super().__init__() first thing in your module's __init__"]
    mistakes = named_in(Outcome("failed", message), named)
    assert mistakes == ("scores divided by d_k instead of sqrt(d_k)",
                        "call super().__init__() first thing in your module's __init__")
    test = CheckResult("weights", "c", "t", "5.1", 0, 1, False, message, list(mistakes))
    assert submission_mistakes(SubmissionResult("s", 1, tests=[test])) == [("weights", m) for m in mistakes]
    shown = message_without_mistakes(test)
    assert "sqrt(d_k)" not in shown and "super()" not in shown and "=HYPERLINK(1)" in shown  # learner text is kept
    result = SubmissionResult("s", 1, notes=["no attention/ package was found in this submission"])
    result.tests = [CheckResult("tokens", "c", "t", "1.1", 0, 1, False, "not graded: the submission has no attention/")]
    assert submission_notes(result) == ["not found"]
    result = SubmissionResult("s", 1, tests=[
        CheckResult("tokens", "c", "t", "1.1", 0, 1, False, "encode did not finish within 10 s (an infinite loop?)"),
        CheckResult("scores", "c", "t", "4.1", 0, 1, False, "the process running your code ended during x (signal 9)")])
    assert submission_notes(result) == ["timed out (tokens)", "crashed (scores)"]


def test_a_submission_the_grader_failed_on_still_gets_a_page() -> None:
    from autograder.grading.feedback_page import feedback_html

    note = "the grader failed on this submission (OSError: x); it was not graded"
    result = SubmissionResult("odd", SEED, notes=[note])
    text = _text(feedback_html(result, COURSE))
    assert "could not be graded" in text and "Step 13: kv_cache" in text
    assert submission_notes(result) == ["grader error"]


def test_summary_fits_80_columns() -> None:
    from rich.console import Console

    results = []
    for name, share in (("partial_mistakes", 0.4802), ("a_very_long_student_folder_name_2024_x", 0.0),
                        ("complete", 1.0)):
        result = SubmissionResult(name, SEED)
        for number, step in enumerate(COURSE.steps, start=1):
            got = round(step.points * share / (1 + number % 3), 4) if share < 1 else step.points
            result.tests.append(CheckResult(step.id, "c", "t", f"{number}.1", got, step.points, got == step.points, ""))
        results.append(result)
    console = Console(width=80, file=io.StringIO(), record=True)
    report.print_summary(results, COURSE, seed=SEED, out_dir=Path("grades"), console=console)
    shown = console.export_text()
    assert "…" not in shown, shown
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    lines = shown.splitlines()
    assert lines[2].split() == ["partial_mistakes", "28.33", "1.4", "0.6", "2.9", "1.4", "1.3", "2.9", "1.9", "1.9",
                                "3.8", "1.4", "1.9", "4.8", "1.9"], shown
    assert lines[6].split() == ["complete", "100", *["ok"] * len(COURSE.steps)], shown
    wide = Console(width=200, file=io.StringIO(), record=True)
    report.print_summary(results, COURSE, seed=SEED, out_dir=Path("grades"), console=wide)
    shown = wide.export_text()
    assert "…" not in shown and "a_very_long_student_folder_name_2024_x" in shown and "48.0224" not in shown


def test_roster_columns_and_the_lms_export(graded: Path) -> None:
    with open(graded / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["submission", "score", "max_score", *COURSE.step_ids, "student_id", "name", "email"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["partial_mistakes"][-3:] == ["1002", "Student Partial_Mistakes", "partial_mistakes@uni.example"]
    assert by_name[CRASHER][-3:] == ["", "", ""]
    exact = by_name["partial_mistakes"][1]
    with open(graded / "lms_grades.csv", newline="", encoding="utf-8") as handle:
        lms = list(csv.reader(handle))
    assert lms[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", COURSE.title]
    assert lms[1][0] == "Points Possible" and lms[1][-1] == "100"
    students = {row[2]: row for row in lms[2:]}
    assert set(students) == {"1000", "1001", "1002", "1003", "2000"}  # everyone on the roster, in roster order
    assert students["1002"][-1] == f"{round(float(exact), COURSE.score_decimals):g}" and "." in exact
    assert len(students["1002"][-1].split(".")[1]) <= COURSE.score_decimals
    assert students["1001"][-1] == "100" and students["2000"][-1] == ""  # absent: empty, not 0
    report = _text(_page(graded / "report.html"))  # the class report names the students beside their folders
    assert "partial_mistakes Student Partial_Mistakes" in report and "broken (Student Broken)" in report


def test_the_batch_also_gets_the_similarity_report(graded: Path) -> None:
    """similarity.html and similarity.csv (tests/test_similarity.py tests them): grades and roster names shown."""
    with open(graded / "grades.csv", newline="", encoding="utf-8") as handle:
        grades = {row["submission"]: f"{row['score']}/{row['max_score']}" for row in csv.DictReader(handle)}
    with open(graded / "similarity.csv", newline="", encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    assert pairs, "broken copies modules of complete_einsum (its header says so)"
    page = _text(_page(graded / "similarity.html"))
    assert "never a verdict" in page
    for pair in pairs:
        assert (pair["grade_a"], pair["grade_b"]) == (grades[pair["submission_a"]], grades[pair["submission_b"]])
        for side in ("a", "b"):
            if pair[f"submission_{side}"] in ROSTERED:
                assert pair[f"name_{side}"] == f"Student {pair[f'submission_{side}'].title()}"
                assert pair[f"name_{side}"] in page


def test_a_bad_roster_is_a_one_line_error_before_grading(tmp_path: Path) -> None:
    from autograder.grading.roster import RosterError, load_roster

    bad = tmp_path / "roster.csv"
    bad.write_text("submission,name\nalice,Alice\n", encoding="utf-8")
    with pytest.raises(RosterError, match="missing: student_id, email"):
        load_roster(bad)
    bad.write_text("submission,student_id,name,email\nalice,1,A,a@x\nalice,2,B,b@x\n", encoding="utf-8")
    with pytest.raises(RosterError, match="line 3: submission 'alice' appears twice"):
        load_roster(bad)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(SAMPLES / "stubs_only"), "--out", str(out),
                           "--roster", str(tmp_path / "nope.csv")], cwd=REPO_ROOT, env=_environment(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "roster file not found" in done.stderr
    assert done.stderr.strip().count("\n") == 0 and not (out / "grades.csv").exists()


# -- nothing hidden in any page -------------------------------------------------------------------------------


def _hidden_code_lines() -> set[str]:
    """Lines of the hidden checks' code (not bare string literals, comments or short lines), and none that
    the public side holds too (a published fact such as token_output's example is no secret): the release's
    own leak scanner decides which (`autograder.build.leaks.hidden_lines`)."""
    from autograder.build.leaks import hidden_lines

    secret = {code for where, _, code in hidden_lines().values() if where.startswith("autograder/hidden/")}
    lines: set[str] = set()
    for path in (REPO_ROOT / "autograder" / "hidden").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) >= 24 and not line.startswith(("#", '"', "'", 'f"', "f'", ")", "]")) and line in secret:
                lines.add(line)
    return lines


class _RecordingHandle(LocalHandle):
    def _h_wrap(self, value: Any, label: str) -> Any:
        return to_plain(value, lambda obj: _RecordingHandle(self._h_subject, obj, label))

    def _h_call(self, args: tuple, kwargs: dict, label: str) -> Any:
        self._h_subject.recorded.extend(t.detach().clone() for _, t in tensors_in(args, kwargs))  # type: ignore[attr-defined]
        return super()._h_call(args, kwargs, label)


class _RecordingSubject(LocalSubject):
    recorded: list[torch.Tensor]

    def _lookup_api(self, name: str) -> _RecordingHandle | None:
        return _RecordingHandle(self, self._namespace[name], name) if name in self._namespace else None


def _hidden_inputs(seed: int) -> list[torch.Tensor]:
    """Every tensor the hidden checks pass to learner code with ``seed`` (recorded on the reference)."""
    from autograder import reference

    recorded: list[torch.Tensor] = []
    for check in load_hidden_checks().all():
        subject = _RecordingSubject(check.step, reference.namespace(), f"attention/{check.step}.py")
        subject.recorded = recorded
        run_check(check, subject, seed)
    return recorded


def _leaked_values(text: str, inputs: list[torch.Tensor]) -> list[str]:
    """Hidden floats printed in ``text``: two neighbours at 4 decimals, or one at 6."""
    found = []
    for tensor in inputs:
        if not tensor.is_floating_point():
            continue
        values = [v for v in tensor.double().flatten().tolist() if abs(v) >= 0.01 and v == v and abs(v) != float("inf")]
        for first, second in zip(values, values[1:], strict=False):
            for separator in (", ", " "):
                pair = f"{first:.4f}{separator}{second:.4f}"
                if pair in text:
                    found.append(pair)
        found += [f"{v:.6f}" for v in values if f"{v:.6f}" in text]
    return found


def _pages(out: Path) -> list[Path]:
    return [out / "report.html", *sorted(out.glob("*/feedback.html"))]


def test_no_hidden_code_or_input_in_any_page(graded: Path) -> None:
    code = _hidden_code_lines()
    assert len(code) > 200
    inputs = _hidden_inputs(SEED)
    assert len(inputs) > 100
    probe = next(t for t in inputs if t.is_floating_point() and t.numel() > 4)
    first, second = probe.flatten()[:2].tolist()
    assert _leaked_values(f"got: [{first:.4f}, {second:.4f}]", inputs)  # the detector finds a printed pair
    for path in _pages(graded):
        page = _page(path)
        text = html.unescape(page)
        assert [line for line in code if line in text] == [], path
        assert _leaked_values(_text(page), inputs) == [], path


# -- a real browser -----------------------------------------------------------------------------------------


def _chromium(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{page.parent.name}"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium; "
                                               ".ci/run installs it)")
def test_pages_render_in_headless_chromium(graded: Path, tmp_path: Path) -> None:
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page, shot in ((graded / "report.html", "report.png"),
                       (graded / "partial_mistakes" / "feedback.html", "feedback-partial_mistakes.png")):
        dom = _chromium(page, tmp_path, "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        for step in COURSE.steps:
            assert step.id in dom.stdout, (page, step.id)
        target = ARTIFACTS / shot
        target.unlink(missing_ok=True)
        done = _chromium(page, tmp_path, "--window-size=1200,2400", f"--screenshot={target}")
        assert done.returncode == 0 and target.is_file(), done.stderr[-2000:]
        image = Image.open(target).convert("L")
        inked = sum(count for level, count in enumerate(image.histogram()) if level < 200)
        assert inked > 0.03 * image.width * image.height, (target, inked)  # text, tables and pictures, not blank
        print(f"screenshot kept: {target}")
    assert "<svg" in _chromium(graded / "partial_mistakes" / "feedback.html", tmp_path, "--dump-dom").stdout
