"""What one user's revocations may cost everyone else.

Every server and every consuming service holds each revocation event until the
tokens it matches expire, and sends or receives it whole whenever a consumer
(re)connects. Unbounded, one ordinary user revoking its own tokens in a loop
(~450 a second) grew that state for as long as its tokens live: within minutes the
stream's snapshot passed gRPC's 4 MiB message limit, and consumers fell back to a
remote call per token check. Two bounds, both keyed by the owner of the revoked
token (whoever asks: the owner, an admin or a service):

* a rate: a token bucket per owner in each server process, refilled at
  `revocation_rate_per_user` a second and holding at most `revocation_burst_per_user`;
  past it a revocation is refused (ResourceExhausted with the seconds to wait) and
  nothing is written;
* folding: a user keeps at most `revocation_fold_threshold` audit-id events (a few
  more while revocations racing each other each find one fewer in the index). The
  revocation that would pass that is written instead as one user cutoff covering
  them all (`issued_before` the newest issue time among them, expiring when the
  last token it can match would), and the audit-id rows it covers are deleted in
  the same transaction; every index forgets them as it learns of the cutoff
  (`RevocationList`, and consumers from the event's `token_user_id`). That user's
  tokens issued later stay valid; those issued up to that time, revoked or not,
  are refused from then on: the cost of the flood falls on the flooder.

A hand-written bucket rather than a library: the ones at hand (`limits`,
`pyrate-limiter`) keep per-hit timestamps and run expiry threads, for what is a
pair of floats per user here, with the exact wait to report.
"""

import threading
import time
from collections.abc import Callable

from identity_api.revocation import Revocation, RevocationList

from .errors import ResourceExhausted
from .store.revocations import RevocationStore


class TokenBuckets:
    """One token bucket per key: refilled at `rate` a second, holding at most
    `burst`. Keys whose bucket has refilled are forgotten once there are many, so
    memory stays bounded by the keys active within one refill time."""

    MAX_KEYS = 100_000

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)

    def take(self, key: str) -> float:
        """Take a token for `key`: 0.0 if there was one, else the seconds until
        there will be (nothing is taken then)."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - then) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self._rate
            if key not in self._buckets and len(self._buckets) >= self.MAX_KEYS:
                self._forget_refilled(now)
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0

    def _forget_refilled(self, now: float) -> None:
        refill = self._burst / self._rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}


class RevocationLimits:
    """Owns what one user's revocations may cost: the rate, and folding many into one
    cutoff; promises no revocation is lost by folding."""

    def __init__(self, revocations: RevocationList, store: RevocationStore, *, rate: float,
                 burst: int, fold_threshold: int, max_token_lifetime: int,
                 clock: Callable[[], float] = time.time):
        self._revocations = revocations
        self._store = store
        self._rate = rate
        self._buckets = TokenBuckets(rate, burst)
        self._threshold = fold_threshold
        self._lifetime = max_token_lifetime
        self._clock = clock

    def admit(self, owner: str) -> None:
        """Count one revocation of `owner`'s tokens, or refuse it past the rate."""
        wait = self._buckets.take(owner)
        if wait:
            raise ResourceExhausted(
                f"too many revocations of user {owner}'s tokens: at most "
                f"{self._rate:g} a second (revocation_rate_per_user); try again in "
                f"{wait:.1f} s", retry_after=wait)

    def event_for(self, event: Revocation) -> Revocation:
        """What to write for an audit-id event, inside its write transaction: the
        event itself, or, when its owner already has `fold_threshold` audit-id
        events, one user cutoff covering them and it. The rows it covers (those
        audit-id events, and the owner's older cutoffs) are deleted by id, which
        locks only them."""
        owner = event.token_user_id
        if not owner or self._revocations.owned_count(owner) < self._threshold:
            return event
        rows = self._store.owned_by(owner)
        audit = [row for row in rows if row[1]]
        if len(audit) < self._threshold:  # another replica folded them meanwhile
            return event
        issued_before = max([before for _, _, before, _ in audit] + [event.issued_before])
        # Tokens issued up to then, revoked or not, can live until now + lifetime.
        expires_at = max([expiry for _, _, _, expiry in audit]
                         + [event.expires_at, int(self._clock()) + self._lifetime])
        covered = [row_id for row_id, _, before, expiry in rows
                   if before <= issued_before and expiry <= expires_at]
        self._store.delete_ids(covered)
        return Revocation(issued_before=issued_before, expires_at=expires_at, user_id=owner)
