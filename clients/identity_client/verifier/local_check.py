"""The check itself: a token seen before decided by a few lookups (its entry, the
clock, the revocation index); one seen first verified here as far as it can be, the
service asked for the rest."""

import logging
import time
from typing import TYPE_CHECKING, Callable

from identity_api.tokens import TokenPayload, UnknownSigningKey, signing_key_id

from .cached_facts import CachedFacts, Entry
from .context import IdentityContext, context_from, with_service
from .errors import TokenRejected, decode_token
from .identity_service import IdentityService
from .revocation_stream import RevocationStream
from .signing_keys import SigningKeys

if TYPE_CHECKING:
    from . import TokenVerifier

log = logging.getLogger(__package__)


class LocalCheck:
    def __init__(self, verifier: "TokenVerifier", service: IdentityService,
                 keys: SigningKeys, facts: CachedFacts, stream: RevocationStream,
                 clock: Callable[[], float]):
        self._verifier = verifier  # named in each context, for `domain_projects`
        self._service = service
        self._keys = keys
        self._facts = facts
        self._stream = stream
        self._clock = clock

    def local(self, token: str) -> Entry | None:
        """The hot path: a dict lookup, a clock read, the revocation index."""
        entry = self._facts.entries.get(token)
        stream = self._stream
        if entry is None or time.monotonic() >= stream.live_until:
            return None
        if self._clock() >= entry.expires_at:
            raise TokenRejected("token has expired")
        if stream.index.covers(entry.audit_id, entry.issued_at, entry.cutoff_keys):
            raise TokenRejected("token has been revoked")
        return entry

    def combined(self, entry: Entry, service: Entry) -> IdentityContext:
        token = service.context.token
        combo = entry.combos.get(token)
        if combo is None or combo[0] is not service.context:
            if len(entry.combos) > 8:
                entry.combos.clear()
            combo = entry.combos[token] = (service.context,
                                           with_service(entry.context, service.context))
        return combo[1]

    def _check_times(self, payload: TokenPayload) -> None:
        """The service's own checks of a token's times, made once, when it is first
        seen (a cached token only moves further from being issued in the future)."""
        now = self._clock()
        if now >= payload.expires_at:
            raise TokenRejected("token has expired")
        if payload.issued_at > (now + self._keys.clock_skew_tolerance) * 1000:
            raise TokenRejected("token was issued in the future")
        lifetime = self._keys.token_lifetime
        if lifetime and payload.expires_at * 1000 - payload.issued_at > lifetime * 1000:
            raise TokenRejected("token lives longer than the token lifetime")

    def resolve(self, token: str) -> Entry:
        """First sight of a token (or no trusted stream): verify what can be verified
        here, then ask the service for the rest."""
        payload = self._decode(token)  # TokenRejected when forged or malformed
        live = self._stream.connected
        if payload is not None:
            self._check_times(payload)
            if live and self._stream.index.is_revoked(payload):
                raise TokenRejected("token has been revoked")
        generation = self._facts.generation
        context = context_from(token, self._service.validate(token), payload, self._verifier)
        if payload is None:
            try:
                payload = decode_token(token, self._keys.by_id)
            except (UnknownSigningKey, TokenRejected):
                payload = None
        if payload is None:  # the service knows a key we could not fetch: ask again next time
            return Entry(_placeholder(context), context, "")
        entry = Entry(payload, context, signing_key_id(token))
        self._facts.remember(token, entry, live, generation)
        return entry

    def _decode(self, token: str) -> TokenPayload | None:
        try:
            return decode_token(token, self._keys.by_id)
        except UnknownSigningKey as unknown:
            # New keys (a rotation) are fetched at once; a flood of made-up key ids
            # costs at most one fetch per key_refetch_interval.
            self._keys.fetch(throttled=True)
            try:
                return decode_token(token, self._keys.by_id)
            except UnknownSigningKey:
                log.debug("token names unknown key %s: asking the service", unknown.key_id)
                return None


def _placeholder(context: IdentityContext) -> TokenPayload:
    """A payload for a token the service vouched for but whose key is unknown here;
    such an entry is returned, never cached."""
    return TokenPayload(context.user_id, context.methods, context.scope_type,
                        context.project_id or context.domain_id, context.issued_at * 1000,
                        context.expires_at, context.audit_ids or ("",), context.api_key_id,
                        context.trust_id, context.access_token_id)
