"""How many server processes run, and on which cores their serving threads run.

CPython runs one thread of Python at a time per process, so one process uses about
one core for its handlers, however many threads it has. `processes = auto` starts
one worker per core this process may run on, where the store allows several
processes (not SQLite in memory, which one process alone can see). It is not the
default: workers are replicas of each other, and what one of them writes (a revoked
token, a deleted trust, a changed role) reaches the others' caches only within one
`poll_interval`, while Keystone's clients, Tempest among them, expect to read their
own writes on the next request, whichever connection carries it (with `auto`, five
of Tempest's identity tests fail that way).

A process whose threads move between cores pays for it at every GIL hand-off: on
this project's 2-core machine one unpinned server process validated ~1,400 tokens a
second, the same process kept on one core ~3,100 (docs/performance.md). So with
`cpu_affinity = auto` each worker of several keeps its threads on a core of its own
(worker i on the i-th allowed core, wrapping round when there are more workers than
cores); a single process is left where the scheduler puts it unless
`cpu_affinity = on` (then it serves on the first core, for a host whose other cores
are busy with other work).
Password hashing threads are always let run on every allowed core (`unpin_thread`):
argon2 releases the GIL, and a login must not wait for the serving core.

Linux sets affinity per thread, and a thread inherits its creator's: a worker pins
its main thread before it starts any other, and the rest follow.
"""

import logging
import os

from .store.db import sqlite_file

log = logging.getLogger(__name__)
AFFINITY_MODES = ("auto", "on", "off")


def allowed_cpus() -> list[int]:
    """The cores this process may run on, in order (all of them where the platform
    cannot say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def process_count(settings) -> int:
    """The worker processes to start: `processes`, or with 0 ("auto") one per
    allowed core, where the store can be shared by processes."""
    if settings.processes:
        return settings.processes
    in_memory = (settings.database_url.startswith("sqlite")
                 and sqlite_file(settings.database_url) is None)
    return 1 if in_memory else len(allowed_cpus())


def worker_cpu(settings, index: int, workers: int) -> int | None:
    """The core worker `index` of `workers` (a single process: 0 of 1) keeps its
    serving threads on, or None: with "auto" only each of several workers, with
    "on" a single process too."""
    if not hasattr(os, "sched_setaffinity") or settings.cpu_affinity == "off":
        return None
    if workers < 2 and settings.cpu_affinity != "on":
        return None
    cpus = allowed_cpus()
    return cpus[index % len(cpus)] if len(cpus) > 1 else None


def pin_thread(cpu: int) -> None:
    """Keep the calling thread, and every thread it starts from now on, on `cpu`."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as e:  # a core taken away meanwhile (cgroup change): run unpinned
        log.warning("could not keep this worker on core %s: %s", cpu, e)


def unpin_thread(cpus: list[int] | None = None) -> None:
    """Let the calling thread run on every core this process was allowed at start."""
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, set(cpus if cpus is not None else _PROCESS_CPUS))
        except OSError:
            pass


# Read once, before any worker pins its threads: what "every core" means for the
# hashing threads that unpin themselves.
_PROCESS_CPUS = allowed_cpus()
