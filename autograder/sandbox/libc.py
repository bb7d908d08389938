"""The C library calls the sandbox makes (through ctypes): one handle, shared by every module."""

from __future__ import annotations

import ctypes
import ctypes.util

LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def prctl(option: int, value: int) -> bool:
    """``prctl(option, value)``; True when it succeeded."""
    return LIBC.prctl(option, value, 0, 0, 0) == 0


def unshare(flags: int) -> bool:
    """``unshare(flags)``; True when it succeeded."""
    return LIBC.unshare(flags) == 0
