"""Sandbox uids: each grader process owns a block, so graders running at once never share a uid.

One uid per job slot ("lane"), held for a whole submission: a submission's ``kill(-1)`` reaches
only its own processes, even with several graders on the machine (``flock`` on
``/run/autograder/uids-N.lock``).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass

UID_FIRST = 40000
UID_BLOCK = 32  # job slots per grader process
UID_BLOCKS = 500


@dataclass
class UidBlock:
    """``UID_BLOCK`` consecutive uids reserved for this process (an exclusive ``flock``)."""

    first: int
    lock_fd: int

    def uid(self, slot: int) -> int:
        if not 0 <= slot < UID_BLOCK:
            raise ValueError(f"at most {UID_BLOCK} job slots")
        return self.first + slot


def reserve_uid_block() -> UidBlock:
    """Reserve a free block of sandbox uids until this process exits (root only)."""
    lock_dir = "/run/autograder" if os.path.isdir("/run") else os.path.join(tempfile.gettempdir(), "autograder")
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    for block in range(UID_BLOCKS):
        fd = os.open(os.path.join(lock_dir, f"uids-{block}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidBlock(UID_FIRST + block * UID_BLOCK, fd)
    raise RuntimeError("every block of sandbox uids is in use: too many graders running at once")
