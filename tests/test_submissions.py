"""Which paths are submissions, and the private copies graded from them."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from autograder.grading.intake import SubmissionError, make_private_copy, resolve_submissions


def _submission(folder: Path, modules: dict[str, str] | None = None) -> Path:
    (folder / "attention").mkdir(parents=True)
    for name, text in (modules or {"tokens": "X = 1\n"}).items():
        (folder / "attention" / f"{name}.py").write_text(text)
    return folder


def test_a_folder_of_submissions_expands_in_order(tmp_path: Path) -> None:
    _submission(tmp_path / "batch" / "bob")
    _submission(tmp_path / "batch" / "alice")
    (tmp_path / "batch" / "notes.txt").write_text("not a submission")
    found = resolve_submissions([str(tmp_path / "batch")])
    assert [s.name for s in found] == ["alice", "bob"]


def test_missing_paths_and_duplicate_names_fail_before_grading(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="nope: no such file or folder"):
        resolve_submissions([str(tmp_path / "nope")])
    _submission(tmp_path / "a" / "alice")
    _submission(tmp_path / "b" / "alice")
    with pytest.raises(SubmissionError, match="two submissions are named 'alice'"):
        resolve_submissions([str(tmp_path / "a" / "alice"), str(tmp_path / "b" / "alice")])
    (tmp_path / "report.pdf").write_text("%PDF")
    with pytest.raises(SubmissionError, match="not a file"):
        resolve_submissions([str(tmp_path / "report.pdf")])


def test_a_folder_without_attention_is_still_a_submission(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    [submission] = resolve_submissions([str(tmp_path / "empty")])
    copy = make_private_copy(submission, tmp_path, owner=None)
    assert not copy.has_package


def test_copies_skip_symlinks_non_python_files_and_caches(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_text("ANSWER = 42\n")
    folder = _submission(tmp_path / "mallory", {"tokens": "X = 1\n"})
    (folder / "attention" / "scores.py").symlink_to(secret)
    (folder / "attention" / "linked").symlink_to(tmp_path, target_is_directory=True)
    (folder / "attention" / "__pycache__").mkdir()
    (folder / "attention" / "__pycache__" / "tokens.cpython-311.pyc").write_bytes(b"\0")
    (folder / "attention" / "notes.md").write_text("hi")
    (folder / "conftest.py").write_text("import pytest\n")
    [submission] = resolve_submissions([str(folder)])
    copy = make_private_copy(submission, tmp_path, owner=None)
    assert sorted(p.name for p in copy.package_dir.rglob("*")) == ["tokens.py"]
    assert any("scores.py is not a regular file" in note for note in copy.notes)
    assert any("linked is a symbolic link" in note for note in copy.notes)
    assert not (copy.root / "conftest.py").exists()


def test_zip_submissions_extract_only_safe_python_members(tmp_path: Path) -> None:
    archive = tmp_path / "carol.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("carol/attention/tokens.py", "X = 1\n")
        zipped.writestr("carol/attention/../../escape.py", "BAD = 1\n")
        zipped.writestr("carol/attention/readme.txt", "text")
    [submission] = resolve_submissions([str(archive)])
    assert submission.name == "carol"
    copy = make_private_copy(submission, tmp_path, owner=None)
    assert (copy.package_dir / "tokens.py").read_text() == "X = 1\n"
    assert not (tmp_path / "escape.py").exists()
    assert any("unsafe path" in note for note in copy.notes)


def test_a_corrupt_zip_is_graded_as_empty_with_a_note(tmp_path: Path) -> None:
    archive = tmp_path / "dave.zip"
    archive.write_bytes(b"PK not really")
    [submission] = resolve_submissions([str(archive)])
    copy = make_private_copy(submission, tmp_path, owner=None)
    assert not copy.has_package and any("could not be read" in n for n in copy.notes)


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership change needs root")
def test_copies_belong_to_the_sandbox_uid_when_root(tmp_path: Path) -> None:
    [submission] = resolve_submissions([str(_submission(tmp_path / "erin"))])
    copy = make_private_copy(submission, tmp_path, owner=61234)
    info = (copy.package_dir / "tokens.py").stat()
    assert (info.st_uid, info.st_mode & 0o777) == (61234, 0o600)
    assert copy.root.stat().st_mode & 0o777 == 0o700
