"""The intake (`autograder.grading.intake`): every layout a learner hands in, found, copied safely
and named after the student; the package or the notebooks per step. No grading here: fast.

`tests/test_grade_batch.py` grades the same layouts end to end.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from conftest import EXERCISES, SOLUTIONS

from autograder.course import load_course
from autograder.grading import intake
from autograder.grading.implemented import still_a_stub
from autograder.grading.intake import (
    MAX_FILE_BYTES,
    MAX_FILES,
    Submission,
    SubmissionError,
    make_private_copy,
    resolve_submissions,
)

COURSE = load_course()
MODULES = {step.module for step in COURSE.steps}
NOTEBOOKS = sorted((SOLUTIONS / "notebooks").glob("*.ipynb"))
IGNORE = shutil.ignore_patterns("__pycache__")


# -- building the layouts (also used by test_grade_batch.py) -------------------------------------


def package(folder: Path, source: Path = SOLUTIONS) -> Path:
    shutil.copytree(source / "attention", folder / "attention", ignore=IGNORE)
    return folder


def loose_modules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in (SOLUTIONS / "attention").glob("*.py"):
        if path.name != "__init__.py":
            shutil.copy(path, folder / path.name)
    return folder


def notebooks(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in NOTEBOOKS:
        shutil.copy(path, folder / path.name)
    return folder


def zipped(archive: Path, folder: Path, *, top: bool = False) -> Path:
    """``folder``'s files in ``archive``: at the zip's top with ``top``, else inside ``<folder name>/``."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                handle.write(path, path.relative_to(folder if top else folder.parent).as_posix())
    return archive


def every_layout(batch: Path, scratch: Path) -> dict[str, float]:
    """A class folder holding every layout the intake accepts: name -> the score it must get (of 100)."""
    package(batch / "alice" / "attention-course")  # one folder down, any name
    loose_modules(batch / "bob")  # module files at the top
    (batch / "carol").mkdir(parents=True)  # empty
    package(batch / "dave")  # the plain layout, plus macOS debris
    (batch / "dave" / "__MACOSX").mkdir()
    (batch / "dave" / "._tokens.py").write_text("junk")
    notebooks(batch / "erin")  # notebooks alone
    notebooks(batch / "frank" / "notebooks")  # notebooks/ (nbgrader's submitted/<student>/notebooks/)
    package(batch / "gina", EXERCISES)  # untouched stubs + finished notebooks
    notebooks(batch / "gina" / "notebooks")
    zipped(batch / "hank.zip", package(scratch / "hank-work"))  # a zip, content one folder down
    zipped(batch / "ivy.zip", loose_modules(scratch / "ivy"), top=True)  # a zip of loose modules
    package(batch / "jack" / "first-try", EXERCISES)  # two packages one folder down: the one that does more
    package(batch / "jack" / "second-try")
    (batch / "__MACOSX").mkdir()
    (batch / ".DS_Store").write_text("")
    return {"alice": 100, "bob": 100, "carol": 0, "dave": 100, "erin": 100, "frank": 100, "gina": 100,
            "hank": 100, "ivy": 100, "jack": 100}


# -- which paths are submissions -----------------------------------------------------------------


def test_every_folder_of_a_batch_is_a_submission_under_its_own_name(tmp_path: Path) -> None:
    expected = every_layout(tmp_path / "class", tmp_path / "scratch")
    found = resolve_submissions([str(tmp_path / "class")], COURSE)
    assert [s.name for s in found] == sorted(expected)
    assert {s.batch for s in found} == {tmp_path / "class"}


def test_a_student_folder_with_its_work_one_folder_down_keeps_the_students_name(tmp_path: Path) -> None:
    package(tmp_path / "submissions" / "alice" / "attention-course")
    package(tmp_path / "submissions" / "bob" / "attention-course")
    (tmp_path / "submissions" / "alice" / "data").mkdir()  # another folder beside the work
    found = resolve_submissions([str(tmp_path / "submissions" / n) for n in ("alice", "bob")], COURSE)
    assert [s.name for s in found] == ["alice", "bob"]
    copy = make_private_copy(found[0], tmp_path, None, COURSE)
    assert copy.form == "folder one level down" and copy.present == MODULES
    assert "Graded the attention/ folder found in attention-course/." in copy.notes


def test_work_at_the_top_makes_a_folder_one_submission_even_with_more_folders_inside(tmp_path: Path) -> None:
    student = package(tmp_path / "kim")
    package(student / "old", EXERCISES)
    package(student / "older", EXERCISES)
    [submission] = resolve_submissions([str(student)], COURSE)
    assert submission.name == "kim"
    copy = make_private_copy(submission, tmp_path, None, COURSE)
    assert copy.form == "attention folder"
    assert not still_a_stub(copy.module_file("scores").read_text(), ["attention_scores"])
    assert any(n.startswith("Several places hold work; only the top of the folder was graded") for n in copy.notes)


def test_a_stray_module_at_the_top_does_not_hide_the_package_one_folder_down(tmp_path: Path) -> None:
    student = package(tmp_path / "lou" / "attention-course")
    shutil.copy(SOLUTIONS / "attention" / "scores.py", student.parent / "scores.py")
    copy = make_private_copy(Submission("lou", student.parent), tmp_path, None, COURSE)
    assert copy.form == "folder one level down" and copy.present == MODULES
    assert ("Several places hold work; only attention-course/ was graded, which implements the most steps "
            f"({len(COURSE.steps)}; among equals the top, then the first folder in name order), "
            "not the top of the folder (1).") in copy.notes


def test_the_exercises_layout_is_one_place_without_notes_about_its_notebooks_folder(tmp_path: Path) -> None:
    folder = package(tmp_path / "mo")
    shutil.copytree(EXERCISES / "notebooks", folder / "notebooks", ignore=IGNORE)
    copy = make_private_copy(Submission("mo", folder), tmp_path, None, COURSE)
    assert copy.form == "attention folder"
    assert not [n for n in copy.notes if "Several places" in n or "Both" in n]
    assert set(copy.sources.values()) == {f"attention/{s.module}.py" for s in COURSE.steps}


def test_a_folder_of_two_packages_is_read_as_a_batch_and_a_single_zip_as_one_submission(tmp_path: Path) -> None:
    """The ambiguous cases, decided one way: two or more subfolders or zips holding work make a batch."""
    package(tmp_path / "work" / "v1")
    package(tmp_path / "work" / "v2")
    assert [s.name for s in resolve_submissions([str(tmp_path / "work")], COURSE)] == ["v1", "v2"]
    zipped(tmp_path / "one" / "lee.zip", package(tmp_path / "lee"))
    [single] = resolve_submissions([str(tmp_path / "one")], COURSE)
    assert single.name == "one" and single.batch is None
    copy = make_private_copy(single, tmp_path, None, COURSE)
    assert copy.form == "zip (folder one level down)" and copy.present == MODULES


def test_several_packages_one_folder_down_grade_the_one_implementing_most_with_a_note(tmp_path: Path) -> None:
    every_layout(tmp_path / "class", tmp_path / "scratch")
    copy = make_private_copy(Submission("jack", tmp_path / "class" / "jack"), tmp_path, None, COURSE)
    assert copy.form == "folder one level down"
    assert not still_a_stub(copy.module_file("scores").read_text(), ["attention_scores"])  # second-try/
    assert (f"Several places hold work; only second-try/ was graded, which implements the most steps "
            f"({len(COURSE.steps)}; among equals the top, then the first folder in name order), not first-try/ (0)."
            ) in copy.notes
    package(tmp_path / "twins" / "b")
    package(tmp_path / "twins" / "a")
    copy = make_private_copy(Submission("twins", tmp_path / "twins"), tmp_path, None, COURSE)
    assert "Graded the attention/ folder found in a/." in copy.notes


@pytest.mark.parametrize(("name", "form"), [
    ("alice", "folder one level down"), ("bob", "module files"), ("carol", "nothing"),
    ("dave", "attention folder"), ("erin", "notebooks"), ("frank", "notebooks"), ("gina", "attention folder"),
    ("hank", "zip (folder one level down)"), ("ivy", "zip (module files)"),
])
def test_every_layout_becomes_the_whole_package(tmp_path: Path, name: str, form: str) -> None:
    every_layout(tmp_path / "class", tmp_path / "scratch")
    [submission] = [s for s in resolve_submissions([str(tmp_path / "class")], COURSE) if s.name == name]
    copy = make_private_copy(submission, tmp_path, None, COURSE)
    assert copy.form == form
    if name == "carol":
        assert not copy.has_package
        assert copy.notes == ["Found at the top of your submission: nothing. Submit the attention folder (with "
                              "attention/<module>.py files), a zip of it, or the step notebooks."]
        return
    assert copy.present >= MODULES
    for step in COURSE.steps:  # every module is the implemented one (gina: from the notebooks)
        assert not still_a_stub(copy.module_file(step.module).read_text(), step.api), (name, step.id)
    assert not [p for p in copy.root.rglob("*") if p.name.startswith((".", "__MACOSX"))]


def test_bad_paths_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="nope: no such file or folder"):
        resolve_submissions([str(tmp_path / "nope")], COURSE)
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    with pytest.raises(SubmissionError, match="a symbolic link to nothing"):
        resolve_submissions([str(tmp_path / "dangling")], COURSE)
    package(tmp_path / "class" / "alice")
    package(tmp_path / "class" / "bob")
    zipped(tmp_path / "class" / "alice.zip", package(tmp_path / "alice"))
    with pytest.raises(SubmissionError, match="two submissions are named 'alice'"):
        resolve_submissions([str(tmp_path / "class")], COURSE)


# -- the package or the notebooks, per step ------------------------------------------------------


def test_the_stubs_and_unanswered_notebook_cells_read_as_stubs_and_solutions_do_not() -> None:
    from autograder.grading.extract import extract

    for step in COURSE.steps:
        assert still_a_stub((EXERCISES / "attention" / f"{step.module}.py").read_text(), step.api), step.id
        assert not still_a_stub((SOLUTIONS / "attention" / f"{step.module}.py").read_text(), step.api), step.id
    learner = extract(EXERCISES / "notebooks", COURSE).modules
    assert set(learner) == MODULES
    assert all(still_a_stub(learner[s.module], s.api) for s in COURSE.steps)


@pytest.mark.parametrize("source", [
    "def f(x):\n    return x\n",  # implemented
    "class A:\n    def __init__(self):\n        super().__init__()\n    def forward(self, x):\n"
    "        raise NotImplementedError\n",  # half done: graded as the package
    "from attention.helpers import f\n",  # implemented elsewhere
    "f = lambda x: x\n",
    "def f(:\n",  # a syntax error is the learner's to see
])
def test_code_that_does_something_is_not_a_stub(source: str) -> None:
    assert not still_a_stub(source, ["f", "A"])


def test_stub_functions_and_missing_names_are_stubs() -> None:
    assert still_a_stub('def f(x):\n    """Doc."""\n    raise NotImplementedError("f")\n', ["f"])
    assert still_a_stub("class A:\n    def g(self):\n        raise NotImplementedError()\n", ["A"])
    assert still_a_stub("import torch\n", ["f"])


def _mix(folder: Path, from_package: set[str]) -> Path:
    """Stubs in attention/, except ``from_package`` (solutions); the solution notebooks in notebooks/."""
    package(folder, EXERCISES)
    for step in COURSE.steps:
        if step.id in from_package:
            shutil.copy(SOLUTIONS / "attention" / f"{step.module}.py", folder / "attention" / f"{step.module}.py")
    notebooks(folder / "notebooks")
    return folder


def test_stubs_plus_finished_notebooks_grade_every_step_from_the_notebooks_and_say_so(tmp_path: Path) -> None:
    copy = make_private_copy(Submission("gina", _mix(tmp_path / "gina", set())), tmp_path, None, COURSE)
    for step in COURSE.steps:
        assert copy.sources[step.id] == f"notebooks/{step.notebook}.ipynb", step.id
        assert not still_a_stub(copy.module_file(step.module).read_text(), step.api)
    assert "Graded from attention/: no step; from the notebooks' answer cells: tokens (notebooks/01_tokens.ipynb)," \
        in " ".join(copy.notes)


def test_each_step_comes_from_whichever_implements_it_and_the_package_wins_a_tie(tmp_path: Path) -> None:
    copy = make_private_copy(Submission("hal", _mix(tmp_path / "hal", {"tokens", "scores"})), tmp_path, None, COURSE)
    assert copy.sources["tokens"] == "attention/tokens.py" and copy.sources["scores"] == "attention/scores.py"
    assert copy.sources["weights"] == "notebooks/05_weights.ipynb"
    assert "Both attention/ and the notebooks implement tokens, scores: the attention/ package was graded for " \
           "those (the package wins when both implement a step)." in copy.notes
    assert any(n.startswith("Graded from attention/: tokens, scores; from the notebooks' answer cells: embedding")
               for n in copy.notes)


def test_a_step_neither_implements_is_graded_from_the_package(tmp_path: Path) -> None:
    folder = package(tmp_path / "ian", EXERCISES)
    shutil.copytree(EXERCISES / "notebooks", folder / "notebooks", ignore=IGNORE)
    copy = make_private_copy(Submission("ian", folder), tmp_path, None, COURSE)
    assert set(copy.sources.values()) == {f"attention/{s.module}.py" for s in COURSE.steps}
    assert "Graded from attention/; the notebooks beside it implement no step it does not." in copy.notes


# -- one safe copier, one set of caps ------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes], links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            handle.writestr(info, "/etc/passwd")
        for name, data in members.items():
            handle.writestr(name, data)
    return path


def test_zips_refuse_escapes_links_bombs_and_too_many_files(tmp_path: Path) -> None:
    tokens = (SOLUTIONS / "attention" / "tokens.py").read_bytes()
    archive = _zip(tmp_path / "mal.zip", {
        "mal/attention/tokens.py": tokens,
        "/etc/cron.d/evil.py": b"x",
        "mal/attention/../../../escape.py": b"x",
        "C:/windows/evil.py": b"x",
        "mal/attention/bomb.py": b"0" * (MAX_FILE_BYTES + 10),
        **{f"mal/attention/extra_{n}.py": b"" for n in range(MAX_FILES + 5)},
    }, links=("mal/attention/scores.py",))
    assert archive.stat().st_size < 2 * 1024 * 1024  # the bomb compresses
    copy = make_private_copy(Submission("mal", archive), tmp_path, None, COURSE)
    assert copy.module_file("tokens").read_bytes() == tokens
    assert not copy.module_file("scores").exists() and not copy.module_file("bomb").exists()
    assert not list(tmp_path.rglob("escape.py")) and not list(tmp_path.rglob("evil.py"))
    for unsafe in ("/etc/cron.d/evil.py", "mal/attention/../../../escape.py", "C:/windows/evil.py",
                   "mal/attention/scores.py"):
        assert f"{unsafe}: an unsafe path or a link in the zip, ignored." in copy.notes
    assert f"mal/attention/bomb.py is larger than {MAX_FILE_BYTES >> 20} MB: it was ignored." in copy.notes
    assert any(n.startswith(f"Your submission holds more than {MAX_FILES} files") for n in copy.notes)
    assert len(list(copy.package_dir.glob("*.py"))) <= MAX_FILES


def test_a_corrupt_or_huge_zip_is_a_note_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not a zip")
    copy = make_private_copy(Submission("bad", tmp_path / "bad.zip"), tmp_path, None, COURSE)
    assert copy.form == "zip (nothing)" and any("bad.zip could not be read as a zip file" in n for n in copy.notes)
    monkeypatch.setattr(intake, "MAX_ARCHIVE_BYTES", 10)
    _zip(tmp_path / "big.zip", {"attention/tokens.py": b"x = 1\n"})
    copy = make_private_copy(Submission("big", tmp_path / "big.zip"), tmp_path, None, COURSE)
    assert "big.zip is larger than 0 MB: it was not unzipped." in copy.notes


def test_a_linked_student_folder_in_a_batch_is_not_followed(tmp_path: Path) -> None:
    package(tmp_path / "class" / "alice")
    package(tmp_path / "class" / "bob")
    package(tmp_path / "elsewhere")
    (tmp_path / "class" / "mallory").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    found = {s.name: s for s in resolve_submissions([str(tmp_path / "class")], COURSE)}
    assert sorted(found) == ["alice", "bob", "mallory"]
    copy = make_private_copy(found["mallory"], tmp_path, None, COURSE)
    assert not copy.has_package and copy.notes == ["mallory is a symbolic link: it was not followed."]


def test_loose_modules_never_follow_links(tmp_path: Path) -> None:
    folder = loose_modules(tmp_path / "pat")
    os.unlink(folder / "scores.py")
    (folder / "scores.py").symlink_to(SOLUTIONS / "attention" / "scores.py")
    copy = make_private_copy(Submission("pat", folder), tmp_path, None, COURSE)
    assert copy.form == "module files" and "scores" not in copy.present
    assert "scores.py is not a regular file (a symbolic link?): it was ignored." in copy.notes
    assert any(n.startswith("Missing from your submission: attention/scores.py.") for n in copy.notes)
