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

Measured and left out (docs/memory.md): capping the arenas (`M_ARENA_MAX`) and
`malloc_trim(0)` once idle changed the soak's figures by less than its noise.
Elsewhere than glibc (musl, macOS) there is no `mallopt` and this does nothing.
"""

import ctypes

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
