"""The service's public signing keys and its rules for token times (GetSigningKeys),
fetched at start, on a snapshot, on a `keys` notice, and when a token names a key not
known here (throttled, so made-up key ids cannot flood the service)."""

import logging
import threading
import time
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import IdentityUnavailable
from .identity_service import IdentityService

log = logging.getLogger(__package__)


class SigningKeys:
    """`by_id`: the keys by id, replaced whole by each fetch (readers take no lock).
    `on_retired` is told the hex ids of keys a fetch no longer lists."""

    def __init__(self, service: IdentityService, refetch_interval: float, stats: dict,
                 on_retired: Callable[[set[str]], None]):
        self._service = service
        self._refetch_interval = refetch_interval
        self._stats = stats
        self._on_retired = on_retired
        self.by_id: dict[bytes, Ed25519PublicKey] = {}
        self._lock = threading.Lock()
        self._last_fetch = float("-inf")
        self.poll_interval: float | None = None
        # The service's rules for issue times (GetSigningKeys); 0 lifetime: not known.
        self.token_lifetime = 0
        self.clock_skew_tolerance = 5.0

    def fetch(self, throttled: bool = False) -> None:
        asked = time.monotonic()
        with self._lock:
            if self._last_fetch >= asked:
                return  # a fetch began after this one was asked for: it is as fresh
            now = time.monotonic()
            if throttled and now - self._last_fetch < self._refetch_interval:
                return
            self._last_fetch = now
            self._stats["key_fetches"] += 1
            response = self._service.signing_keys()
            keys = {}
            for key in response.keys:
                if key.algorithm == "Ed25519" and len(key.public_key) == 32:
                    keys[bytes.fromhex(key.key_id)] = Ed25519PublicKey.from_public_bytes(
                        key.public_key)
            retired = {k.hex() for k in set(self.by_id) - set(keys)}
            self.by_id = keys
            self.poll_interval = response.poll_interval
            self.token_lifetime = response.token_lifetime
            self.clock_skew_tolerance = response.clock_skew_tolerance
        if retired:  # a retired key revokes what it signed
            self._on_retired(retired)

    def refresh(self) -> None:
        """Fetch again, the service's unavailability only logged."""
        try:
            self.fetch()
        except IdentityUnavailable as e:
            log.info("signing keys not refreshed: %s", e)
