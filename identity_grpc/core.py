"""The composition root: one server's store, keys, caches and subsystem managers.

Transports (the gRPC servicers, the HTTP gateway) receive a `Core` and reach its
managers only through `operations.Operations` (they read its `settings`, and call
`drop_connection` after a store error); nothing else wires the pieces together.
"""

import time
from typing import Callable

from identity_api.changes import Kind

from .assignments import Assignments
from .cache import DependentCache
from .api_keys import ApiKeys
from .catalog import Catalog
from .config import Settings
from .users_and_groups import UsersAndGroups
from .login_throttle import LoginThrottle
from .passwords import Passwords
from .policy import Policy
from .quotas import DomainQuotas
from .resources import Resources
from .revocation_limits import RevocationLimits
from .sizing import MIB
from .store import Store
from .change_feed import StoreWatcher, Writer
from .scopes import Scopes
from .tokens.codec import TokenCodec
from .tokens.service import TokenService
from .tokens.keys import KeyRepository
from .credentials import CredentialChecks
from .consumers import NoticeHub, ObservedRevocations, ConsumerService, key_reloader


# How often the verified-token cache is swept of expired tokens.
EXPIRED_TOKEN_SWEEP_SECONDS = 30.0


class Core:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        # A broken policy file stops us before anything is opened.
        self.policy = Policy(settings.policy_file)
        # This core's own database and tables: nothing binds them process-wide.
        self.store = Store.open(settings.database_url)
        self.db = self.store.db
        self.keys = KeyRepository(settings.key_dir, settings.max_active_keys)
        self.codec = TokenCodec(self.keys, verified_cache_bytes=settings.token_cache_mb * MIB)
        # Consuming services check tokens themselves and must hear of every revocation,
        # change and key reload this server applies: the hub is their subscriber list.
        self.notices = NoticeHub(max_subscribers=max(1, settings.grpc_workers // 2),
                                 max_per_user=settings.max_watch_streams_per_user)
        self.revocations = ObservedRevocations(self.notices)
        self.cache = DependentCache(max_bytes=settings.cache_memory_mb * MIB)
        self.writer = Writer(self.store, self._on_change, self.revocations)
        self.passwords = Passwords(settings.hash_parameters, settings.password_hash_concurrency,
                                   settings.password_queue_limit, settings.password_hash_nice)
        self.login_throttle = LoginThrottle(settings.login_failures_per_user_and_address,
                                            settings.login_failures_per_address,
                                            settings.login_failure_window, clock)
        lifetime = settings.token_lifetime
        quotas = DomainQuotas.from_settings(settings)
        self.users_and_groups = UsersAndGroups(self.store, self.writer, self.passwords, lifetime,
                                 settings.password_rules, clock,
                                 throttle=self.login_throttle, quotas=quotas)
        self.resources = Resources(self.store, self.writer, lifetime, quotas=quotas, clock=clock)
        self.assignments = Assignments(self.store, self.writer)
        self.catalog = Catalog(self.store, self.writer, max_bytes=settings.catalog_cache_mb * MIB)
        limits = RevocationLimits(
            self.revocations, self.store.revocations, rate=settings.revocation_rate_per_user,
            burst=settings.revocation_burst_per_user,
            fold_threshold=settings.revocation_fold_threshold, max_token_lifetime=lifetime,
            clock=clock)
        self.scopes = Scopes(self.store, self.users_and_groups, self.resources, self.assignments,
                             self.cache, clock)
        # An API key gives a subset of the user's effective roles, which scopes compute.
        self.api_keys = ApiKeys(self.store, self.writer, self.scopes.roles_on, clock)
        self.credentials = CredentialChecks(self.store, self.users_and_groups, self.resources, self.api_keys)
        self.tokens = TokenService(
            credentials=self.credentials, scopes=self.scopes, catalog=self.catalog,
            codec=self.codec, revocations=self.revocations, writer=self.writer,
            token_lifetime=lifetime, revocation_limits=limits, policy=self.policy, clock=clock,
            clock_skew_tolerance=settings.clock_skew_tolerance)
        self.watcher = StoreWatcher(self.store, self._on_change, self.revocations,
                                    on_tick=self._tick,
                                    interval=settings.poll_interval,
                                    prune_interval=settings.prune_interval,
                                    change_retention=settings.change_retention)
        self.consumers = ConsumerService(self.tokens, self.keys, self.notices, self.revocations,
                                         self.cache, settings, self.policy, self.resources)
        self._reload_keys = key_reloader(self.keys, self.notices)
        self._clock = clock
        self._next_sweep = 0.0

    def _tick(self) -> None:
        """The store watcher's tick: follow the keys; now and then forget the verified
        tokens that have expired (their entries would stay until evicted)."""
        self._reload_keys()
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + EXPIRED_TOKEN_SWEEP_SECONDS
            self.codec.forget_expired(self._clock())

    def _on_change(self, entity: Kind, entity_id: str) -> None:
        if entity == Kind.ANYTHING:  # the feed could not be followed
            self.catalog.forget()
            self.assignments.forget_roles()
            self.cache.clear()
        elif entity == Kind.CATALOG:
            self.catalog.forget()
        elif entity == Kind.ROLE:  # the answers that carried or implied it
            self.assignments.forget_roles()
            self.cache.invalidate(entity, entity_id)
        else:
            self.cache.invalidate(entity, entity_id)
        self.notices.changed(entity, entity_id)  # after: consumers re-asking get fresh facts

    def drop_connection(self) -> None:
        """After a store error: let go of this thread's connection, so that the next
        call opens a fresh one. Each worker thread keeps its connection, so without
        this a database restart would leave every thread holding a dead one."""
        try:
            self.db.close()
        except Exception:  # closing a broken connection may itself fail; it is gone
            pass

    def start(self) -> "Core":
        """Load the revocation events and start following the shared store."""
        self.watcher.load()
        self.watcher.start()
        return self

    def close(self) -> None:
        self.watcher.stop()
        self.db.close()
