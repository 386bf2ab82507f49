"""Secrets handed over in the environment, taken out of it once read.

`IDENTITY_ADMIN_PASSWORD` is how an operator gives `identity-manage` the bootstrap
admin's password (and `make run` hands the same environment to the server). Left
there, it would be inherited by every child process and readable, for as long as the
process runs, in /proc/<pid>/environ. `os.environ.pop` (unsetenv) is enough for the
children, not for /proc: the kernel shows the block of memory the environment was in
when the process started, whatever the C library's `environ` points at now. So `take`
also overwrites the variable's bytes in that block, as setproctitle overwrites argv's.
Call it before any thread starts: nothing may be reading the environment meanwhile.
"""

import ctypes
import os
import sys

ADMIN_PASSWORD = "IDENTITY_ADMIN_PASSWORD"


def take(name: str) -> str | None:
    """The variable's value (None if unset), after which the process no longer has it:
    not in os.environ, not in the environment its children inherit, not in
    /proc/self/environ."""
    value = os.environ.get(name)
    entries = _initial_entries(name) if sys.platform.startswith("linux") else []
    os.environ.pop(name, None)
    for address, length in entries:
        ctypes.memset(address, 0, length)
    return value


def _initial_entries(name: str) -> list[tuple[int, int]]:
    """(address, length) of each `name=...` string of the C environment that lies in
    the block the process started with (only those are still shown by /proc)."""
    try:
        start, end = _environment_block()
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(ctypes.CDLL(None), "environ")
    except (OSError, ValueError, IndexError):  # no /proc, an old kernel, no symbol
        return []
    prefix, entries, i = name.encode() + b"=", [], 0
    while (address := environ[i]) is not None:
        text = ctypes.string_at(address)
        if text.startswith(prefix) and start <= address and address + len(text) <= end:
            entries.append((address, len(text)))
        i += 1
    return entries


def _environment_block() -> tuple[int, int]:
    """env_start and env_end from /proc/self/stat (fields 50 and 51, proc(5))."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()  # fields[0] is field 3
    return int(fields[47]), int(fields[48])
