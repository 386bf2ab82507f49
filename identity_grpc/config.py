"""Settings: a TOML file, then `IDENTITY_*` environment variables over it.

Settings are an immutable value passed to what needs them, never a global.
"""

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from . import placement, policy_rules
from .passwords import HashParameters, PasswordRules
from .store.db import check_database_url


@dataclass(frozen=True)
class Settings:
    listen: str = "127.0.0.1:50051"  # gRPC address; port 0 picks a free one
    http_listen: str = "127.0.0.1:5000"  # HTTP gateway address
    # Where clients are told to authenticate; empty: the gateway answers with the
    # address a request came in on, and gRPC points at http(s)://<http_listen>.
    public_url: str = ""
    # TLS for gRPC and the gateway (docs/tls.md): a PEM certificate (chain) and its
    # key, both or neither, read again when they change; a client CA requires client
    # certificates signed by it (mutual TLS). Empty: plaintext.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    database_url: str = "sqlite:///var/identity.db"
    key_dir: str = "var/keys"
    # The keys encrypting credential blobs at rest (docs/credentials.md): a repository
    # of their own, rotated with `identity-manage credential-keys rotate`.
    credential_key_dir: str = "var/credential-keys"
    # Keystone's domain-specific configuration files, `keystone.<domain name>.conf`
    # (docs/ldap.md): a domain with a file takes its configuration from it, read again
    # when it changes. Empty: domains are configured through the API only.
    domain_config_dir: str = ""
    # How long after it was signed an EC2 request still gets a token (Keystone's
    # [credential] auth_ttl, 15 minutes).
    credential_auth_ttl: int = 900  # seconds
    token_lifetime: int = 3600  # seconds
    max_active_keys: int = 3  # staged + primary + secondaries
    poll_interval: float = 0.25  # seconds between reads of the shared change feed
    # Pruning of the shared feeds (docs/revocation.md): how often each server prunes,
    # and how long a change-feed row is kept (longer than any server may fall behind).
    prune_interval: float = 60.0  # seconds
    change_retention: float = 600.0  # seconds
    # How far in the future a token's issue time may be (the clocks of the servers
    # sharing a store disagree a little); a token issued further ahead is refused.
    clock_skew_tolerance: float = 5.0  # seconds
    # Seconds past its expiry a token still validates for a caller asking with
    # allow_expired (a service finishing a long operation; Keystone's default, 2 days).
    allow_expired_window: int = 172800
    grpc_workers: int = 32  # threads serving gRPC calls, per process
    # Server processes sharing the gRPC and HTTP ports (SO_REUSEPORT); each is a
    # whole server, a replica of the others over the same store and keys. 0 or
    # "auto": one per core, where the store allows it (identity_grpc/placement.py):
    # twice the throughput on two cores, but a write made on one worker reaches the
    # others' caches only within `poll_interval`, so it is not the default.
    processes: int = 1
    # "auto": each of several workers keeps its serving threads on a core of its own
    # (password hashing runs on every core); "on": a single process too; "off": the
    # scheduler places every thread.
    cpu_affinity: str = "auto"
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    argon2_parallelism: int = 1
    password_hash_concurrency: int = 0  # password hashes computed at once; 0: one per CPU
    # Login password checks waiting or running at once, past which more are refused
    # (RESOURCE_EXHAUSTED / 429) before any hashing; 0: four per hashing thread.
    password_queue_limit: int = 0
    password_hash_nice: int = 10  # hashing threads run this many nice steps lower (0-19)
    # Throttles of failed password attempts, per process: per (user, source address)
    # and per source address, counted over a sliding window; 0 turns one off.
    login_failure_window: int = 300  # seconds
    login_failures_per_user_and_address: int = 5
    login_failures_per_address: int = 100
    admin_password_file: str = "var/admin-password"
    log_level: str = "INFO"  # any case: debug, INFO, Warning...
    # Observability (docs/observability.md): "json" (one object per line) or "text";
    # the Prometheus metrics' host:port (empty: none served); an OTLP/gRPC collector
    # to send traces to (empty: the OTEL_EXPORTER_OTLP_* variables, else no tracing).
    log_format: str = "json"
    metrics_listen: str = ""
    otel_endpoint: str = ""
    # The default rules: "keystone" (Keystone 30's) or "scoped" (docs/policy.md).
    policy_profile: str = "keystone"
    policy_file: str = ""  # JSON or YAML overriding single rules of the profile
    # Security compliance: all off (0 / "") by default except a sane lockout.
    lockout_failure_attempts: int = 10  # failed password checks in a row that lock a user
    lockout_duration: int = 300  # seconds a locked user stays locked
    password_expires_days: int = 0
    unique_last_password_count: int = 0  # a new password may not repeat the last N
    minimum_password_age_days: int = 0  # a user may not change its password sooner
    password_regex: str = ""
    password_regex_description: str = ""
    # What one client may hold, per process (docs/limits.md).
    max_request_body_size: int = 114_688  # bytes of an HTTP body or gRPC request (Keystone's)
    http_connection_limit: int = 4096  # open HTTP connections; more wait in the backlog
    http_idle_timeout: int = 30  # seconds an idle keep-alive HTTP connection stays open
    # Seconds a client has to send one whole HTTP request (headers and body), and a
    # new gRPC connection to finish its HTTP/2 handshake.
    request_timeout: int = 10
    grpc_max_connections: int = 1000  # open gRPC connections; more are refused
    grpc_max_concurrent_rpcs: int = 256  # gRPC calls running or queued; more: RESOURCE_EXHAUSTED
    # The revocation stream's bounds (docs/streams.md), each per server process:
    # streams one user may hold; revocations of one user's tokens a second (a token
    # bucket of `revocation_burst_per_user`); a user's audit-id revocations kept
    # before the next one folds them all into one user cutoff.
    max_watch_streams_per_user: int = 8
    revocation_rate_per_user: float = 2.0
    revocation_burst_per_user: int = 20
    revocation_fold_threshold: int = 100
    # OAuth1 (docs/oauth1.md): seconds a request token and an access token live
    # (Keystone's defaults; 0: they never expire).
    oauth1_request_token_duration: int = 28800
    oauth1_access_token_duration: int = 86400
    # Keystone's HTTP lists are not paged: the gateway answers at most this many rows
    # per list, with "truncated": true when it cut one short (gRPC lists page).
    list_limit: int = 5000
    # What one domain may hold (0: no limit). One more is RESOURCE_EXHAUSTED / 429.
    max_users_per_domain: int = 0
    max_groups_per_domain: int = 0
    max_projects_per_domain: int = 0
    # How deep a trust may be delegated further (Keystone's [trust] max_redelegation_count).
    trust_max_redelegation_count: int = 3
    # Memory (docs/memory.md): the estimated bytes each cache may hold, per process:
    # effective roles, scopes and project lists; verified tokens; rendered catalogs.
    cache_memory_mb: int = 64
    token_cache_mb: int = 32
    catalog_cache_mb: int = 16
    # glibc's malloc: blocks of at least this many KiB are
    # mmapped, and so returned when freed (0: glibc's own dynamic threshold, which
    # rises past argon2's blocks and keeps them resident).
    malloc_mmap_threshold_kib: int = 128
    # Health and shutdown (docs/health.md): seconds between the store checks behind
    # readiness (one query per process); on SIGTERM, seconds reported not ready while
    # still serving, then seconds calls in flight get to finish once the listeners close.
    health_check_interval: float = 2.0
    shutdown_drain_seconds: float = 5.0
    shutdown_grace_seconds: float = 5.0
    # Audit events (docs/audit.md): always logged by `identity_grpc.audit`; also
    # appended as JSON lines to this file when set. Per process: the audit streams
    # served, and the events one stream may fall behind before it loses them.
    audit_log_file: str = ""
    max_audit_streams: int = 2
    audit_stream_buffer: int = 10_000

    def __post_init__(self):
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                raise ValueError(f"setting {name!r} must be {_describe_range(low, high)}, "
                                 f"not {value}")
        for name in POSITIVE:
            if getattr(self, name) <= 0:
                raise ValueError(f"setting {name!r} must be positive, not {getattr(self, name)}")
        self.password_rules.compiled_regex  # a bad pattern stops the server at start
        self._check_startup_settings()

    def _check_startup_settings(self) -> None:
        """What can be known wrong before anything is opened: the log level (kept upper
        case) and format, the addresses, the database URL."""
        levels = logging.getLevelNamesMapping()
        if self.log_level.upper() not in levels:
            raise ValueError(f"setting 'log_level': {self.log_level!r} is not a level "
                             "(DEBUG, INFO, WARNING, ERROR or CRITICAL, in any case)")
        object.__setattr__(self, "log_level", self.log_level.upper())
        if self.policy_profile not in policy_rules.PROFILES:
            policy_rules.rules_for(self.policy_profile)  # raises, naming the profiles
        for name in ("listen", "http_listen"):
            _check_address(name, getattr(self, name))
        _check_tls_pair(self)
        if self.metrics_listen:
            _check_address("metrics_listen", self.metrics_listen)
        if self.cpu_affinity not in placement.AFFINITY_MODES:
            raise ValueError(f"setting 'cpu_affinity': {self.cpu_affinity!r} is not auto, on "
                             "or off")
        if self.log_format not in ("json", "text"):
            raise ValueError(f"setting 'log_format': {self.log_format!r} is not json or text")
        try:
            check_database_url(self.database_url)
        except ValueError as e:
            raise ValueError(f"setting 'database_url': {str(e).removeprefix('database_url: ')}") from None

    @property
    def advertised_url(self) -> str:
        """The gateway's address for places with no request to go by."""
        scheme = "https" if self.tls_cert_file else "http"
        return (self.public_url or f"{scheme}://{self.http_listen}").rstrip("/")

    @property
    def password_rules(self) -> PasswordRules:
        return PasswordRules(
            lockout_failure_attempts=self.lockout_failure_attempts,
            lockout_duration=self.lockout_duration,
            expires_days=self.password_expires_days,
            unique_last_count=self.unique_last_password_count,
            minimum_age_days=self.minimum_password_age_days,
            regex=self.password_regex, regex_description=self.password_regex_description)

    @property
    def hash_parameters(self) -> HashParameters:
        return HashParameters(self.argon2_time_cost, self.argon2_memory_kib,
                              self.argon2_parallelism)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


# The bounds of each numeric setting, (lowest, highest or None), checked at start.
# 0 means "off" or "no limit" for the settings whose lowest is 0 (see the comments above).
_MEGABYTES = (1, 64 * 1024)
RANGES: dict[str, tuple[int, int | None]] = {
    "token_lifetime": (1, None), "credential_auth_ttl": (1, None), "max_active_keys": (2, None), "grpc_workers": (1, None),
    "processes": (0, None), "argon2_time_cost": (1, None), "argon2_memory_kib": (8, None),
    "argon2_parallelism": (1, None), "password_hash_concurrency": (0, None),
    "password_queue_limit": (0, None), "password_hash_nice": (0, 19),
    "login_failure_window": (1, None), "login_failures_per_user_and_address": (0, None),
    "login_failures_per_address": (0, None),
    "lockout_failure_attempts": (0, None), "lockout_duration": (0, None),
    "password_expires_days": (0, None), "unique_last_password_count": (0, None),
    "minimum_password_age_days": (0, None),
    "max_request_body_size": (1024, None), "http_connection_limit": (1, None),
    "http_idle_timeout": (1, None), "request_timeout": (1, None),
    "grpc_max_connections": (1, None), "grpc_max_concurrent_rpcs": (1, None),
    "max_watch_streams_per_user": (1, None), "revocation_burst_per_user": (1, None),
    "revocation_fold_threshold": (1, None), "list_limit": (1, None),
    "max_users_per_domain": (0, None), "max_groups_per_domain": (0, None),
    "max_projects_per_domain": (0, None), "trust_max_redelegation_count": (0, None),
    "cache_memory_mb": _MEGABYTES, "token_cache_mb": _MEGABYTES, "catalog_cache_mb": _MEGABYTES,
    "malloc_mmap_threshold_kib": (0, 32 * 1024),  # glibc's most
    "prune_interval": (0, None), "change_retention": (0, None),
    "clock_skew_tolerance": (0, None), "allow_expired_window": (0, None),
    "oauth1_request_token_duration": (0, None), "oauth1_access_token_duration": (0, None),
    "shutdown_drain_seconds": (0, None), "shutdown_grace_seconds": (0, None),
    "max_audit_streams": (1, None), "audit_stream_buffer": (1, None),
}
POSITIVE = ("poll_interval", "revocation_rate_per_user", "health_check_interval")


def _describe_range(low: int, high: int | None) -> str:
    if high is not None:
        return f"between {low} and {high}"
    return "at least 0 (not negative)" if low == 0 else f"at least {low}"


def _check_address(name: str, address: str) -> None:
    """host:port, the port 0 (any free one) to 65535, an IPv6 host in brackets."""
    host, colon, port = address.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    bare = host[1:-1] if bracketed else host
    good_port = bool(colon) and port.isdigit() and int(port) <= 65535
    good_host = "[" not in bare and "]" not in bare and (bracketed or ":" not in bare)
    if not (good_port and good_host):
        raise ValueError(f"setting {name!r}: {address!r} is not host:port (a port from 0 to "
                         "65535; an IPv6 host in brackets, as [::1]:5000)")


def _check_tls_pair(settings: "Settings") -> None:
    """The certificate with its key or neither, a client CA only with them; the
    files themselves are read when the server starts (identity_grpc/tls.py)."""
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        given, missing = (("tls_cert_file", "tls_key_file") if settings.tls_cert_file
                          else ("tls_key_file", "tls_cert_file"))
        raise ValueError(f"setting {missing!r} must be set with {given!r} (both or neither)")
    if settings.tls_client_ca_file and not settings.tls_cert_file:
        raise ValueError("setting 'tls_client_ca_file' needs 'tls_cert_file' and "
                         "'tls_key_file' (client certificates are asked for over TLS)")


ENV_PREFIX = "IDENTITY_"


def load_settings(path: str | os.PathLike | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then the file at `path` (which must exist, if named), then the environment.

    The file is flat `key = value` TOML, or the same under an `[identity]` table.
    An unknown key or a value of the wrong type is refused, naming the key.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    if path is not None:
        if not Path(path).exists():
            raise ValueError(f"settings file {str(path)!r} does not exist")
        if not Path(path).is_file():
            raise ValueError(f"settings file {str(path)!r} is not a file")
        with open(path, "rb") as f:
            try:
                data = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise ValueError(f"settings file {str(path)!r}: {e}") from None
        values.update(data.get("identity", data))
    known = {f.name: f for f in fields(Settings)}
    for name in known:
        env_value = environ.get(ENV_PREFIX + name.upper())
        if env_value is not None:
            values[name] = env_value
    for name, value in list(values.items()):
        if name not in known:
            raise ValueError(f"unknown setting {name!r} (known: {', '.join(sorted(known))})")
        values[name] = _coerce(name, known[name].type, value)
    return Settings(**values)


def _coerce(name: str, kind, value):
    if name == "processes" and isinstance(value, str) and value.strip().lower() == "auto":
        return 0
    kind = {"int": int, "float": float, "str": str}.get(kind, kind)
    try:
        if kind is int and not isinstance(value, bool):
            return int(value)
        if kind is float:
            return float(value)
        if kind is str:
            return str(value)
    except (TypeError, ValueError):
        pass
    raise ValueError(f"setting {name!r}: {value!r} is not a valid {kind.__name__}")
