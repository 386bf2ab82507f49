"""Bugs the fuzzer finds that other items of the hardening issue own.

Each entry matches the cases of one known bug; the test reports them as skipped,
with the count and an example, instead of failing. When the fix for an entry
merges, its count drops to zero: delete the entry, and the fuzzer guards the fix.
Match narrowly (the route and the error the bug raises), so that an entry never
hides a different bug.
"""

from dataclasses import dataclass
from typing import Callable

from .cases import Case, Outcome


@dataclass(frozen=True)
class KnownOpen:
    name: str
    owner: str       # the item of the issue that fixes it
    matches: Callable[[Case, Outcome], bool]


# Every bug the fuzzer found while the hardening issue was open has been fixed:
# items 9, 15, 16, 17 and 22. Add an entry only for a bug owned elsewhere, and
# delete it with the fix.
KNOWN_OPEN: list[KnownOpen] = []
