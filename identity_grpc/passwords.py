"""Password hashing: argon2id with OWASP's parameters, through argon2-cffi.

Verification is the one deliberately slow step of authentication (~15 ms). It runs
on a few threads of its own (argon2 releases the GIL), at a lower scheduling priority
than the server's other threads, so that token validation keeps the CPU while
passwords are hashed. To keep an unknown user from being told apart from a wrong
password by timing, the caller verifies against a dummy hash when there is no user.

A login's verify is shed (`ResourceExhausted`) at once when `queue_limit` checks are
already waiting or running: without that bound, a flood of wrong passwords parks
every server thread on the hashing queue and token validation waits behind it. The
dummy verify goes through the same bound, so shedding tells no user apart.
"""

import os
import re
import threading
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from . import metrics, placement
from .errors import InvalidArgument, ResourceExhausted

MAX_PASSWORD_BYTES = 4096
QUEUE_PER_THREAD = 4  # the default queue limit, per hashing thread
SHED_RETRY_AFTER = 1.0  # seconds: the queue drains in well under that
SHED_MESSAGE = "too many password checks in progress: try again shortly"


@dataclass(frozen=True)
class HashParameters:
    """OWASP's first argon2id choice: 19 MiB, two passes, one lane."""

    time_cost: int = 2
    memory_cost_kib: int = 19 * 1024
    parallelism: int = 1


DAY = 86_400


@dataclass(frozen=True)
class PasswordRules:
    """Security compliance. Zero or empty turns a rule off."""

    lockout_failure_attempts: int = 10
    lockout_duration: int = 300
    expires_days: int = 0
    unique_last_count: int = 0
    minimum_age_days: int = 0
    regex: str = ""
    regex_description: str = ""

    @cached_property
    def compiled_regex(self) -> re.Pattern | None:
        try:
            return re.compile(self.regex) if self.regex else None
        except re.error as e:
            raise ValueError(f"setting 'password_regex': {e}") from None

    def check_pattern(self, password: str) -> None:
        if self.compiled_regex and not self.compiled_regex.fullmatch(password):
            raise InvalidArgument("password", self.regex_description
                                  or f"must match the pattern {self.regex}")

    def expiry_for(self, now: int) -> int | None:
        return now + self.expires_days * DAY if self.expires_days else None

    def locked(self, failures: int, since: int | None, now: int) -> bool:
        """Locked out: a whole run of failures counted, its lock not yet over."""
        return bool(self.lockout_failure_attempts and failures >= self.lockout_failure_attempts
                    and since is not None and now < since + self.lockout_duration)

    def after_failure(self, failures: int, since: int | None, now: int) -> tuple[int, int]:
        """The (count, since) a failed check leaves. A run of failures counts within
        `lockout_duration` of its first one, `since`; a failure after that (a lock
        that has run out included) starts a new run, so old failures never add up.
        The failure that completes a run starts the lock: `since` becomes now."""
        if not failures or since is None or now >= since + self.lockout_duration:
            failures, since = 0, now
        failures += 1
        return failures, now if failures >= self.lockout_failure_attempts else since


class Passwords:
    """Owns argon2id hashing on a bounded pool of threads; promises that a flood is
    shed (RESOURCE_EXHAUSTED) before its queue passes the limit."""

    def __init__(self, params: HashParameters = HashParameters(), concurrency: int = 0,
                 queue_limit: int = 0, nice: int = 0, host_slots=None):
        """`concurrency` hashing threads (0: one per CPU), `queue_limit` login checks
        waiting or running at once (0: QUEUE_PER_THREAD per thread), hashing threads
        `nice` steps below the rest of the process (Linux; ignored elsewhere).
        `host_slots`: a semaphore the server processes of one host share (workers.py),
        held by each hash, so that they hash no more at once than one process would:
        each worker keeps its threads (a client on one connection still gets every
        core), and the host never holds more 19 MiB blocks, nor runs more hashes on
        its cores, than one process would. (It did not change the login rate measured
        with two workers, 0.76 of the raw argon2 rate before and after; one process
        measured the same in that run: docs/performance.md.)"""
        self._hasher = PasswordHasher(
            time_cost=params.time_cost, memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism, type=Type.ID)
        self._dummy_hash = self._hasher.hash("dummy password for unknown users")
        # argon2 releases the GIL and holds `memory_cost` of RAM per hash: more hashes
        # at once than cores add no throughput, only memory and every caller's latency.
        # A few dedicated threads do all the hashing, not merely a bounded number at a
        # time: glibc keeps a freed 19 MiB block in the arena of the thread that freed
        # it, so 32 server threads taking turns would still come to hold 600 MiB.
        threads = concurrency or os.cpu_count() or 2
        self._pool = futures.ThreadPoolExecutor(threads, thread_name_prefix="argon2",
                                                initializer=_start_hashing_thread, initargs=(nice,))
        self.queue_limit = queue_limit or QUEUE_PER_THREAD * threads
        self._slots = threading.BoundedSemaphore(self.queue_limit)
        self._held = threading.local()  # whether this thread holds a slot
        self._host_slots = host_slots

    def hash(self, password: str) -> str:
        """Never shed: admin writes (create a user, set a password) are not floods."""
        check_acceptable(password)
        with metrics.PASSWORD_HASH_DURATION.time():
            return self._pool.submit(self._on_host_slot, self._hasher.hash, password).result()

    @contextmanager
    def login_slot(self):
        """Hold one of the `queue_limit` places of login checks for the block, or
        raise ResourceExhausted at once; a verify in the block uses the place held.
        Taken before a login's lookups, so that shedding costs next to nothing."""
        if getattr(self._held, "slot", False):
            yield
            return
        if not self._slots.acquire(blocking=False):
            metrics.PASSWORD_CHECKS_SHED.inc()
            raise ResourceExhausted(SHED_MESSAGE, retry_after=SHED_RETRY_AFTER)
        self._held.slot = True
        metrics.PASSWORD_CHECKS_IN_PROGRESS.inc()
        try:
            yield
        finally:
            metrics.PASSWORD_CHECKS_IN_PROGRESS.dec()
            self._held.slot = False
            self._slots.release()

    def verify(self, stored_hash: str | None, password: str, shed: bool = True) -> bool:
        """True if `password` matches; with no stored hash, spends the same time and
        returns False. With `shed`, in a login slot (see `login_slot`)."""
        if not shed:
            return self._verify(stored_hash, password)
        with self.login_slot():
            return self._verify(stored_hash, password)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            with metrics.PASSWORD_HASH_DURATION.time():
                matched = self._pool.submit(self._on_host_slot, self._hasher.verify,
                                            stored_hash or self._dummy_hash, password).result()
            return matched and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _on_host_slot(self, work, *args):
        """`work(*args)` on a hashing thread, holding one of the host's slots if shared."""
        if self._host_slots is None:
            return work(*args)
        with self._host_slots:
            return work(*args)

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True


def check_acceptable(password: str) -> None:
    if not password:
        raise InvalidArgument("password", "must not be empty")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise InvalidArgument("password", f"must be at most {MAX_PASSWORD_BYTES} bytes")


def _start_hashing_thread(nice: int) -> None:
    """A hashing thread runs on every core, even in a worker whose serving threads
    keep to one (argon2 needs no GIL: `placement`), and `nice` steps below them."""
    placement.unpin_thread()
    _lower_priority(nice)


def _lower_priority(nice: int) -> None:
    """Run this (hashing) thread `nice` steps below the process: on Linux a thread's
    priority is its own, so gRPC's threads keep theirs. Best effort elsewhere."""
    if not nice:
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):  # not Linux, or not permitted: full priority
        pass
