"""glibc's allocator, told to give memory back (docs/memory.md).

Most of what a long session left behind in a server's resident memory was not
Python objects (tracemalloc saw ~3 MB of growth while RSS grew by ~60 MB) but memory
glibc's malloc had freed and kept. Two habits of glibc cause it:

* Its mmap threshold is dynamic: once a large block served by mmap is freed, every
  block up to that size comes from the heap instead. Each password check allocates
  argon2's memory (19 MiB by default); after the first, those blocks land in the
  hashing threads' arenas and stay resident. A fixed threshold (`mallopt
  M_MMAP_THRESHOLD`, which also freezes the trim threshold) keeps them mmapped, so
  each is returned to the kernel the moment it is freed.
* Freed small blocks in the middle of an arena are never returned by `free`;
  `malloc_trim(0)` returns their pages. It walks every arena, so it is called only
  once the process has gone quiet (`IdleTrimmer`), never on a call's path.

Elsewhere than glibc (musl, macOS) neither function exists and this does nothing.
"""

import ctypes
import logging
import time

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

log = logging.getLogger(__name__)


def _glibc():
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _glibc()


def configure(mmap_threshold_kib: int, arenas: int) -> bool:
    """Fix the mmap threshold (0: leave glibc's dynamic one) and cap the number of
    arenas (0: glibc's default, eight per CPU). Call before the server's threads
    start: an arena cap binds threads created afterwards. False where there is no
    glibc."""
    if _LIBC is None:
        return False
    if mmap_threshold_kib:
        _LIBC.mallopt(M_MMAP_THRESHOLD, mmap_threshold_kib * 1024)
    if arenas:
        _LIBC.mallopt(M_ARENA_MAX, arenas)
    return True


def trim() -> None:
    """Return every arena's free pages to the kernel."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class IdleTrimmer:
    """Trims once each time the process goes quiet: `tick()` is called every second or
    so, and trims when the process used under IDLE_CPU_SHARE of one CPU since the last
    tick after having been busy since the last trim. It reads the process's CPU time,
    so the calls being served pay nothing for it."""

    IDLE_CPU_SHARE = 0.05

    def __init__(self, clock=time.monotonic, cpu=time.process_time):
        self._clock, self._cpu = clock, cpu
        self._last = (clock(), cpu())
        self._busy = False

    def tick(self) -> bool:
        """Whether it trimmed."""
        now, cpu = self._clock(), self._cpu()
        (then, cpu_then), self._last = self._last, (now, cpu)
        share = (cpu - cpu_then) / max(now - then, 1e-6)
        if share >= self.IDLE_CPU_SHARE:
            self._busy = True
            return False
        if not self._busy:
            return False
        self._busy = False
        started = time.perf_counter()
        trim()
        log.debug("returned freed memory to the system in %.1f ms",
                  (time.perf_counter() - started) * 1000)
        return True
