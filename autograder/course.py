"""``course.yml``: the single description of the course, validated with pydantic.

`load_course` returns a `Course` or raises `CourseError` whose message is one line naming the
file, the field and the problem, e.g.
``course.yml: step 4 (scores): points: input should be greater than or equal to 0 (got -2)``
(step positions 1-based). `check_course` also returns the warnings; `CourseProblems` holds every
error at once, for ``check-course``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import REPO_ROOT

COURSE_FILE = REPO_ROOT / "course.yml"
SOLUTIONS_PACKAGE = REPO_ROOT / "solutions" / "attention"

IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class CourseError(Exception):
    """``course.yml`` is missing or invalid. ``str()`` is a one-line message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Environment(_Strict):
    python: str = Field(pattern=r"^>=\s*3\.\d+$")
    torch: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    device: Literal["cpu"] = "cpu"


class Limits(_Strict):
    call_seconds: float = Field(gt=0, le=3600)
    submission_seconds: float = Field(gt=0, le=24 * 3600)
    memory_mb: int = Field(ge=64, le=1_000_000)
    output_kb: int = Field(ge=1, le=1_000_000)


class Step(_Strict):
    id: str = Field(pattern=IDENTIFIER)
    title: str = Field(min_length=1)
    module: str = Field(pattern=IDENTIFIER)
    notebook: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    points: float = Field(ge=0)
    api: tuple[str, ...] = Field(min_length=1)
    from_scratch: bool = False

    @field_validator("api")
    @classmethod
    def _api_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError(f"{name!r} is not a Python name")
        if len(set(names)) != len(names):
            raise ValueError("names repeat")
        return names


class Course(_Strict):
    title: str = Field(min_length=1)
    version: str = Field(min_length=1)
    environment: Environment
    limits: Limits
    feedback_visibility: Literal["hidden", "after_due_date", "after_published", "visible"] = "visible"
    total_points: float | None = Field(default=None, ge=0)  # the stated total; steps adding up otherwise: a warning
    score_decimals: int = Field(default=2, ge=0, le=6)  # scores in grades.csv and the LMS export are rounded so
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> Course:
        for attribute in ("id", "module"):
            seen: set[str] = set()
            for step in self.steps:
                value = getattr(step, attribute)
                if value in seen:
                    raise ValueError(f"steps: {attribute} {value!r} appears twice")
                seen.add(value)
        return self

    @property
    def step_ids(self) -> list[str]:
        return [step.id for step in self.steps]

    @property
    def max_score(self) -> float:
        return float(sum(step.points for step in self.steps))

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def earlier_steps(self, step_id: str) -> list[Step]:
        """The steps before ``step_id`` in course order (their code may be used by it)."""
        index = self.step_ids.index(step_id)
        return list(self.steps[:index])


class CourseProblems(CourseError):
    """Every problem found in a course file: ``errors`` (each one line), ``warnings`` (the file still loads).

    ``str()`` is the first error, with how many more there are.
    """

    def __init__(self, errors: list[str], warnings: list[str]) -> None:
        more = f" (and {len(errors) - 1} more problem(s): run `python -m autograder check-course`)" if len(
            errors) > 1 else ""
        super().__init__(errors[0] + more)
        self.errors = errors
        self.warnings = warnings


def load_course(path: Path | str = COURSE_FILE, *, known_steps: set[str] | None = None,
                package_dir: Path | None = SOLUTIONS_PACKAGE) -> Course:
    """Read and validate ``path``; raises `CourseProblems` (a `CourseError`) naming every problem.

    ``known_steps``: step ids the grader has hidden checks for; any other id is "unknown".
    ``package_dir``: where each step's module must exist (``None`` skips the check).
    """
    course, _ = check_course(path, known_steps=known_steps, package_dir=package_dir)
    return course


def check_course(path: Path | str = COURSE_FILE, *, known_steps: set[str] | None = None,
                 package_dir: Path | None = SOLUTIONS_PACKAGE) -> tuple[Course, list[str]]:
    """The course and its warnings; raises `CourseError` for an unreadable file, `CourseProblems` for errors.

    Step positions in messages are 1-based and name the step: ``step 4 (scores): points: ...``.
    """
    path = Path(path)
    label = path.name if path.resolve() == COURSE_FILE else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CourseError(f"{label}: file not found") from None
    except OSError as error:
        raise CourseError(f"{label}: cannot read ({error.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CourseError(f"{label}: YAML syntax error: {where}{problem}") from None
    if not isinstance(data, dict):
        raise CourseError(f"{label}: expected a mapping of course fields at the top level")
    try:
        course = Course.model_validate(data)
    except ValidationError as error:
        problems = [f"{label}: {_field_path(e['loc'], data)}: {_problem(e, data)}" for e in error.errors()]
        raise CourseProblems(list(dict.fromkeys(problems)), []) from None
    errors: list[str] = []
    for number, step in enumerate(course.steps, start=1):
        where = f"{label}: step {number} ({step.id})"
        if known_steps is not None and step.id not in known_steps:
            errors.append(f"{where}: id: unknown step {step.id!r} (the grader has no checks for it)")
        if package_dir is not None and not (package_dir / f"{step.module}.py").is_file():
            errors.append(f"{where}: module: module {step.module!r} not found (no {package_dir.name}/{step.module}.py)")
    if errors:
        raise CourseProblems(errors, [])
    warnings = []
    if course.total_points is not None and abs(course.max_score - course.total_points) > 1e-9:
        warnings.append(f"{label}: total_points: the steps' points add up to {course.max_score:g}, "
                        f"not {course.total_points:g}")
    return course, warnings


_MODELS: dict[str, type[BaseModel]] = {}  # field name -> the model it holds (filled below)


def _model_at(location: tuple) -> type[BaseModel] | None:
    """The model whose field ``location[-1]`` is (Course, Step, Limits, Environment), for suggestions."""
    model: type[BaseModel] | None = Course
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        model = _MODELS.get(str(part))
    return model


def _field_path(location: tuple, data: dict | None = None) -> str:
    """``steps[3].points`` as ``step 4 (scores): points`` (1-based, named); other fields dotted."""
    text = ""
    steps = data.get("steps") if isinstance(data, dict) else None
    for index, part in enumerate(location):
        if isinstance(part, int) and index > 0 and location[index - 1] == "steps":
            step = steps[part] if isinstance(steps, list) and part < len(steps) else None
            name = f" ({step['id']})" if isinstance(step, dict) and isinstance(step.get("id"), str) else ""
            text = f"step {part + 1}{name}"
        elif isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += (": " if text.startswith("step ") and ":" not in text else ".") + str(part) if text else str(part)
    return text or "(top level)"


def _problem(error: dict, data: dict | None = None) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        model = _model_at(tuple(error.get("loc", ())))
        key = str(error["loc"][-1]) if error.get("loc") else ""
        fields = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
        return f"unknown field `{key}`: did you mean `{close[0]}`?" if close else (
            f"unknown field `{key}` (known: {', '.join(fields)})" if fields else "unknown field")
    message = error.get("msg", "invalid value").removeprefix("Value error, ")
    message = message[0].lower() + message[1:] if message else message
    if "input" in error and kind not in ("model_type", "dict_type"):
        shown = repr(error["input"])
        if len(shown) <= 60:
            message += f" (got {shown})"
    return message


_MODELS.update(steps=Step, limits=Limits, environment=Environment)
