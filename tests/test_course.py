"""course.yml: the real file is valid, and every kind of bad file gets one line naming file, field, problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.course import COURSE_FILE, CourseError, load_course

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_course_file_is_valid_and_matches_the_solutions() -> None:
    course = load_course()
    assert course.max_score == 100
    assert course.environment.torch == "2.13.0"
    assert len(course.steps) == 13
    assert course.step_ids[0] == "tokens" and course.step_ids[-1] == "kv_cache"


def _write(tmp_path: Path, mutate) -> Path:  # noqa: ANN001
    data = yaml.safe_load(COURSE_FILE.read_text())
    mutate(data)
    path = tmp_path / "course.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["steps"][3].update(points=-2), "step 4 (scores): points: input should be greater than"),
        (lambda d: d["steps"][2].pop("module"), "step 3 (projections): module: required field is missing"),
        (lambda d: d["steps"][1].update(colour="red"), "step 2 (embedding): colour: unknown field `colour`"),
        (lambda d: d["steps"][0].update(module="nonexistent"), "step 1 (tokens): module: module 'nonexistent'"),
        (lambda d: d["steps"].append(dict(d["steps"][0])), "steps: id 'tokens' appears twice"),
        (lambda d: d["limits"].update(call_seconds=0), "limits.call_seconds: input should be greater than 0"),
        (lambda d: d["environment"].update(torch="latest"), "environment.torch: string should match pattern"),
        (lambda d: d.pop("limits"), "limits: required field is missing"),
    ],
)
def test_bad_course_files_get_one_line_naming_the_field(tmp_path: Path, mutate, expected: str) -> None:  # noqa: ANN001
    path = _write(tmp_path, mutate)
    with pytest.raises(CourseError) as raised:
        load_course(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_an_unknown_step_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["steps"][4].update(id="softmax_magic"))
    with pytest.raises(CourseError, match=r"step 5 \(softmax_magic\): id: unknown step 'softmax_magic'"):
        load_course(path, known_steps={s.id for s in load_course().steps})


def test_yaml_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "course.yml"
    broken.write_text("title: x\nsteps: [\n")
    with pytest.raises(CourseError, match=r"YAML syntax error: line \d+, column \d+"):
        load_course(broken)
    with pytest.raises(CourseError, match="file not found"):
        load_course(tmp_path / "nope.yml")
    broken.write_text("- just\n- a list\n")
    with pytest.raises(CourseError, match="expected a mapping"):
        load_course(broken)


def test_cli_reports_a_bad_course_in_one_line_and_exit_status_2(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d["steps"][3].update(points=-2))
    done = subprocess.run([sys.executable, "-m", "autograder", "check-course", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("1 error(s)"), lines
    assert "step 4 (scores): points" in lines[0]
    ok = subprocess.run([sys.executable, "-m", "autograder", "check-course"], capture_output=True, text=True,
                        cwd=REPO_ROOT)
    assert ok.returncode == 0 and "13 steps, 100 points" in ok.stdout


def test_check_course_reports_every_error_at_once_with_suggestions(tmp_path: Path) -> None:
    def mutate(data: dict) -> None:
        data["steps"][3]["pionts"] = data["steps"][3].pop("points")
        data["steps"][6]["points"] = -1
        data["limits"]["memroy_mb"] = data["limits"].pop("memory_mb")
        data["titel"] = data.pop("title")

    path = _write(tmp_path, mutate)
    done = subprocess.run([sys.executable, "-m", "autograder", "check-course", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    expected = ["step 4 (scores): pionts: unknown field `pionts`: did you mean `points`?",
                "step 4 (scores): points: required field is missing",
                "step 7 (self_attention): points: input should be greater than or equal to 0",
                "limits.memroy_mb: unknown field `memroy_mb`: did you mean `memory_mb`?",
                "titel: unknown field `titel`: did you mean `title`?"]
    for text in expected:
        assert any(text in line for line in errors), (text, errors)
    assert f"{len(errors)} error(s)" in done.stderr and len(errors) >= len(expected)
    with pytest.raises(CourseError, match=r"and \d+ more problem"):
        load_course(path)


def test_points_that_miss_the_stated_total_are_a_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, lambda d: d.update(total_points=120))
    done = subprocess.run([sys.executable, "-m", "autograder", "check-course", str(path)],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert "warning: " in done.stderr and "add up to 100, not 120" in done.stderr
    assert load_course(path).max_score == 100  # a warning: the course still loads
    fine = _write(tmp_path, lambda d: d.update(total_points=100))
    assert "warning" not in subprocess.run([sys.executable, "-m", "autograder", "check-course", str(fine)],
                                           capture_output=True, text=True, cwd=REPO_ROOT).stderr


def test_the_pinned_grading_environment_pins_course_ymls_torch() -> None:
    """requirements/grading.txt (installed by pyproject.toml and by Gradescope's setup.sh) pins every
    package exactly, torch at course.yml's version."""
    from autograder import REPO_ROOT

    text = (REPO_ROOT / "requirements" / "grading.txt").read_text()
    lines = [line.split(";")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert all("==" in line for line in lines), lines
    assert f"torch=={load_course().environment.torch}" in lines
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'file = ["requirements/grading.txt", "requirements/course.txt"]' in pyproject
