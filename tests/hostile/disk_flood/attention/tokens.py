"""Hostile: fill the disk. Each file is capped by the output limit, so write many, everywhere writable."""
import os
import tempfile

_chunk = b"x" * (256 * 1024)
_written = 0
for _place, _folder in enumerate((".", os.path.expanduser("~"), tempfile.gettempdir(), "/dev/shm", "/tmp", "/var/tmp")):
    try:
        for _n in range(2000):
            if _written >= 400 << 20:
                break
            with open(os.path.join(_folder, f"flood-{os.getpid()}-{_place}-{_n}"), "wb") as _handle:
                _handle.write(_chunk)
            _written += len(_chunk)
    except OSError:
        continue
if _written > 100 << 20:
    raise RuntimeError(f"wrote {_written >> 20} MiB")

from attention_solution_tokens import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
