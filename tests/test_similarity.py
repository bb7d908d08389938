"""The similarity report: copied work stands out, honest work does not.

A small class (`similarity_class`): honest learners in several styles (the samples, two
half-finished learners in different styles, two stubs-only, two who follow the article, two who
hand in the reference solutions) and a disguised copy of ``complete_einsum`` (identifiers renamed,
functions reordered, comments and blank lines changed, a helper extracted). Then notebooks compared
with packages, hostile names and code on the page and in the CSV, the command's errors, ``grade``'s
``--no-similarity`` and one-submission runs, and the page in headless Chromium.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from similarity_class import COURSE, HONEST, LOOPS, SAMPLES, STUBS, make_class, write_notebooks, write_package

from autograder.grading.inert import inert_cell
from autograder.grading.intake import resolve_submissions
from autograder.grading.similarity import FLAG_SCORE, SimilarityResult, common_limit, similarity_of

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LATE_MODULES = {step.module for step in COURSE.steps[6:]}  # steps 7-13: stubs for the half-finished learners


def _environment() -> dict[str, str]:
    paths = [str(REPO_ROOT), str(REPO_ROOT / "exercises"), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))


def _command(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          env=_environment(), cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_class(tmp_path_factory.mktemp("similarity"))


@pytest.fixture(scope="module")
def result(batch: Path) -> SimilarityResult:
    return similarity_of(resolve_submissions([str(batch)], COURSE), COURSE)


def _pair(result: SimilarityResult, first: str, second: str):  # noqa: ANN202
    return next((p for p in result.pairs if {p.first, p.second} == {first, second}), None)


def test_the_disguised_copy_ranks_above_every_honest_pair(result: SimilarityResult) -> None:
    top = result.pairs[0]
    assert {top.first, top.second} == {"complete_einsum", "disguised"}, result.pairs[:3]
    assert top.flagged and top.score >= 0.8, top
    assert len(top.files) >= 10, top.files  # the overlap lies in nearly every step file
    honest = [p for p in result.pairs if {p.first, p.second} <= set(HONEST)]
    assert all(p.score < top.score / 3 for p in honest), honest


def test_honest_work_in_other_styles_is_not_flagged(result: SimilarityResult) -> None:
    assert [(p.first, p.second) for p in result.flagged] == [("complete_einsum", "disguised")]
    assert all(p.score < FLAG_SCORE / 2 for p in result.pairs[1:]), result.pairs[1:4]  # far below the line


def test_stubs_only_submissions_share_nothing(result: SimilarityResult) -> None:
    for name in ("stubs_only", "stubs_again"):
        assert result.distinctive[name] == 0
        assert not [p for p in result.pairs if name in (p.first, p.second)]


def test_half_finished_learners_are_not_flagged_for_sharing_stubs(result: SimilarityResult) -> None:
    assert result.distinctive["half_loops"] > 20 and result.distinctive["half_compact"] > 20
    pair = _pair(result, "half_loops", "half_compact")
    assert pair is None or (pair.score < 0.1 and not set(pair.files) & LATE_MODULES), pair


def test_following_the_article_or_the_solutions_is_shown_per_submission(result: SimilarityResult) -> None:
    for name in ("article_a", "article_b"):
        assert {"self_attention", "multi_head", "cross_attention"} <= set(result.article_steps[name]), name
    pair = _pair(result, "article_a", "article_b")
    assert pair is None or not pair.flagged
    for name in ("reference_a", "reference_b"):
        assert len(result.solution_steps[name]) >= 10, result.solution_steps[name]
        assert result.distinctive[name] == 0
    assert _pair(result, "reference_a", "reference_b") is None
    assert not result.solution_steps["complete_einsum"].keys() - {"causal_pairs"}  # its own style
    assert not result.article_steps["half_compact"] and not result.article_steps["half_loops"]


def test_two_processes_find_what_one_finds(batch: Path, result: SimilarityResult,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A large class is fingerprinted in two forked processes: the hash is the same in every process."""
    from autograder.grading import similarity

    monkeypatch.setattr(similarity, "PARALLEL_FROM", 2)
    again = similarity_of(resolve_submissions([str(batch)], COURSE), COURSE, jobs=2)
    assert [(p.first, p.second, p.shared) for p in again.pairs] == [(p.first, p.second, p.shared) for p in result.pairs]


def test_common_code_is_relative_to_class_size() -> None:
    assert common_limit(4) == 3 and common_limit(40) == 4 and common_limit(500) == 50


def test_notebooks_and_packages_are_compared_alike(tmp_path: Path) -> None:
    einsum = SAMPLES / "complete_einsum" / "attention"
    shutil.copytree(SAMPLES / "complete_einsum", tmp_path / "package")
    write_notebooks(tmp_path / "notebooks", {p.stem: p.read_text(encoding="utf-8") for p in einsum.glob("*.py")})
    write_notebooks(tmp_path / "notebook_stubs", {})
    write_notebooks(tmp_path / "notebook_stubs_again", {})
    write_package(tmp_path / "loops", LOOPS)
    shutil.copytree(SAMPLES / "partial_mistakes", tmp_path / "partial_mistakes")
    found = similarity_of(resolve_submissions([str(tmp_path)], COURSE), COURSE)
    top = found.pairs[0]
    assert {top.first, top.second} == {"package", "notebooks"} and top.flagged, found.pairs[:2]
    assert len(top.files) >= 10, top.files
    assert found.studied["notebooks"].form == "notebooks"
    for name in ("notebook_stubs", "notebook_stubs_again"):  # the grader's import line is not the learner's
        assert found.distinctive[name] == 0 and not [p for p in found.pairs if name in (p.first, p.second)]


def test_padding_a_copy_with_other_code_does_not_hide_it(batch: Path, tmp_path: Path) -> None:
    """The score divides by the smaller side's distinctive code: the copier's padding does not dilute it."""
    for name in ("complete_einsum", "disguised", "half_loops", "half_compact", "stubs_only"):
        shutil.copytree(batch / name, tmp_path / name)
    for path in (tmp_path / "disguised" / "attention").glob("*.py"):
        padding = "".join(f"\n\ndef _pad_{n}(items):\n    total = {n}\n    for item in items[{n}:]:\n"
                          f"        total = total * {n + 3} - item // {n + 1}\n    return total\n" for n in range(40))
        path.write_text(path.read_text(encoding="utf-8") + padding, encoding="utf-8")
    found = similarity_of(resolve_submissions([str(tmp_path)], COURSE), COURSE)
    top = found.pairs[0]
    assert {top.first, top.second} == {"complete_einsum", "disguised"} and top.flagged and top.score > 0.8, top
    assert found.distinctive["disguised"] > 3 * found.distinctive["complete_einsum"]


def test_a_submission_the_report_fails_on_is_noted_and_the_others_compared(batch: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.grading import similarity

    real = similarity.study

    def failing(codes: dict, sources: similarity.CourseSources, form: str = "") -> similarity.Studied:
        if "Sample submission `partial_mistakes`" in "".join(codes.values()):
            raise RuntimeError("a bug")
        return real(codes, sources, form)

    monkeypatch.setattr(similarity, "study", failing)
    for name in ("complete_einsum", "disguised", "partial_mistakes"):
        shutil.copytree(batch / name, tmp_path / name)
    found = similarity_of(resolve_submissions([str(tmp_path)], COURSE), COURSE)
    assert found.studied["partial_mistakes"].notes[0].startswith("not compared: the report failed on it (RuntimeError")
    assert found.pairs[0].flagged and {found.pairs[0].first, found.pairs[0].second} == {"complete_einsum", "disguised"}


def test_a_huge_file_is_cut_with_a_note(tmp_path: Path) -> None:
    """A file of megabytes (the intake's cap is 5 MB) is compared on its first 256 kB, and the page says so."""
    from autograder.grading.similarity_page import similarity_html

    write_package(tmp_path / "huge", LOOPS)
    write_package(tmp_path / "other", {})
    scores = tmp_path / "huge" / "attention" / "scores.py"
    scores.write_text(scores.read_text(encoding="utf-8") + ("#" * 99 + "\n") * 20_000, encoding="utf-8")
    found = similarity_of(resolve_submissions([str(tmp_path)], COURSE), COURSE)
    assert found.studied["huge"].notes == ["scores: 1954 kB of code, only the first 256 kB compared"]
    assert len(found.studied["huge"].codes["scores"]) == 256 * 1024
    assert "Not compared in full" in similarity_html(found, COURSE)


HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_CODE = "# </pre><script>alert('code')</script>\n"


def test_the_command_writes_inert_pages_and_csv(batch: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "class"
    shutil.copytree(batch, hostile, ignore=shutil.ignore_patterns("reference_*", "article_*", "half_*"))
    shutil.move(hostile / "disguised", hostile / "<img src=x onerror=alert(1)>")
    scores = hostile / "complete_einsum" / "attention" / "scores.py"
    scores.write_text(HOSTILE_CODE + scores.read_text(encoding="utf-8"), encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("submission,student_id,name,email\n"
                      f"complete_einsum,1,\"{HOSTILE_NAME}\",a@example.org\n"
                      "<img src=x onerror=alert(1)>,2,=HYPERLINK(\"http://x\"),b@example.org\n", encoding="utf-8")
    out = tmp_path / "out"
    done = _command("similarity", str(hostile), "--out", str(out), "--roster", str(roster))
    assert done.returncode == 0, done.stderr
    assert "not a verdict" in done.stderr
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page  # the roster name, shown as text
    assert "never a verdict" in page
    rows = list(csv.DictReader(io.StringIO((out / "similarity.csv").read_text(encoding="utf-8"))))
    assert rows[0]["submission_a"] == "<img src=x onerror=alert(1)>" or rows[0]["submission_b"].startswith("<img")
    assert rows[0]["review"] == "yes"
    assert {rows[0]["name_a"], rows[0]["name_b"]} == {HOSTILE_NAME, "'=HYPERLINK(\"http://x\")"}
    for row in rows:
        assert not any(str(cell)[:1] in "=+-@" for cell in row.values() if cell), row


def test_inert_cell() -> None:
    assert inert_cell("=1+2") == "'=1+2" and inert_cell("-3+4") == "'-3+4" and inert_cell("@x") == "'@x"
    assert inert_cell("alice") == "alice" and inert_cell(0.5) == "0.5"


def test_bad_paths_are_one_line_errors(tmp_path: Path) -> None:
    done = _command("similarity", str(tmp_path / "missing"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "no such file" in done.stderr
    results = tmp_path / "results"
    results.mkdir()
    (results / "grades.csv").write_text("submission,score,max_score\n", encoding="utf-8")
    done = _command("similarity", str(results))
    assert done.returncode == 2 and "grading results" in done.stderr and done.stderr.strip().count("\n") == 0
    done = _command("similarity", str(SAMPLES / "stubs_only"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "two or more" in done.stderr
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    done = _command("similarity", str(SAMPLES), "--out", str(tmp_path / "a-file"))
    assert done.returncode == 2 and "cannot write the similarity report there" in done.stderr
    assert done.stderr.strip().count("\n") == 0


def test_grade_skips_it_for_one_submission_and_with_no_similarity(tmp_path: Path) -> None:
    """(A batch's grade run writes it: tests/test_reports.py.) One submission, as on Gradescope: nothing to compare."""
    shutil.copytree(SAMPLES / "stubs_only", tmp_path / "one" / "stubs_only")
    done = _command("grade", str(tmp_path / "one" / "stubs_only"), "--out", str(tmp_path / "out-one"), "--seed", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "out-one" / "similarity.html").exists()
    shutil.copytree(STUBS, tmp_path / "two" / "stubs_again" / "attention")
    shutil.copytree(SAMPLES / "stubs_only", tmp_path / "two" / "stubs_only")
    done = _command("grade", str(tmp_path / "two"), "--out", str(tmp_path / "out-off"), "--seed", "1",
                    "--no-similarity")
    assert done.returncode == 0 and not (tmp_path / "out-off" / "similarity.html").exists(), done.stderr[-2000:]
    assert (tmp_path / "out-off" / "grades.csv").read_text(encoding="utf-8").count("\n") == 3


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_the_page_renders_in_headless_chromium(batch: Path, tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "out"
    done = _command("similarity", str(batch), "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = out / "similarity.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for text in ("never a verdict", "complete_einsum", "disguised", "worth a look", "follows the article",
                 "<mark>", "<svg"):
        assert text in dom.stdout, text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "similarity.png"
    target.unlink(missing_ok=True)
    shot = subprocess.run([CHROMIUM, *flags, "--window-size=1200,2400", f"--screenshot={target}", page.as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert shot.returncode == 0 and target.is_file(), shot.stderr[-2000:]
    image = Image.open(target).convert("L")
    inked = sum(count for level, count in enumerate(image.histogram()) if level < 200)
    assert inked > 0.03 * image.width * image.height, inked


def test_bench_times_the_similarity_report(tmp_path: Path) -> None:
    """`python -m autograder bench` measures the command on a varied class (here 6 submissions, not 500)."""
    from autograder.bench import make_varied_class, time_similarity

    rows = time_similarity(tmp_path, 6, _environment())
    assert rows[0][0] == "similarity of 6 varied submissions" and rows[0][1].strip().endswith("ms per submission")
    assert float(rows[1][1].split()[0]) > 0
    assert len(list(make_varied_class(tmp_path, 6).iterdir())) == 6
    assert (tmp_path / "out-similarity" / "similarity.html").is_file()
