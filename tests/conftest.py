"""Shared fixtures for the project's tests."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

# Hostile submissions are learner code for the grader to run, not tests for pytest to collect.
collect_ignore = ["hostile"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions"
EXERCISES = REPO_ROOT / "exercises"

if str(EXERCISES) not in sys.path:  # `selfcheck` (installed editable too, but be explicit)
    sys.path.insert(0, str(EXERCISES))


def _purge_attention() -> None:
    for name in [n for n in sys.modules if n == "attention" or n.startswith("attention.")]:
        del sys.modules[name]


def import_attention(root: Path, module: str) -> ModuleType:
    """Import ``attention.<module>`` from the package under ``root`` (a folder holding ``attention/``)."""
    _purge_attention()
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"attention.{module}")
    finally:
        sys.path.remove(str(root))


@pytest.fixture
def solutions_module() -> Iterator:
    """``solutions_module("scores")`` imports ``attention.scores`` from ``solutions/``."""
    yield lambda module: import_attention(SOLUTIONS, module)
    _purge_attention()
