"""The GitHub Classroom template, ``python -m autograder export classroom --out DIR``.

- ``.github/workflows/classroom.yml`` is valid YAML with the structure of the workflow GitHub
  Classroom itself generates: one ``classroom-resources/autograding-command-grader@v1`` step per
  course step (unique ``id``; inputs test-name, setup-command, command, timeout, max-score), then
  ``classroom-resources/autograding-grading-reporter@v1`` with ``<ID>_RESULTS`` env entries and
  ``runners`` naming exactly the grader steps (the reporter reads ``<RUNNER>_RESULTS`` for each);
- points and order come from ``course.yml``; every command runs a public test file the template has;
- the template is the leak-checked learner release (torch pinned), with no hidden tests or solutions;
- the per-step commands do what the grader needs: a non-zero exit on the stubs, zero on a solution;
- a bad ``--out`` is a one-line error with exit status 2, and nothing is overwritten.

The template is built once, by the real command in a subprocess.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXERCISES, REPO_ROOT, SOLUTIONS

from autograder.build.bundle import check_bundle
from autograder.course import load_course

COURSE = load_course()
WORKFLOW = Path(".github") / "workflows" / "classroom.yml"
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
GRADER_INPUTS = {"test-name", "setup-command", "command", "timeout", "max-score"}
STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")  # what GitHub accepts as a step id
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BEHAVIOUR_STEPS = ("tokens", "weights")  # self-contained solutions: no import of another step's module
SUMMARY = re.compile(
    r"^wrote (?P<out>.+)/ \((?P<files>\d+) files\): the learner release and \.github/workflows/classroom\.yml "
    r"\((?P<steps>\d+) graded steps, (?P<points>[\d.]+) points, public tests only\)$"
)


def export(out: Path, *, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m autograder export classroom --out OUT`` (imports from this checkout)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(EXERCISES)]), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "autograder", "export", "classroom", "--out", str(out)],
                          cwd=cwd or REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def files_of(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and ".git" not in p.relative_to(folder).parts}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("classroom") / "template"
    done = export(out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done


@pytest.fixture(scope="module")
def template(built: tuple[Path, subprocess.CompletedProcess]) -> Path:
    return built[0]


@pytest.fixture(scope="module")
def workflow(template: Path) -> dict:
    return yaml.safe_load((template / WORKFLOW).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def job(workflow: dict) -> dict:
    assert isinstance(workflow.get("jobs"), dict) and len(workflow["jobs"]) == 1, workflow.get("jobs")
    return next(iter(workflow["jobs"].values()))


def graders(job: dict) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses") == COMMAND_GRADER]


# ---------------------------------------------------------------------------------------
# The command's run
# ---------------------------------------------------------------------------------------


def test_the_command_prints_a_summary(built: tuple[Path, subprocess.CompletedProcess]) -> None:
    out, done = built
    lines = done.stdout.splitlines()
    match = SUMMARY.match(lines[0])
    assert match, done.stdout
    assert Path(match["out"]) == out
    assert int(match["files"]) == len(files_of(out))
    assert int(match["steps"]) == len(COURSE.steps)
    assert float(match["points"]) == COURSE.max_score == 100
    assert "GitHub Classroom" in lines[1] and "template repository" in lines[1]
    assert done.stderr == ""


# ---------------------------------------------------------------------------------------
# The workflow: what GitHub and GitHub Classroom's autograding actions expect
# ---------------------------------------------------------------------------------------


def test_workflow_top_level(template: Path, workflow: dict) -> None:
    text = (template / WORKFLOW).read_text(encoding="utf-8")
    # PyYAML (YAML 1.1) reads a bare `on:` as the boolean True; a quoted 'on' is the string
    # "on" for every YAML reader, GitHub's included.
    assert "on" in workflow and True not in workflow, list(workflow)
    assert re.search(r"""^(['"])on\1:""", text, re.M), "the `on` key must be quoted"
    triggers = workflow["on"]
    assert isinstance(triggers, (list, dict, str))
    assert "push" in ([triggers] if isinstance(triggers, str) else list(triggers))
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert isinstance(workflow.get("name"), str) and workflow["name"]
    assert set(workflow) <= {"name", "on", "permissions", "jobs", "env", "concurrency", "defaults", "run-name"}


def test_job_and_its_steps(job: dict) -> None:
    assert isinstance(job.get("runs-on"), str) and job["runs-on"]
    steps = job["steps"]
    assert isinstance(steps, list) and steps
    for step in steps:
        assert isinstance(step, dict) and step.get("name"), step
        assert ("uses" in step) != ("run" in step), f"a step either uses an action or runs a command: {step}"
    setup = steps[:steps.index(graders(job)[0])]
    assert [s["uses"].split("@")[0] for s in setup if "uses" in s] == ["actions/checkout", "actions/setup-python"]
    assert str(setup[1]["with"]["python-version"]).startswith("3.")
    installs = [s["run"] for s in setup if "run" in s]
    assert any("pip install" in r and "-r requirements.txt" in r for r in installs), installs


def test_one_grader_step_per_course_step_with_its_points(template: Path, job: dict) -> None:
    steps = graders(job)
    assert [s["id"] for s in steps] == [step.id for step in COURSE.steps]
    assert len({s["id"] for s in job["steps"] if "id" in s}) == len([s for s in job["steps"] if "id" in s])
    assert len({s["with"]["test-name"] for s in steps}) == len(steps), "test names must be unique"
    for number, (grader, step) in enumerate(zip(steps, COURSE.steps, strict=True), start=1):
        assert STEP_ID.match(grader["id"]), grader["id"]
        inputs = grader["with"]
        assert set(inputs) == GRADER_INPUTS, inputs
        assert inputs["max-score"] == step.points and isinstance(inputs["max-score"], int)
        assert isinstance(inputs["timeout"], int) and 1 <= inputs["timeout"] <= 360  # minutes; 6 hours at most
        assert step.id in inputs["test-name"] and str(number) in inputs["test-name"]
        assert isinstance(inputs["setup-command"], str) and isinstance(inputs["command"], str)
        words = shlex.split(inputs["command"])
        tests = [w for w in words if w.startswith("tests/")]
        assert len(tests) == 1 and (template / tests[0]).is_file(), inputs["command"]
        assert re.fullmatch(rf"tests/test_{number:02d}_{step.id}\.py", tests[0])
        assert words[:3] == ["python", "-m", "pytest"], inputs["command"]
    assert sum(s["with"]["max-score"] for s in steps) == COURSE.max_score == 100


def test_every_public_test_file_is_graded(template: Path, job: dict) -> None:
    graded = {w for s in graders(job) for w in shlex.split(s["with"]["command"]) if w.startswith("tests/")}
    assert graded == {p for p in files_of(template) if re.fullmatch(r"tests/test_.*\.py", p)}


def test_the_reporter_adds_up_every_grader_step(job: dict) -> None:
    reporter = job["steps"][-1]
    assert reporter["uses"] == REPORTER
    assert sum(1 for s in job["steps"] if s.get("uses") == REPORTER) == 1
    ids = [s["id"] for s in graders(job)]
    assert reporter["with"] == {"runners": ",".join(ids)}
    # The reporter reads process.env[`${runner.trim().toUpperCase()}_RESULTS`] for each runner.
    runners = [r.strip() for r in re.split(r"[\s,]", reporter["with"]["runners"]) if r.strip()]
    assert runners == ids
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids}


# ---------------------------------------------------------------------------------------
# The template's files
# ---------------------------------------------------------------------------------------


def test_template_is_the_learner_release_and_the_workflow(template: Path) -> None:
    files = files_of(template)
    assert WORKFLOW.as_posix() in files
    assert {f for f in files if f.startswith(".github/")} == {WORKFLOW.as_posix()}
    for name in ("README.md", "requirements.txt", ".gitignore", "conftest.py", "pytest.ini"):
        assert name in files, name
    for step in COURSE.steps:
        assert f"attention/{step.module}.py" in files
        assert (template / "attention" / f"{step.module}.py").read_bytes() == \
            (EXERCISES / "attention" / f"{step.module}.py").read_bytes(), f"{step.module}: not the stub"
    for path in (EXERCISES / "tests").glob("test_*.py"):
        assert (template / "tests" / path.name).read_bytes() == path.read_bytes()
    readme = (template / "README.md").read_text(encoding="utf-8")
    assert "git push" in readme


def test_torch_is_pinned(template: Path) -> None:
    requirements = (template / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "torch==2.13.0" in requirements
    assert COURSE.environment.torch == "2.13.0"


def test_no_hidden_tests_or_solutions(template: Path) -> None:
    assert check_bundle(template) == []
    files = files_of(template)
    assert not [f for f in files if {"autograder", "solutions", "hidden"} & set(Path(f).parts)]
    assert "course.yml" not in files
    solutions = {(SOLUTIONS / "attention" / f"{step.module}.py").read_bytes() for step in COURSE.steps}
    assert not [f for f in files if (template / f).read_bytes() in solutions]


# ---------------------------------------------------------------------------------------
# The grader commands, run as the command grader runs them
# ---------------------------------------------------------------------------------------


def run_grader_command(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """``command`` in ``cwd`` with the command grader's environment (PATH, HOME, FORCE_COLOR only)."""
    words = shlex.split(command)
    if words[0] in ("python", "python3"):
        words[0] = sys.executable
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "HOME": os.environ.get("HOME", str(cwd)), "FORCE_COLOR": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    done.stdout, done.stderr = ANSI.sub("", done.stdout), ANSI.sub("", done.stderr)
    return done


@pytest.mark.parametrize("step_id", BEHAVIOUR_STEPS)
def test_grader_command_fails_on_the_stub_and_passes_on_the_solution(
        template: Path, job: dict, tmp_path: Path, step_id: str) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(template, copy)
    grader = next(s for s in graders(job) if s["id"] == step_id)
    module = next(step.module for step in COURSE.steps if step.id == step_id)

    on_stub = run_grader_command(grader["with"]["command"], copy)
    assert on_stub.returncode != 0, on_stub.stdout + on_stub.stderr
    assert "not implemented yet" in on_stub.stdout, on_stub.stdout + on_stub.stderr

    shutil.copyfile(SOLUTIONS / "attention" / f"{module}.py", copy / "attention" / f"{module}.py")
    on_solution = run_grader_command(grader["with"]["command"], copy)
    assert on_solution.returncode == 0, on_solution.stdout + on_solution.stderr
    assert "passed" in on_solution.stdout and "failed" not in on_solution.stdout


# ---------------------------------------------------------------------------------------
# --out: what it may and may not be
# ---------------------------------------------------------------------------------------


def assert_usage_error(done: subprocess.CompletedProcess, path: Path) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert str(path) in lines[0], done.stderr
    assert done.stdout == ""


def test_out_is_a_non_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me\n")
    done = export(folder)
    assert_usage_error(done, folder)
    assert "not empty" in done.stderr
    assert files_of(folder) == {"notes.txt"} and (folder / "notes.txt").read_text() == "keep me\n"


def test_out_is_another_classroom_repository(tmp_path: Path) -> None:
    """A README and a classroom.yml are in every Classroom repository: not enough to replace its files."""
    folder = tmp_path / "assignment"
    (folder / WORKFLOW).parent.mkdir(parents=True)
    (folder / WORKFLOW).write_text("name: Autograding Tests\n'on': [push]\n")
    (folder / "README.md").write_text("# my assignment\n")
    (folder / "main.py").write_text("print('hello')\n")
    done = export(folder)
    assert_usage_error(done, folder)
    assert files_of(folder) == {WORKFLOW.as_posix(), "README.md", "main.py"}
    assert (folder / "main.py").read_text() == "print('hello')\n"


@pytest.mark.parametrize("below", [False, True], ids=["a file", "under a file"])
def test_out_is_a_file(tmp_path: Path, below: bool) -> None:
    file = tmp_path / "template"
    file.write_text("not a folder\n")
    out = file / "sub" if below else file
    done = export(out)
    assert_usage_error(done, out)
    assert file.read_text() == "not a folder\n"


def test_out_is_a_template_it_wrote(template: Path, tmp_path: Path) -> None:
    """Exporting again into an earlier template replaces its files, but ``.git``."""
    again = tmp_path / "template"
    shutil.copytree(template, again)
    (again / ".git").mkdir()
    (again / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (again / "stale.txt").write_text("from an older export\n")
    done = export(again)
    assert done.returncode == 0, done.stdout + done.stderr
    assert files_of(again) == files_of(template)
    assert (again / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (again / WORKFLOW).read_bytes() == (template / WORKFLOW).read_bytes()
