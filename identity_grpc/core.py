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
from .endpoint_filter import EndpointFilter
from .config import Settings
from .domain_config import DomainConfig
from .directory_identity import DirectoryDomains, DirectoryIdentity
from .domain_config_files import DomainConfigFiles
from .health import Health
from .id_mapping import IdMapping
from .users_and_groups import UsersAndGroups
from .limits import Limits
from .login_throttle import LoginThrottle
from .oauth1 import OAuth1
from .passwords import Passwords
from .policies import Policies
from .policy import Policy
from .project_tags import ProjectTags
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
from .trusts import Trusts
from .credentials import CredentialChecks
from .credential_blobs import CredentialBlobs
from .credential_keys import CredentialKeys
from .audit import AuditTrail
from .consumers import NoticeHub, ObservedRevocations, ConsumerService, key_reloader


# How often the verified-token cache is swept of expired tokens.
EXPIRED_TOKEN_SWEEP_SECONDS = 30.0


class Core:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time,
                 hash_slots=None):
        """`hash_slots`: the password-hashing slots the processes of one host share
        (`Passwords`), when this is one worker of several."""
        self.settings = settings
        # Who authenticated or changed what: recorded by operations, written out by
        # the trail's own thread (docs/audit.md).
        self.audit = AuditTrail(settings.audit_log_file, settings.max_audit_streams,
                                subscriber_buffer=settings.audit_stream_buffer)
        # A broken policy file stops us before anything is opened.
        self.policy = Policy(settings.policy_file, settings.policy_profile)
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
                                   settings.password_queue_limit, settings.password_hash_nice,
                                   host_slots=hash_slots)
        self.login_throttle = LoginThrottle(settings.login_failures_per_user_and_address,
                                            settings.login_failures_per_address,
                                            settings.login_failure_window, clock)
        lifetime = settings.token_lifetime
        quotas = DomainQuotas.from_settings(settings)
        # LDAP-backed domains: their clients made from their configuration when first met.
        self.directories = DirectoryIdentity(
            DirectoryDomains(lambda domain_id: self.domain_config.effective(domain_id)),
            IdMapping(self.store), invalidate=self.cache.invalidate)
        self.users_and_groups = UsersAndGroups(self.store, self.writer, self.passwords, lifetime,
                                 settings.password_rules, clock,
                                 throttle=self.login_throttle, quotas=quotas,
                                 directories=self.directories)
        self.resources = Resources(self.store, self.writer, lifetime, quotas=quotas, clock=clock)
        self.assignments = Assignments(self.store, self.writer)
        self.project_tags = ProjectTags(self.store, self.writer)
        self.domain_config = DomainConfig(self.store, self.writer,
                                          DomainConfigFiles(settings.domain_config_dir))
        self.policies = Policies(self.store, self.writer)
        self.limits = Limits(self.store, self.writer)
        self.endpoint_filter = EndpointFilter(self.store, self.writer)
        self.catalog = Catalog(self.store, self.writer, max_bytes=settings.catalog_cache_mb * MIB,
                               project_filter=self.endpoint_filter.filter_of_project)
        limits = RevocationLimits(
            self.revocations, self.store.revocations, rate=settings.revocation_rate_per_user,
            burst=settings.revocation_burst_per_user,
            fold_threshold=settings.revocation_fold_threshold,
            max_token_lifetime=lifetime + settings.allow_expired_window,
            clock=clock)
        # A trust delegates roles its trustor holds, which scopes compute (called late:
        # scopes, in turn, read trusts for trust-scoped tokens).
        self.trusts = Trusts(self.store, self.writer, lambda u, p: self.scopes.roles_on(u, p),
                             lambda: self.assignments.graph,
                             settings.trust_max_redelegation_count, clock)
        self.scopes = Scopes(self.store, self.users_and_groups, self.resources, self.assignments,
                             self.cache, clock, trusts=self.trusts)
        # An API key gives a subset of the user's effective roles, which scopes compute.
        self.api_keys = ApiKeys(self.store, self.writer, self.scopes.roles_on, clock,
                               role_graph=lambda: self.assignments.graph)
        self.oauth1 = OAuth1(self.store, self.writer, self.scopes.roles_on,
                             settings.oauth1_request_token_duration,
                             settings.oauth1_access_token_duration, clock)
        # Credential blobs are encrypted with keys of their own, read when first needed.
        self.credential_blobs = CredentialBlobs(self.store, self.writer,
                                                CredentialKeys(settings.credential_key_dir),
                                                clock, settings.credential_auth_ttl)
        self.credentials = CredentialChecks(self.store, self.users_and_groups, self.resources,
                                            self.api_keys, self.credential_blobs,
                                            oauth1=self.oauth1)
        self.tokens = TokenService(
            credentials=self.credentials, scopes=self.scopes, catalog=self.catalog,
            codec=self.codec, revocations=self.revocations, writer=self.writer,
            token_lifetime=lifetime, revocation_limits=limits, policy=self.policy, clock=clock,
            clock_skew_tolerance=settings.clock_skew_tolerance,
            allow_expired_window=settings.allow_expired_window, trusts=self.trusts)
        self.watcher = StoreWatcher(self.store, self._on_change, self.revocations,
                                    on_tick=self._tick,
                                    interval=settings.poll_interval,
                                    prune_interval=settings.prune_interval,
                                    change_retention=settings.change_retention,
                                    keep_after_expiry=settings.allow_expired_window)
        self.consumers = ConsumerService(self.tokens, self.keys, self.notices, self.revocations,
                                         self.cache, settings, self.policy, self.resources)
        self._reload_keys = key_reloader(self.keys, self.notices)
        self.health = Health(self.db, self.keys, settings.health_check_interval)
        self._clock = clock
        self._next_sweep = 0.0

    def _tick(self) -> None:
        """The store watcher's tick: follow the keys; now and then forget the verified
        tokens that have expired (their entries would stay until evicted)."""
        self._reload_keys()
        for domain_id in self.directories.expire():  # LDAP memberships past their TTL
            self._on_change(Kind.DIRECTORY, domain_id)
        for domain_id in self.domain_config.changed_files():  # this host's files only
            self._on_change(Kind.DOMAIN, domain_id)
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
        elif entity == Kind.DOMAIN:  # its configuration (its LDAP client) may have changed
            self.directories.forget_domain(entity_id)
            self.cache.invalidate(entity, entity_id)
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
        self.health.start()
        self.audit.start()
        return self

    def close(self) -> None:
        self.health.stop()
        self.watcher.stop()
        self.audit.close()
        self.directories.close()
        self.db.close()
