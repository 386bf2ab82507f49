"""glibc's allocator, told to give argon2's memory back (docs/memory.md).

Most of what a long session left behind in a server's resident memory was not
Python objects (tracemalloc saw ~3 MB of growth while RSS grew by ~60 MB) but blocks
glibc's malloc had been freed and kept. glibc's mmap threshold is dynamic: once a
large block served by mmap is freed, every block up to that size (to 32 MiB) comes
from the heap instead. Each password check allocates argon2's memory (19 MiB by
default); after the first, those blocks land in the hashing threads' arenas and stay
resident. A fixed threshold (`mallopt(M_MMAP_THRESHOLD)`, which also freezes the trim
threshold at glibc's default) keeps them mmapped, so each goes back to the kernel the
moment it is freed.

Returned memory has a price: a block mapped afresh is faulted in page by page, and a
password check took ~30 ms instead of ~21 ms. With transparent huge pages (glibc's
tunable `glibc.malloc.hugetlb=1`, glibc 2.35 and later, where the kernel offers them)
the same block is faulted in 2 MiB at a time and a check costs ~23 ms. A tunable is
read only when a process starts, so `server.py` starts itself again with it
(`reexec_with_huge_pages`) before anything else.

Measured and left out (docs/memory.md): capping the arenas (`M_ARENA_MAX`) and
`malloc_trim(0)` once idle changed the soak's figures by less than its noise.
Elsewhere than glibc (musl, macOS) there is no `mallopt` and this does nothing.
"""

import ctypes
import os
import platform
import sys
from pathlib import Path

M_MMAP_THRESHOLD = -3


def _mallopt():
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return mallopt


def configure(mmap_threshold_kib: int) -> bool:
    """Fix glibc's mmap threshold at `mmap_threshold_kib` (0: leave its dynamic one).
    Whether it was set (False where there is no glibc)."""
    mallopt = _mallopt()
    if mallopt is None or not mmap_threshold_kib:
        return False
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold_kib * 1024) == 1


HUGE_PAGES = "glibc.malloc.hugetlb=1"
THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def huge_pages_environment(environ) -> dict | None:
    """`environ` with glibc's huge-page tunable added, or None when it would change
    nothing: not glibc 2.35 or later, the kernel offers no transparent huge pages, or
    the tunable (or any operator's GLIBC_TUNABLES) is already there."""
    libc, version = platform.libc_ver()
    if libc != "glibc" or tuple(int(p) for p in version.split(".")[:2]) < (2, 35):
        return None
    if "GLIBC_TUNABLES" in environ:  # the operator's, or ours after the restart
        return None
    try:
        if "[never]" in THP_SETTING.read_text():
            return None
    except OSError:
        return None
    return dict(environ, GLIBC_TUNABLES=HUGE_PAGES)


def reexec_with_huge_pages(argv: list[str]) -> None:
    """Start this program again (same pid, same arguments) with the huge-page tunable,
    if it would change anything; otherwise return."""
    env = huge_pages_environment(os.environ)
    if env is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *argv], env)
