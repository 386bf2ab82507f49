"""Signing and checking tokens with this server's keys (the format itself is
`identity_api.tokens`, shared with consuming services), and the cache that makes
checking a token seen before cost a dict lookup."""

import threading

from identity_api.tokens import InvalidToken, MAX_TOKEN_LENGTH, TokenPayload, encode, verify

from .. import metrics
from ..errors import Unauthenticated
from .keys import KeyRepository


class TokenCodec:
    """Signs and verifies tokens. Checks neither expiry nor revocation: the caller
    does, with its own clock and revocation list.

    Successful verifications are cached (token -> payload, oldest evicted first), so
    validating a token again costs a dict lookup instead of an Ed25519 check. The
    cache belongs to one key set generation: when the keys change it is dropped, so a
    token whose key was retired stops validating at once. It holds at most
    `verified_cache_bytes` (estimated once per entry, when it is stored) and
    `verified_cache_size` entries, and `forget_expired` drops the tokens past their
    expiry, which no caller may use again.
    """

    def __init__(self, keys: KeyRepository, verified_cache_size: int = 100_000,
                 verified_cache_bytes: int = 32 * 1024 * 1024):
        self._keys = keys
        self._cache_size = verified_cache_size
        self._max_bytes = verified_cache_bytes
        # (generation, cache) swapped as one reference: no lock on the read path.
        self._cache: tuple[int, dict[str, TokenPayload]] = (keys.generation, {})
        self._bytes = 0  # the estimated size of the current generation's cache
        self._lock = threading.Lock()  # writers only
        self._count_hit = metrics.TOKEN_CACHE_HITS.inc
        self._count_miss = metrics.TOKEN_CACHE_MISSES.inc

    def encode(self, payload: TokenPayload) -> str:
        primary = self._keys.primary
        return encode(payload, primary.key_id, primary.private_key)

    def decode(self, token: str) -> TokenPayload:
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
            raise Unauthenticated("malformed token")
        key_set = self._keys.key_set
        cache = self._cache_for(key_set.generation)
        payload = cache.get(token)
        if payload is not None:
            self._count_hit()
        else:
            self._count_miss()
            try:
                payload = verify(token, key_set.verifier)
            except InvalidToken as refused:
                raise Unauthenticated(str(refused)) from None
            self._remember(cache, token, payload)
        return payload

    def _cache_for(self, generation: int) -> dict[str, TokenPayload]:
        cached_generation, cache = self._cache
        if cached_generation == generation:
            return cache
        if cached_generation < generation:
            with self._lock:
                if self._cache[0] < generation:
                    self._cache, self._bytes = (generation, {}), 0
                return self._cache[1]
        return {}  # this reader still holds an older key set: cache nothing for it

    def _remember(self, cache: dict[str, TokenPayload], token: str, payload: TokenPayload) -> None:
        if self._cache_size <= 0:
            return
        size = verified_entry_size(token, payload)
        with self._lock:
            if cache is not self._cache[1] or token in cache:
                return  # a generation gone, or another thread stored it meanwhile
            while cache and (len(cache) >= self._cache_size
                             or self._bytes + size > self._max_bytes):
                oldest = next(iter(cache))
                self._bytes -= verified_entry_size(oldest, cache.pop(oldest))
            cache[token] = payload
            self._bytes += size

    def forget_expired(self, now: float) -> int:
        """Drop the verified tokens that expired by `now`; how many."""
        with self._lock:
            cache = self._cache[1]
            expired = [(t, p) for t, p in cache.items() if p.expires_at <= now]
            for token, payload in expired:
                del cache[token]
                self._bytes -= verified_entry_size(token, payload)
        return len(expired)

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    @property
    def cached_tokens(self) -> int:
        return len(self._cache[1])


# What one verified token holds besides its strings' characters (measured with
# sizing.estimate: the payload record, its tuples, the str headers, the dict slot).
_VERIFIED_ENTRY_OVERHEAD = 750


def verified_entry_size(token: str, payload: TokenPayload) -> int:
    """The estimated bytes a verified-token entry holds: a sum of lengths, cheap
    enough to compute again when the entry is evicted."""
    return (_VERIFIED_ENTRY_OVERHEAD + len(token) + len(payload.user_id)
            + len(payload.scope_id or "") + len(payload.api_key_id or "")
            + len(payload.trust_id or "")
            + sum(len(a) for a in payload.audit_ids))
