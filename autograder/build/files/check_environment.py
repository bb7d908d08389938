"""Does this Python match requirements.txt? Exit 0 if it does, 1 (naming what differs) if not.

Run by the Gradescope ``setup.sh`` before it installs anything: ``python check_environment.py
requirements.txt``. Standard library only (it runs before anything is installed). Understands
the lines requirements.txt uses: ``name==version`` with an optional ``; python_version <op> "X.Y"``.
"""

from __future__ import annotations

import operator
import re
import sys
from importlib import metadata

LINE = re.compile(
    r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*"  # name==version
    r"(?:;\s*python_version\s*(<=|>=|==|<|>)\s*[\"']([\d.]+)[\"'])?"  # ; python_version >= "3.11"
)
OPERATORS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, ">=": operator.ge, ">": operator.gt}
MINIMUM_PYTHON = (3, 10)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text))


def problems(requirements: str) -> list[str]:
    found = []
    if sys.version_info[:2] < MINIMUM_PYTHON:
        found.append(f"Python {sys.version.split()[0]} is older than {'.'.join(map(str, MINIMUM_PYTHON))}")
    for line in requirements.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        name, wanted, op, python = match.groups()
        if op and not OPERATORS[op](sys.version_info[:2], version_tuple(python)[:2]):
            continue  # the line is for another Python
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            found.append(f"{name}=={wanted}: not installed")
            continue
        if installed.split("+")[0] != wanted:  # 2.13.0+cpu is torch 2.13.0
            found.append(f"{name}=={wanted}: {installed} is installed")
    return found


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "requirements.txt"
    with open(path, encoding="utf-8") as handle:
        missing = problems(handle.read())
    for problem in missing:
        print(f"check_environment: {problem}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
