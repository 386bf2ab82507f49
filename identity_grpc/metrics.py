"""Every Prometheus metric the service exports, and what each one measures.

Metrics are process-wide, as Prometheus' client keeps them: the modules that count
(the interceptor, the gateway, passwords, the token codec, the streams, the change
feed) import their metric from here and nothing else. They are served on
`metrics_listen` (`metrics_endpoint`); with several worker processes each worker
writes its values to files in a shared directory and the supervisor serves their
sum (prometheus-client's multiprocess mode), so gauges say how they combine across
workers (`multiprocess_mode`). docs/observability.md lists them with the alerts
worth setting.

The per-call paths never build label values per call: a metric's children are
looked up once per label set (`Children`) and kept.
"""

from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from . import errors
from .records import (ApiKeyCredentials, Ec2Credentials, OAuth1Credentials, PasswordCredentials,
                      TokenCredentials)

disable_created_metrics()  # no `_created` series: half the scrape, nothing alerts on them

# Seconds: from half a millisecond (a cached token check) to ten seconds (a call
# stuck behind a store that does not answer).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)

# ---- calls ------------------------------------------------------------------------
GRPC_REQUESTS = Counter(
    "identity_grpc_requests_total",
    "gRPC calls finished, by service, method and status code (a stream counts when it ends)",
    ["service", "method", "code"])
GRPC_DURATION = Histogram(
    "identity_grpc_request_duration_seconds",
    "Time from a gRPC call reaching the interceptor to its answer (a stream: its whole life)",
    ["service", "method", "code"], buckets=LATENCY_BUCKETS)
HTTP_REQUESTS = Counter(
    "identity_http_requests_total",
    "HTTP gateway requests answered, by method, route template and status",
    ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "identity_http_request_duration_seconds",
    "Time the gateway took to produce a response (sending its body not included)",
    ["method", "route", "status"], buckets=LATENCY_BUCKETS)

# ---- authentication ---------------------------------------------------------------
AUTHENTICATIONS = Counter(
    "identity_authentications_total",
    "Authentications (tokens asked for), by method and outcome: success; failure (the "
    "credentials did not authenticate); throttled (shed or throttled before checking); "
    "refused (a bad request, or not allowed); error (the store, or a bug)",
    ["method", "outcome"])
AUTH_METHODS = ("password", "token", "api_key", "ec2credential", "oauth1", "other")
AUTH_OUTCOMES = ("success", "failure", "throttled", "refused", "error")
PASSWORD_CHECKS_IN_PROGRESS = Gauge(
    "identity_password_checks_in_progress",
    "Login password checks holding a place in the hashing queue (waiting or hashing); "
    "at password_queue_limit more are shed", multiprocess_mode="livesum")
PASSWORD_CHECKS_SHED = Counter(
    "identity_password_checks_shed_total",
    "Login password checks refused at once (RESOURCE_EXHAUSTED / 429) because the "
    "hashing queue was full")
PASSWORD_HASH_DURATION = Histogram(
    "identity_password_hash_duration_seconds",
    "Time of one argon2 hash or verify, waiting for a hashing thread included",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0))

# ---- tokens -----------------------------------------------------------------------
TOKEN_CACHE_HITS = Counter(
    "identity_token_cache_hits_total",
    "Token checks answered from the verified-token cache (no signature check)")
TOKEN_CACHE_MISSES = Counter(
    "identity_token_cache_misses_total",
    "Token checks that verified a signature (first sight of a token, or a new key set)")

# ---- consuming services' revocation stream ----------------------------------------
STREAM_SUBSCRIBERS = Gauge(
    "identity_revocation_stream_subscribers",
    "WatchRevocations streams open (each holds a server thread)",
    multiprocess_mode="livesum")
STREAM_LAG = Histogram(
    "identity_revocation_stream_lag_seconds",
    "How long a notice waited in a watcher's queue before it was sent; the store's "
    "changes reach this server within identity_feed_* (see docs/observability.md)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
STREAM_OVERFLOWS = Counter(
    "identity_revocation_stream_overflows_total",
    "Watchers cut off for falling too far behind (they must watch again)")

# ---- following the shared store ---------------------------------------------------
FEED_LAST_POLL = Gauge(
    "identity_feed_last_poll_timestamp_seconds",
    "Unix time of this server's last successful read of the change feed and revocation "
    "events; time() minus it is how far behind the store it may be (with several "
    "workers: the stalest one)", multiprocess_mode="livemin")
FEED_POLL_DURATION = Histogram(
    "identity_feed_poll_duration_seconds",
    "Time of one successful read of the shared feeds, applying what was new included",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0))
FEED_ROWS_APPLIED = Counter(
    "identity_feed_rows_applied_total",
    "Rows of the shared feeds applied to this server's caches and revocation list",
    ["feed"])
FEED_RESYNCS = Counter(
    "identity_feed_resyncs_total",
    "Times a feed could not be followed row by row and was read again from scratch")
STORE_ERRORS = Counter(
    "identity_store_errors_total",
    "Store failures: calls answered UNAVAILABLE / 503 because the store could not be "
    "reached (where: grpc, http), and failed polls of the shared feeds (where: feed)",
    ["where"])
STORE_CONFLICTS = Counter(
    "identity_store_conflicts_total",
    "Operations that met a concurrent change: retried, or given up after the last attempt",
    ["outcome"])


class Observed:
    """A request counter and a latency histogram of the same labels, fed together."""

    __slots__ = ("_count", "_observe")

    def __init__(self, counter, histogram):
        self._count = counter.inc
        self._observe = histogram.observe

    def __call__(self, seconds: float) -> None:
        self._count()
        self._observe(seconds)


class ObservedByKey(dict):
    """`Observed` per key, its children looked up when the key is first met: then
    `observers[key]` costs a dict lookup, where `metric.labels(...)` takes a lock
    and builds the label key on every call. `labels_of(key)` gives the label values
    after `prefix` (default: the key itself, a tuple)."""

    def __init__(self, counter, histogram, prefix: tuple = (), labels_of=tuple):
        super().__init__()
        self._metrics = counter, histogram
        self._prefix = prefix
        self._labels_of = labels_of

    def __missing__(self, key):
        values = (*self._prefix, *self._labels_of(key))
        counter, histogram = self._metrics
        observed = self[key] = Observed(counter.labels(*values), histogram.labels(*values))
        return observed


def grpc_calls(method: str) -> ObservedByKey:
    """One gRPC method's observers by status code (a `grpc.StatusCode`)."""
    service, _, name = method.lstrip("/").rpartition("/")
    return ObservedByKey(GRPC_REQUESTS, GRPC_DURATION, (service, name),
                         labels_of=lambda code: (code.name,))


def http_requests() -> ObservedByKey:
    """The gateway's observers by (method, route template, status)."""
    return ObservedByKey(HTTP_REQUESTS, HTTP_DURATION)


# ---- authentication outcomes --------------------------------------------------------

_METHOD_OF = {PasswordCredentials: "password", TokenCredentials: "token",
              ApiKeyCredentials: "api_key", Ec2Credentials: "ec2credential",
              OAuth1Credentials: "oauth1"}
_AUTHENTICATIONS = {(m, o): AUTHENTICATIONS.labels(m, o)
                    for m in AUTH_METHODS for o in AUTH_OUTCOMES}  # every series from 0


def _outcome_of(error: Exception) -> str:
    if isinstance(error, errors.Unauthenticated):
        return "failure"
    if isinstance(error, errors.ResourceExhausted):
        return "throttled"
    if isinstance(error, errors.IdentityError) and not isinstance(error, errors.Unavailable):
        return "refused"
    return "error"


@contextmanager
def counting_authentication(credentials):
    """Counts the authentication the block performs by its method and outcome."""
    method = _METHOD_OF.get(type(credentials), "other")
    try:
        yield
    except Exception as e:
        _AUTHENTICATIONS[method, _outcome_of(e)].inc()
        raise
    _AUTHENTICATIONS[method, "success"].inc()


for _where in ("grpc", "http", "feed"):
    STORE_ERRORS.labels(_where)
for _outcome in ("retried", "gave_up"):
    STORE_CONFLICTS.labels(_outcome)
for _feed in ("changes", "revocations"):
    FEED_ROWS_APPLIED.labels(_feed)
