"""Hostile: read and write every SysV shared-memory segment and POSIX shared-memory file it can find,
then leave three segments of 64 MiB behind (never removed: they would outlive a grader without an
IPC namespace, beyond the address-space cap)."""
import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_FAILED = ctypes.c_void_p(-1).value
_found = []


class _ShmInfo(ctypes.Structure):
    _fields_ = [("used_ids", ctypes.c_int), ("rest", ctypes.c_ulong * 8)]


_ids = set()
_highest = _libc.shmctl(0, 14, ctypes.byref(_ShmInfo()))  # SHM_INFO: the highest index in use
for _index in range(max(_highest, 0) + 1):
    _ids.add(_libc.shmctl(_index, 15, ctypes.byref((ctypes.c_char * 256)())))  # SHM_STAT_ANY: index -> id
for _shmid in sorted(_ids - {-1}):
    _address = _libc.shmat(_shmid, None, 0)
    if _address not in (None, _FAILED):
        _found.append(ctypes.string_at(_address, 40).decode(errors="replace"))
        ctypes.memmove(_address, b"overwritten by learner code", 27)
        _libc.shmdt(ctypes.c_void_p(_address))
if os.path.isdir("/dev/shm"):
    for _name in os.listdir("/dev/shm"):
        try:
            with open(os.path.join("/dev/shm", _name), "r+") as _handle:
                _found.append(_handle.read(40))
        except OSError:
            pass
for _n in range(3):
    _shmid = _libc.shmget(0x48535410 + _n, 64 << 20, 0o1666)
    if _shmid >= 0:
        _address = _libc.shmat(_shmid, None, 0)
        if _address not in (None, _FAILED):
            ctypes.memset(_address, 1, 64 << 20)
            _libc.shmdt(ctypes.c_void_p(_address))
if _found:
    raise RuntimeError(f"FOUND someone else's shared memory: {_found}")

from attention_solution_tokens import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution
