"""Which tokens are revoked, held in memory and matched in O(1).

One index for every party: the identity service's store keeps revocation events (so
every server sharing it learns of them) and each server indexes the unexpired ones
here; consuming services index here what the service's WatchRevocations stream
sends them, so both refuse exactly the same tokens. The index holds them by audit
id, and by user, project and domain with the latest `issued_before` for each. Keystone's linear scan over
events slowed to seconds once they piled up; here a check is a few dict lookups
whatever the number of events.

An audit-id event also names whose token it revoked (`token_user_id`), so that a
user cutoff covering it can take its place: the list forgets a user's audit ids
once a cutoff for that user covers them (see `revocation_limits`, which folds a
user's many revocations into one cutoff). Coverage only compares an event's times
with the cutoff's, whatever their unit.

Units: `issued_before` is unix milliseconds, like a token's `issued_at` (a cutoff
revokes every token issued at or before it); `expires_at` is unix seconds, like a
token's. See the service's docs/revocation.md.
"""

import threading
import time
from dataclasses import dataclass
from typing import Callable

from .tokens import TokenPayload


@dataclass(frozen=True, slots=True)
class Revocation:
    """One event: `audit_id` matches one token; `user_id` / `project_id` /
    `domain_id` / `audit_chain_id` match every token of that user, on that scope, or
    of that rescope chain (Keystone's audit chain: a token's last audit id, its first
    token's) issued at or before `issued_before`. An audit-id event's `token_user_id`
    is whose token it was."""

    issued_before: int  # unix milliseconds
    expires_at: int  # unix seconds
    audit_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    token_user_id: str | None = None
    audit_chain_id: str | None = None

    @classmethod
    def issued_until_now(cls, max_token_lifetime: int, clock: Callable[[], float] = time.time,
                         **target) -> "Revocation":
        """Every token of `target` issued so far; kept as long as such a token can live.

        The cutoff is this millisecond, and this call returns only once `clock` has
        moved past it: a token this server issues after the call (its issue time
        read from the same clock) is never covered, one issued before it always is."""
        cutoff = now_ms(clock)
        for _ in range(50):  # a clock that stands still (a test's) is not waited for long
            if now_ms(clock) > cutoff:
                break
            time.sleep(0.0002)
        return cls(issued_before=cutoff, expires_at=cutoff // 1000 + 1 + max_token_lifetime,
                   **target)


def now_ms(clock: Callable[[], float] = time.time) -> int:
    """The clock's time in whole unix milliseconds: what tokens and cutoffs carry."""
    return int(clock() * 1000)


def cutoff_keys(token: TokenPayload, domain_id: str | None = None
                ) -> tuple[tuple[str, str], ...]:
    """The (kind, id) cutoffs that can revoke a token: its user's, its rescope
    chain's, its scope's, and `domain_id`'s, the domain its scope belongs to when known
    (a project's domain)."""
    keys = [("user", token.user_id), ("audit_chain", token.audit_ids[-1])]
    if token.scope_type in ("project", "domain"):
        keys.append((token.scope_type, token.scope_id))
    if domain_id:
        keys.append(("domain", domain_id))
    return tuple(keys)


class RevocationList:
    """The index of revocation events still in force; `add` them, ask `is_revoked`.
    Writers take a lock, readers none."""

    def __init__(self):
        self._lock = threading.Lock()
        self._audit: dict[str, int] = {}  # audit id -> expires_at
        # (kind, id) -> (latest issued_before, expires_at)
        self._cutoffs: dict[tuple[str, str], tuple[int, int]] = {}
        self._owners = AuditOwners()

    def add(self, event: Revocation) -> None:
        with self._lock:
            if event.audit_id:
                self._audit[event.audit_id] = max(event.expires_at, self._audit.get(event.audit_id, 0))
            for kind, ident in (("user", event.user_id), ("project", event.project_id),
                                ("domain", event.domain_id),
                                ("audit_chain", event.audit_chain_id)):
                if ident:
                    old_before, old_expiry = self._cutoffs.get((kind, ident), (0, 0))
                    self._cutoffs[(kind, ident)] = (max(old_before, event.issued_before),
                                                    max(old_expiry, event.expires_at))
            self._track_owner(event)

    def _track_owner(self, event: Revocation) -> None:
        """(Under the lock.) Note whose token an audit-id event revoked; forget the
        audit ids a user cutoff covers, also one that arrives after the cutoff (a
        replica's feed read before the fold that deleted its row)."""
        owner = event.token_user_id
        if event.audit_id and owner:
            cutoff = self._cutoffs.get(("user", owner))
            if cutoff is not None and event.issued_before <= cutoff[0] \
                    and event.expires_at <= cutoff[1]:
                self._audit.pop(event.audit_id, None)
            else:
                self._owners.add(owner, event.audit_id, event.issued_before, event.expires_at)
        if event.user_id:
            for audit_id in self._owners.covered(event.user_id, event.issued_before,
                                                 event.expires_at):
                self._audit.pop(audit_id, None)

    def owned_count(self, user_id: str) -> int:
        """How many audit-id events this list holds for tokens of `user_id`."""
        return self._owners.count(user_id)

    def is_revoked(self, token: TokenPayload, domain_id: str | None = None) -> bool:
        """`domain_id` is the domain the token's scope belongs to, when known."""
        return self.covers(token.audit_ids[0], token.issued_at, cutoff_keys(token, domain_id))

    def covers(self, audit_id: str, issued_at: int,
               keys: tuple[tuple[str, str], ...]) -> bool:
        """Whether an event revokes the token with this (own) audit id and issue time
        (unix milliseconds) whose cutoff keys are `keys` (see `cutoff_keys`): for a
        caller that keeps the keys of a token it checks again and again."""
        if audit_id in self._audit:
            return True
        cutoffs = self._cutoffs
        if cutoffs:
            for key in keys:
                cutoff = cutoffs.get(key)
                if cutoff is not None and issued_at <= cutoff[0]:
                    return True
        return False

    def prune(self, now: int) -> None:
        """Forget events that no still-valid token could match."""
        with self._lock:
            self._audit = {a: exp for a, exp in self._audit.items() if exp > now}
            self._cutoffs = {k: v for k, v in self._cutoffs.items() if v[1] > now}
            self._owners.keep_only(self._audit)

    def __len__(self) -> int:
        return len(self._audit) + len(self._cutoffs)


class AuditOwners:
    """Audit-id events by the owner of the token each revoked: owner -> audit id ->
    (issued_before, expires_at). Not locked: `RevocationList` holds its lock."""

    def __init__(self):
        self.by_owner: dict[str, dict[str, tuple[int, int]]] = {}

    def add(self, owner: str, audit_id: str, issued_before: int, expires_at: int) -> None:
        self.by_owner.setdefault(owner, {})[audit_id] = (issued_before, expires_at)

    def covered(self, owner: str, issued_before: int, expires_at: int) -> list[str]:
        """Remove and return the owner's audit ids that a user cutoff with these
        times makes redundant: tokens issued no later, expiring no later than it."""
        owned = self.by_owner.get(owner)
        if not owned:
            return []
        gone = [a for a, (before, expiry) in owned.items()
                if before <= issued_before and expiry <= expires_at]
        for audit_id in gone:
            del owned[audit_id]
        if not owned:
            del self.by_owner[owner]
        return gone

    def count(self, owner: str) -> int:
        return len(self.by_owner.get(owner, ()))

    def keep_only(self, audit_ids) -> None:
        """Forget what is no longer among `audit_ids` (after a prune)."""
        kept = {}
        for owner, owned in self.by_owner.items():
            still = {a: v for a, v in owned.items() if a in audit_ids}
            if still:
                kept[owner] = still
        self.by_owner = kept
