"""`ruff check` is part of the test suite, so CI fails on lint as it does on a test."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed with the dev extra")
def test_ruff_check_is_clean() -> None:
    done = subprocess.run(["ruff", "check", "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
