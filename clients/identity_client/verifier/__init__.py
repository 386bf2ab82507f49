"""Checking user tokens in a consuming service, locally, and still never trusting a
revoked one for more than a second.

Keystone's reference middleware caches validations for minutes, so a revoked token
keeps working that long. A `TokenVerifier` instead:

* verifies a token's Ed25519 signature itself, with the public keys the identity
  service publishes (GetSigningKeys; fetched again when a token names a key it does
  not know, or when the service says its keys changed), and checks its expiry;
* keeps an index of revocation events, fed by a background thread following the
  service's WatchRevocations stream (first a snapshot, in chunks and trusted only once
  whole, then each event as the service learns it; reconnects with backoff);
* resolves what a token does not carry (names, roles) with one ValidateToken call
  per token, cached until a change notice (a role granted or removed, a user
  disabled...) or a revocation says otherwise.

A check of a token seen before is then a few dict lookups: microseconds. Whenever
it cannot decide locally (the stream is down or has gone quiet for longer than it
should, a token is new, a key unknown), it asks ValidateToken, which is always
right. The token format and the revocation rules are the contract's
(`identity_api.tokens`, `identity_api.revocation`): the very code the service runs,
so the two can never disagree on which tokens are valid.

    verifier = TokenVerifier(Session(address, username="nova", password=...,
                                     project_name="service"))
    context = verifier.check(user_token, service_token)   # or TokenRejected
"""

import logging
import time
from typing import Callable

import grpc
from identity_api.tokens import TokenPayload

from .cached_facts import CachedFacts
from .context import IdentityContext, ProjectInfo
from .errors import IdentityUnavailable, TokenRejected, decode_token
from .identity_service import IdentityService
from .local_check import LocalCheck
from .revocation_stream import RevocationStream
from .signing_keys import SigningKeys

log = logging.getLogger(__name__)

__all__ = ["TokenVerifier", "IdentityContext", "ProjectInfo", "TokenRejected",
           "IdentityUnavailable", "decode_token", "TokenPayload"]


class TokenVerifier:
    """Checks tokens for a consuming service; see the module docstring.

    `session` (an identity_client.session.Session, for a user holding the `service`
    role) or `channel` plus a fixed `service_token` says how to reach the identity
    service (a channel of your own: give it `session.CHANNEL_OPTIONS`, the receive
    limit the stream needs). `clock` is the clock token expiry is judged by.
    `stale_after`: how long the revocation stream may stay silent before it counts
    as lost (default: a bit over two of the server's keepalive intervals). Threads
    are daemons; `close()` stops them.
    """

    def __init__(self, session=None, *, channel: grpc.Channel | None = None,
                 service_token: str | None = None, clock: Callable[[], float] = time.time,
                 timeout: float = 5.0, stale_after: float | None = None,
                 max_entries: int = 100_000, key_refetch_interval: float = 0.25,
                 max_backoff: float = 5.0, start: bool = True):
        if session is not None:
            if channel is not None or service_token is not None:
                raise ValueError("give a session, or a channel and a service token")
            channel = session.channel
        elif channel is None or not service_token:
            raise ValueError("give a session, or a channel and a service token")
        self.stats = {"remote_validations": 0, "key_fetches": 0, "snapshots": 0,
                      "notices": 0, "domain_project_calls": 0}
        service = IdentityService(channel, session, service_token, timeout, self.stats)
        self._facts = CachedFacts(service, clock, max_entries, self.stats,
                                  connected=lambda: self.connected)
        self._keys = SigningKeys(service, key_refetch_interval, self.stats,
                                 on_retired=self._facts.forget_signed_by)
        self._stream = RevocationStream(service, self._keys, self._facts, clock=clock,
                                        stale_after=stale_after, max_backoff=max_backoff,
                                        stats=self.stats)
        self._checks = LocalCheck(self, service, self._keys, self._facts, self._stream, clock)
        if start:
            self.start()

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> "TokenVerifier":
        try:
            self._keys.fetch()
        except IdentityUnavailable as e:
            log.warning("signing keys not fetched yet: %s", e)
        self._stream.start()
        return self

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> "TokenVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether revocations are being followed, so known tokens are checked locally."""
        return time.monotonic() < self._stream.live_until

    @property
    def revocations_held(self) -> int:
        """Entries in the local revocation index (audit ids and cutoffs): what a
        flood of revocations would grow, and the service's folding keeps small."""
        return len(self._stream.index)

    def wait_until_connected(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # ---- what the service said of its keys (GetSigningKeys) -----------------------------

    def key_ids(self) -> set[str]:
        return {k.hex() for k in self._keys.by_id}

    @property
    def poll_interval(self) -> float | None:
        return self._keys.poll_interval

    @property
    def token_lifetime(self) -> int:
        """The service's token lifetime (0: not known yet)."""
        return self._keys.token_lifetime

    @property
    def clock_skew_tolerance(self) -> float:
        return self._keys.clock_skew_tolerance

    # ---- checks --------------------------------------------------------------------------

    def check(self, token: str, service_token: str | None = None) -> IdentityContext:
        """The identity of a valid token, or TokenRejected (IdentityUnavailable when it
        can be decided neither locally nor by the service)."""
        checks = self._checks
        entry = checks.local(token) or checks.resolve(token)
        if not service_token:
            return entry.context
        service = checks.local(service_token) or checks.resolve(service_token)
        return checks.combined(entry, service)

    def check_local(self, token: str, service_token: str | None = None
                    ) -> IdentityContext | None:
        """`check` without any call: None when that would need one (for async
        callers, who then run `check` in a thread)."""
        checks = self._checks
        entry = checks.local(token)
        if entry is None:
            return None
        if not service_token:
            return entry.context
        service = checks.local(service_token)
        return None if service is None else checks.combined(entry, service)

    def domain_projects(self, context: IdentityContext) -> tuple[ProjectInfo, ...]:
        """The projects a context's scope covers: every enabled project of its domain
        for a domain-scoped token (one call per domain, cached until a change notice
        says the domain's projects changed), its project for a project-scoped one,
        none otherwise (a system scope is a matter for policy)."""
        return self._facts.projects_of(context)
