"""Gradescope: ``python -m autograder export gradescope``, then Gradescope's layout, simulated.

The zip is unzipped into a temporary root standing for ``/autograder`` (``source/``,
``run_autograder``, ``submission/``, ``results/``, ``submission_metadata.json``), which
``AUTOGRADER_ROOT`` points the scripts at. ``setup.sh`` runs and installs nothing, because this
environment already matches the pins; ``run_autograder`` then grades, each in a fresh root as on
Gradescope: the solutions (the ``attention`` folder), the stubs (a zip), a broken submission (one
folder down, a syntax error, a missing module, a module that probes the sandbox) and the
solution notebooks. Every ``results.json`` is validated against Gradescope's format (the JSON
Schema in ``autograder/grading``) and its scores asserted.

The runs are sequential on purpose: each is a whole grader with its own sandbox.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from conftest import EXERCISES, REPO_ROOT, SOLUTIONS

from autograder.course import load_course
from autograder.grading import engine, report
from autograder.grading.gradescope_run import private_paths
from autograder.grading.intake import Submission, make_private_copy
from autograder.hidden.questions import QUESTIONS
from autograder.sandbox.uids import UID_FIRST

COURSE = load_course()
POINTS = {step.id: step.points for step in COURSE.steps}
SCHEMA = json.loads((REPO_ROOT / "autograder" / "grading" / "gradescope_results.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SOLUTION_NOTEBOOKS = sorted((SOLUTIONS / "notebooks").glob("*.ipynb"))
IS_ROOT = os.geteuid() == 0


def unzip(archive: Path, target: Path) -> None:
    """Extract keeping the permission bits (Python's zipfile drops them; Gradescope's unzip keeps them)."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, target))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


def gradescope_root(archive: Path, root: Path) -> Path:
    """``root`` laid out like ``/autograder`` after Gradescope built the image, before a submission."""
    unzip(archive, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"email": "learner@example.org"}]}))
    return root


def environment(root: Path) -> dict[str, str]:
    return dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable, AUTOGRADER_SEED="20240531")


def run_autograder(root: Path) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=environment(root), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert sorted(p.name for p in (root / "results").iterdir()) == ["results.json"]
    return done, json.loads((root / "results" / "results.json").read_text())


def by_step(results: dict) -> dict[str, list[dict]]:
    tests: dict[str, list[dict]] = {}
    for test in results["tests"]:
        tests.setdefault(test["tags"][0], []).append(test)
    return tests


PROBE = '''"""Not an embedding: reports what this process can reach, through the error message."""
import os


def _try(path, write=False):
    try:
        with open(path, "a" if write else "r") as handle:
            return "WROTE" if write else "READ"
    except OSError as error:
        return type(error).__name__


def embed(token_ids, vocab_size=50_000, dim=3, seed=123):
    root = {root!r}
    report = {{
        "uid": os.getuid(),
        "metadata": _try(root + "/submission_metadata.json"),
        "hidden_checks": _try(root + "/source/autograder/hidden/tokens.py"),
        "course_yml": _try(root + "/source/course.yml"),
        "requirements": _try(root + "/source/requirements.txt"),
        "results": _try(root + "/results/results.json", write=True),
    }}
    raise RuntimeError("probe " + repr(report))
'''


def _submission_broken(root: Path) -> None:
    """One folder down; scores.py does not parse; kv_cache.py is missing; embedding.py probes."""
    package = root / "submission" / "my-work" / "attention"
    shutil.copytree(SOLUTIONS / "attention", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "scores.py").write_text((package / "scores.py").read_text() + "\ndef broken(:\n    pass\n")
    (package / "kv_cache.py").unlink()
    (package / "embedding.py").write_text(PROBE.format(root=str(root)))


def _submission_stubs_zip(root: Path) -> None:
    with zipfile.ZipFile(root / "submission" / "attention.zip", "w") as zipped:
        for path in sorted((EXERCISES / "attention").glob("*.py")):
            zipped.write(path, f"attention/{path.name}")


def _submission_nothing_gradable(root: Path) -> None:
    """A report and a screenshot instead of code: no attention/, no modules, no notebooks."""
    (root / "submission" / "report.pdf").write_bytes(b"%PDF-1.4 not code")
    (root / "submission" / "answers.txt").write_text("I did it all in my head.")
    (root / "submission" / "images").mkdir()
    (root / "submission" / "images" / "screenshot.png").write_bytes(b"\x89PNG")


SCENARIOS = {
    "solutions": lambda root: shutil.copytree(SOLUTIONS / "attention", root / "submission" / "attention",
                                              ignore=shutil.ignore_patterns("__pycache__")),
    "stubs-zip": _submission_stubs_zip,
    "broken": _submission_broken,
    "notebooks": lambda root: [shutil.copy(p, root / "submission" / p.name) for p in SOLUTION_NOTEBOOKS],
    "nothing": _submission_nothing_gradable,
    "notebooks-wrong-answers": lambda root: _submission_wrong_answers(root),
}


def _submission_wrong_answers(root: Path) -> None:
    """The solution notebooks with every concept question answered wrong."""
    from test_concept_answers import WRONG, _notebooks_with

    folder = _notebooks_with(root / "staging", WRONG)
    for path in (folder / "notebooks").glob("*.ipynb"):
        shutil.copy(path, root / "submission" / path.name)
    shutil.rmtree(root / "staging")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """``python -m autograder export gradescope --out DIR/autograder.zip``, as the README says."""
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "autograder", "export", "gradescope", "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done


@pytest.fixture(scope="module")
def graded(autograder_zip, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple]]:
    """Each scenario graded by ``run_autograder`` in a fresh Gradescope root: name -> (root, run, results)."""
    found = {}
    for name, make in SCENARIOS.items():
        if name.startswith("notebooks") and not SOLUTION_NOTEBOOKS:
            continue
        root = gradescope_root(autograder_zip[0], tmp_path_factory.mktemp(f"autograder-{name}"))
        make(root)
        done, results = run_autograder(root)
        found[name] = (root, done, results)
    yield found


# ---------------------------------------------------------------------------------------
# The zip and setup.sh
# ---------------------------------------------------------------------------------------


def test_the_zip_holds_the_scripts_the_grader_and_the_hidden_checks_but_no_solutions(autograder_zip) -> None:
    archive, done = autograder_zip
    assert f"wrote {archive}" in done.stdout
    with zipfile.ZipFile(archive) as zipped:
        infos = {info.filename: info for info in zipped.infolist()}
    names = set(infos)
    for name in ("setup.sh", "run_autograder", "requirements.txt", "check_environment.py", "course.yml",
                 "README.md", "autograder/grading/gradescope_run.py", "exercises/selfcheck/public/__init__.py",
                 *(f"autograder/hidden/{step.id}.py" for step in COURSE.steps)):
        assert name in names, name
    for name in ("setup.sh", "run_autograder"):
        assert (infos[name].external_attr >> 16) & 0o111, f"{name} is not executable"
    left_out = ("solutions/", "autograder/samples/", "autograder/build/", "tests/", ".git")
    assert not [n for n in names if n.startswith(left_out)]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    with zipfile.ZipFile(archive) as zipped:
        requirements = zipped.read("requirements.txt").decode()
        contents = {n: zipped.read(n) for n in names}
    assert f"torch=={COURSE.environment.torch}\n" in requirements
    solution_files = {data for data in (p.read_bytes() for p in SOLUTIONS.rglob("*") if p.is_file())
                      if b"BEGIN SOLUTION" in data}
    assert not [n for n, data in contents.items() if data in solution_files]


def test_setup_sh_installs_nothing_when_the_environment_already_matches(autograder_zip, tmp_path: Path) -> None:
    root = gradescope_root(autograder_zip[0], tmp_path / "autograder")
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source", env=environment(root),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already matches requirements.txt; nothing to install" in done.stdout
    assert not (root / "venv").exists()


def test_check_environment_names_what_differs(autograder_zip, tmp_path: Path) -> None:
    root = gradescope_root(autograder_zip[0], tmp_path / "autograder")
    script = root / "source" / "check_environment.py"
    ok = subprocess.run([sys.executable, str(script), str(root / "source" / "requirements.txt")],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == ""
    other = tmp_path / "requirements.txt"
    other.write_text("torch==0.0.1\nnot-a-real-package-xyz==1.0\nnumpy==0.1; python_version < \"3.0\"\n")
    bad = subprocess.run([sys.executable, str(script), str(other)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "check_environment: torch==0.0.1: " in bad.stdout and " is installed" in bad.stdout
    assert "not-a-real-package-xyz==1.0: not installed" in bad.stdout
    assert "numpy" not in bad.stdout  # the line is for another Python


# ---------------------------------------------------------------------------------------
# run_autograder on Gradescope's layout
# ---------------------------------------------------------------------------------------


def test_every_results_json_follows_gradescopes_format(graded) -> None:
    for name, (_, _, results) in graded.items():
        errors = sorted(VALIDATOR.iter_errors(results), key=str)
        assert not errors, (name, [e.message for e in errors])
        assert {tuple(t["tags"]) for t in results["tests"]} == {(s.id,) for s in COURSE.steps}
        assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(COURSE.max_score)
        assert results["extra_data"]["seed"] == 20240531


def test_the_solutions_score_full_marks_in_the_sandbox(graded) -> None:
    _, done, results = graded["solutions"]
    assert results["score"] == pytest.approx(COURSE.max_score)
    assert all(t["status"] == "passed" for t in results["tests"])
    assert results["extra_data"]["submission_form"] == "attention folder"
    layers = results["extra_data"]["isolation"]
    assert {"session", "rlimits"} <= set(layers)
    if IS_ROOT:  # as on Gradescope: an unprivileged uid in a private mount namespace, no network
        assert {"uid", "mount", "network"} <= set(layers)
    assert "submission form: attention folder" in done.stderr


def _code_and_question_tests(results: dict) -> tuple[list[dict], list[dict]]:
    """``results.json``'s tests of code checks, and those of concept questions (scored from the answers)."""
    tests = results["tests"]
    is_question = [t["extra_data"]["check"].startswith("question_") for t in tests]
    return ([t for t, q in zip(tests, is_question, strict=True) if not q],
            [t for t, q in zip(tests, is_question, strict=True) if q])


def test_the_stubs_uploaded_as_a_zip_score_zero_saying_not_implemented(graded) -> None:
    _, _, results = graded["stubs-zip"]
    assert results["score"] == 0
    assert results["extra_data"]["submission_form"] == "zip (attention folder)"
    assert "Unzipped attention.zip." in results["output"]
    code, questions = _code_and_question_tests(results)
    assert all("not implemented" in t["output"] for t in code), [t["output"] for t in code]
    assert questions and all("not answered" in t["output"] for t in questions), [t["output"] for t in questions]


def test_a_broken_submission_loses_only_the_broken_and_missing_steps(graded) -> None:
    root, _, results = graded["broken"]
    lost = POINTS["scores"] + POINTS["kv_cache"] + POINTS["embedding"]
    assert results["score"] == pytest.approx(COURSE.max_score - lost)
    tests = by_step(results)
    for step in COURSE.steps:
        scored = sum(t["score"] for t in tests[step.id])
        assert scored == pytest.approx(0 if step.id in ("scores", "kv_cache", "embedding") else step.points), step.id
    assert results["extra_data"]["submission_form"] == "folder one level down"
    assert "Graded the attention/ folder found in my-work/." in results["output"]
    assert "Missing from your submission: attention/kv_cache.py." in results["output"]
    assert all("attention/kv_cache.py is missing" in t["output"] for t in tests["kv_cache"])
    assert all("attention/scores.py could not be imported: SyntaxError" in t["output"] for t in tests["scores"])

    probe = tests["embedding"][0]["output"]
    assert "probe {" in probe, probe
    report_text = probe[probe.index("{"):probe.rindex("}") + 1]
    seen = eval(report_text)  # noqa: S307 - a dict literal our own probe printed
    if IS_ROOT:
        assert seen["uid"] >= UID_FIRST  # learner code runs as a sandbox uid, as with `grade`
    if "mount" in results["extra_data"]["isolation"]:
        for what in ("metadata", "hidden_checks", "course_yml", "requirements", "results"):
            assert seen[what] not in ("READ", "WROTE"), (what, seen)
    assert (root / "results" / "results.json").read_text().startswith("{")  # the probe could not overwrite it


@pytest.mark.skipif(not SOLUTION_NOTEBOOKS, reason="no solution notebooks in this checkout")
def test_the_solution_notebooks_score_full_marks(graded) -> None:
    _, _, results = graded["notebooks"]
    assert results["extra_data"]["submission_form"] == "notebooks"
    assert results["score"] == pytest.approx(COURSE.max_score), [t["output"] for t in results["tests"]
                                                                 if t["status"] != "passed"]
    assert "Graded from the answer cells of " in results["output"]


@pytest.mark.skipif(not SOLUTION_NOTEBOOKS, reason="no solution notebooks in this checkout")
def test_wrong_concept_answers_cost_exactly_their_points_on_gradescope(graded) -> None:
    _, _, results = graded["notebooks-wrong-answers"]
    questions = [t for t in results["tests"] if "concept question" in t["name"]]
    assert len(questions) == len(QUESTIONS) and all(t["score"] == 0 for t in questions)
    assert results["score"] == pytest.approx(COURSE.max_score - sum(q.points for q in QUESTIONS.values()))


def test_an_upload_without_code_gets_a_score_and_says_what_was_found(graded) -> None:
    """No attention/ anywhere: a results.json scoring 0 that tells the learner what arrived, not a failure."""
    _, done, results = graded["nothing"]
    assert results["score"] == 0
    assert results["extra_data"]["submission_form"] == "nothing"
    assert ("Found at the top of your submission: answers.txt, images/, report.pdf. Submit the attention folder "
            "(with attention/\\<module\\>.py files), a zip of it, or the step notebooks.") in results["output"]
    # (the note is markdown there: <module> would be an HTML tag, so it is escaped)
    paragraphs = [line for line in results["output"].splitlines() if line.strip()]  # markdown: blank lines between
    assert paragraphs[1].startswith("Found at the top of your submission")  # right after the score
    code, questions = _code_and_question_tests(results)
    assert all(t["status"] == "failed" and "no attention/ package" in t["output"] for t in code)
    assert questions and all(t["status"] == "failed" and "not answered" in t["output"] for t in questions)
    assert "grader failed" not in done.stderr


# ---------------------------------------------------------------------------------------
# Finding the work in an upload (no grading: fast)
# ---------------------------------------------------------------------------------------


def _located(submission: Path, tmp_path: Path):
    """What the intake makes of a Gradescope upload (``/autograder/submission``)."""
    return make_private_copy(Submission("submission", submission), tmp_path, None, COURSE)


def test_loose_module_files_are_graded_as_the_package(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    for module in ("tokens", "scores"):
        shutil.copy(SOLUTIONS / "attention" / f"{module}.py", submission / f"{module}.py")
    (submission / "notes.txt").write_text("hello")
    found = _located(submission, tmp_path)
    assert found.form == "module files"
    assert sorted(p.name for p in found.package_dir.iterdir()) == ["scores.py", "tokens.py"]
    assert found.present == {"tokens", "scores"}
    assert "graded as the attention package" in found.notes[0]


def test_a_zip_with_the_package_one_folder_down_and_unsafe_members(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    with zipfile.ZipFile(submission / "work.zip", "w") as zipped:
        zipped.writestr("student/attention/tokens.py", (SOLUTIONS / "attention" / "tokens.py").read_text())
        zipped.writestr("../escape.py", "print('out')\n")
        zipped.writestr("__MACOSX/student/attention/._tokens.py", "junk")
    found = _located(submission, tmp_path)
    assert found.form == "zip (folder one level down)"
    assert found.present == {"tokens"}
    assert "../escape.py: an unsafe path or a link in the zip, ignored." in found.notes
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "staging" / "escape.py").exists()


def test_a_symbolic_link_is_never_taken_for_the_package(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "attention").symlink_to(SOLUTIONS / "attention")
    found = _located(submission, tmp_path)
    assert found.form == "nothing"
    assert "Found at the top of your submission: attention" in found.notes[0]


def test_notebooks_beside_the_package_are_read_too(tmp_path: Path) -> None:
    submission = tmp_path / "submission"
    shutil.copytree(EXERCISES / "attention", submission / "attention", ignore=shutil.ignore_patterns("__pycache__"))
    (submission / "notebooks").mkdir()
    (submission / "notebooks" / "01_tokens.ipynb").write_text("{}")
    found = _located(submission, tmp_path)
    assert found.form == "attention folder"
    assert "No answer cells were found in the notebooks." in found.notes
    assert found.sources["tokens"] == "attention/tokens.py"


def test_learner_code_cannot_see_the_rest_of_the_autograder_root(tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    for folder in ("source/autograder", "source/exercises/selfcheck", "submission", "results"):
        (root / folder).mkdir(parents=True)
    for name in ("source/course.yml", "source/setup.sh", "source/seed.txt", "submission_metadata.json",
                 "run_autograder"):
        (root / name).write_text("")
    hidden = {p.relative_to(root).as_posix() for p in private_paths(root)}
    assert hidden == {"submission", "results", "submission_metadata.json", "run_autograder", "source/autograder",
                      "source/course.yml", "source/setup.sh", "source/seed.txt"}


# ---------------------------------------------------------------------------------------
# The schema: Gradescope's format, and the results.json of `python -m autograder grade`
# ---------------------------------------------------------------------------------------


def _grader_results() -> dict:
    result = engine.SubmissionResult("someone", seed=7, notes=["attention/kv_cache.py is missing"], elapsed=1.5)
    for number, step in enumerate(COURSE.steps, start=1):
        passed = step.id != "kv_cache"
        score = step.points if passed else 0.0
        result.tests.append(engine.TestResult(step.id, "check", "a check", f"{number}.1", score, step.points, passed,
                                              "passed" if passed else "not graded: missing"))
    return report.results_json(result, COURSE)


def test_the_graders_results_json_follows_the_schema() -> None:
    results = _grader_results()
    assert list(VALIDATOR.iter_errors(results)) == []
    assert results["score"] == COURSE.max_score - POINTS["kv_cache"]


@pytest.mark.parametrize("damage", ["no-score", "bad-status", "bad-visibility", "no-tags", "misspelt-key",
                                    "string-score"])
def test_the_schema_rejects_what_gradescope_or_the_contract_would_not_take(damage: str) -> None:
    results = copy.deepcopy(_grader_results())
    test = results["tests"][0]
    if damage == "no-score":
        del results["score"]
    elif damage == "bad-status":
        test["status"] = "ok"
    elif damage == "bad-visibility":
        results["visibility"] = "public"
    elif damage == "no-tags":
        test["tags"] = []
    elif damage == "misspelt-key":
        test["max-score"] = test.pop("max_score")
    elif damage == "string-score":
        test["score"] = "6"
    assert list(VALIDATOR.iter_errors(results)), damage
