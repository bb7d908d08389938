"""The grading engine of "From self-attention to causal self-attention".

Importing this package is cheap and never imports hidden checks: the sandbox's warm worker
imports `autograder.sandbox.child`, which must not have hidden tests in its memory.
"""

from pathlib import Path

__version__ = "1.0.0"

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
