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


def _gateway_error(error: str) -> Callable[[Case, Outcome], bool]:
    return lambda case, outcome: case.transport == "http" and error in outcome.text()


def _update_setting_nothing(case: Case, outcome: Outcome) -> bool:
    """An update with no field to change runs `UPDATE ... SET WHERE`: a syntax error
    on every backend (UNAVAILABLE / 503 on SQLite, INTERNAL / 500 elsewhere)."""
    updating = case.method == "PATCH" or case.route.rsplit("/", 1)[-1].startswith("Update")
    return updating and "syntax" in outcome.text().lower()


KNOWN_OPEN: list[KnownOpen] = [
    KnownOpen("deep JSON in a gateway body", "item 15, gateway read_json",
              _gateway_error("RecursionError")),
    KnownOpen("lone surrogate in a gateway body", "item 15, gateway read_json",
              _gateway_error("surrogates not allowed")),
    KnownOpen("WatchRevocations with undecodable bytes", "item 9",
              lambda case, outcome: case.method.endswith("/WatchRevocations")
              and outcome.status == "INTERNAL" and "deserializ" in outcome.text()),
    KnownOpen("an update that sets no field", "item 17", _update_setting_nothing),
    KnownOpen("a crafted page token", "item 16, store/paging.py",
              lambda case, outcome: "paging.py" in outcome.text()),
    KnownOpen("a password echoed in a 400 message", "item 22",
              lambda case, outcome: bool(outcome.echoed) and outcome.status in (
                  "HTTP 400", "INVALID_ARGUMENT") and not outcome.tracebacks),
]
