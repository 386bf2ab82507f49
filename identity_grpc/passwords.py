"""Password hashing: argon2id with OWASP's parameters, through argon2-cffi.

Verification is the one deliberately slow step of authentication (~15 ms). It runs
on the gRPC worker threads (argon2 releases the GIL). To keep an unknown user from
being told apart from a wrong password by timing, the caller verifies against a
dummy hash when there is no user.
"""

import os
import re
from concurrent import futures
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import InvalidArgument

MAX_PASSWORD_BYTES = 4096


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

    def locked(self, failures: int, last_failure_at: int | None, now: int) -> bool:
        return bool(self.lockout_failure_attempts and failures >= self.lockout_failure_attempts
                    and last_failure_at is not None and now < last_failure_at + self.lockout_duration)


class Passwords:
    def __init__(self, params: HashParameters = HashParameters(), concurrency: int = 0):
        self._hasher = PasswordHasher(
            time_cost=params.time_cost, memory_cost=params.memory_cost_kib,
            parallelism=params.parallelism, type=Type.ID)
        self._dummy_hash = self._hasher.hash("dummy password for unknown users")
        # argon2 releases the GIL and holds `memory_cost` of RAM per hash: more hashes
        # at once than cores add no throughput, only memory and every caller's latency.
        # A few dedicated threads do all the hashing, not merely a bounded number at a
        # time: glibc keeps a freed 19 MiB block in the arena of the thread that freed
        # it, so 32 server threads taking turns would still come to hold 600 MiB.
        self._pool = futures.ThreadPoolExecutor(concurrency or os.cpu_count() or 2,
                                                thread_name_prefix="argon2")

    def hash(self, password: str) -> str:
        check_acceptable(password)
        return self._pool.submit(self._hasher.hash, password).result()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if `password` matches; with no stored hash, spends the same time and
        returns False."""
        try:
            return (self._pool.submit(self._hasher.verify, stored_hash or self._dummy_hash,
                                      password).result()
                    and bool(stored_hash))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

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
