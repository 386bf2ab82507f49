"""Which tokens are revoked, held in memory and matched in O(1).

The store keeps revocation events (so every server sharing it learns of them); this
list is each server's index of the unexpired ones: by audit id, and by user, project
and domain with the latest `issued_before` for each. Keystone's linear scan over
events slowed to seconds once they piled up; here a check is a few dict lookups
whatever the number of events.
"""

import threading
import time
from dataclasses import dataclass

from .format import TokenPayload


@dataclass(frozen=True, slots=True)
class Revocation:
    """One event: `audit_id` matches one token; `user_id` / `project_id` /
    `domain_id` match every token of that user or on that scope issued at or before
    `issued_before`."""

    issued_before: int
    expires_at: int
    audit_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None

    @classmethod
    def issued_until_now(cls, max_token_lifetime: int, **target) -> "Revocation":
        """Every token of `target` issued so far; kept as long as such a token can live."""
        now = int(time.time())
        return cls(issued_before=now, expires_at=now + max_token_lifetime, **target)


class RevocationList:
    def __init__(self):
        self._lock = threading.Lock()
        self._audit: dict[str, int] = {}  # audit id -> expires_at
        # (kind, id) -> (latest issued_before, expires_at)
        self._cutoffs: dict[tuple[str, str], tuple[int, int]] = {}

    def add(self, event: Revocation) -> None:
        with self._lock:
            if event.audit_id:
                self._audit[event.audit_id] = max(event.expires_at, self._audit.get(event.audit_id, 0))
            for kind, ident in (("user", event.user_id), ("project", event.project_id),
                                ("domain", event.domain_id)):
                if ident:
                    old_before, old_expiry = self._cutoffs.get((kind, ident), (0, 0))
                    self._cutoffs[(kind, ident)] = (max(old_before, event.issued_before),
                                                    max(old_expiry, event.expires_at))

    def is_revoked(self, token: TokenPayload, domain_id: str | None = None) -> bool:
        """`domain_id` is the domain the token's scope belongs to, when known."""
        if token.audit_ids[0] in self._audit:
            return True
        cutoffs = self._cutoffs
        if not cutoffs:
            return False
        keys = [("user", token.user_id)]
        if token.scope_type == "project":
            keys.append(("project", token.scope_id))
        if token.scope_type == "domain":
            keys.append(("domain", token.scope_id))
        if domain_id:
            keys.append(("domain", domain_id))
        for key in keys:
            cutoff = cutoffs.get(key)
            if cutoff is not None and token.issued_at <= cutoff[0]:
                return True
        return False

    def prune(self, now: int) -> None:
        """Forget events that no still-valid token could match."""
        with self._lock:
            self._audit = {a: exp for a, exp in self._audit.items() if exp > now}
            self._cutoffs = {k: v for k, v in self._cutoffs.items() if v[1] > now}

    def __len__(self) -> int:
        return len(self._audit) + len(self._cutoffs)
