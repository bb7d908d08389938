"""Hostile: read the grader's keys (Kerberos tickets, CIFS passwords live there) and plant one that lasts."""
import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_ADD_KEY, _KEYCTL = {"x86_64": (248, 250)}.get(os.uname().machine, (217, 219))
_KEYRINGS = (-1, -2, -3, -4, -5)  # thread, process, session, user, user-session
_found = []
for _keyring in _KEYRINGS:
    _serial = _libc.syscall(_KEYCTL, ctypes.c_long(10), ctypes.c_long(_keyring), b"user",
                            b"autograder-hostile-instructor-secret", ctypes.c_long(0))  # KEYCTL_SEARCH
    if _serial >= 0:
        _buffer = ctypes.create_string_buffer(4096)
        _size = _libc.syscall(_KEYCTL, ctypes.c_long(11), ctypes.c_long(_serial), _buffer, ctypes.c_long(4096))
        _found.append(_buffer.raw[:max(_size, 0)].decode(errors="replace") or f"key {_serial}")
    _libc.syscall(_ADD_KEY, b"user", b"autograder-hostile-planted", b"planted", ctypes.c_size_t(7),
                  ctypes.c_long(_keyring))
if _found:
    raise RuntimeError(f"FOUND the grader's key: {_found}")

from attention_solution_tokens import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
