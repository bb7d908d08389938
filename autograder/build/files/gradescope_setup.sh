#!/usr/bin/env bash
# Gradescope runs this once, as root, from /autograder/source, when it builds the autograder image.
#
# It installs the grader's pinned environment (requirements.txt beside this file) into a virtual
# environment, /autograder/venv, with torch from PyTorch's CPU-only index. When the environment
# already matches requirements.txt (check_environment.py says so), it installs nothing.
#
#   AUTOGRADER_ROOT    the /autograder folder (the project's tests point it at a temporary copy)
#   AUTOGRADER_PYTHON  the Python to check and to build the venv from (default: python3)
#   TORCH_INDEX_URL    where torch comes from (default: https://download.pytorch.org/whl/cpu)
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
PYTHON="${AUTOGRADER_PYTHON:-python3}"
TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"

matches() { "$1" "$SOURCE/check_environment.py" "$SOURCE/requirements.txt"; }

if [ -x "$VENV/bin/python" ] && matches "$VENV/bin/python"; then
    echo "setup.sh: $VENV already matches requirements.txt; nothing to install"
    exit 0
fi
if command -v "$PYTHON" >/dev/null 2>&1 && matches "$PYTHON"; then
    echo "setup.sh: $PYTHON already matches requirements.txt; nothing to install"
    exit 0
fi

# Gradescope's Ubuntu images: make sure python3 can build a virtual environment.
if ! command -v "$PYTHON" >/dev/null 2>&1 || ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv python3-pip
    PYTHON=python3
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch first, from the CPU-only index (PyPI's Linux wheel pulls several GB of CUDA libraries).
"$VENV/bin/python" -m pip install "$(grep -E '^torch==' "$SOURCE/requirements.txt")" --index-url "$TORCH_INDEX_URL"
"$VENV/bin/python" -m pip install -r "$SOURCE/requirements.txt"
matches "$VENV/bin/python"
echo "setup.sh: installed the grader environment in $VENV"
