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
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Callable

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from identity_api.revocation import Revocation, RevocationList, cutoff_keys
from identity_api.tokens import InvalidToken, TokenPayload, UnknownSigningKey, signing_key_id, verify
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

log = logging.getLogger(__name__)

__all__ = ["TokenVerifier", "IdentityContext", "ProjectInfo", "TokenRejected",
           "IdentityUnavailable", "decode_token", "TokenPayload"]


class TokenRejected(Exception):
    """The token is not valid (malformed, forged, expired, revoked, or its user no
    longer holds a role on its scope): answer 401."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IdentityUnavailable(Exception):
    """The identity service could not be asked (down, or refused this service's own
    token) and the token could not be decided locally: answer 503."""


def decode_token(token: str, keys: Mapping[bytes, Ed25519PublicKey]) -> TokenPayload:
    """The verified payload of a token (expiry and revocation not checked), by the
    contract's `identity_api.tokens.verify`. Raises TokenRejected, or
    UnknownSigningKey when its key is not among `keys`."""
    try:
        return verify(token, keys.get)
    except UnknownSigningKey:
        raise
    except InvalidToken as refused:
        raise TokenRejected(str(refused)) from None


def _revocation(event: pb.RevocationEvent) -> Revocation:
    """A WatchRevocations event as the index takes it (the service sends whole
    milliseconds and seconds, so nothing is lost)."""
    return Revocation(issued_before=event.issued_before.ToMilliseconds(),
                      expires_at=event.expires_at.seconds, audit_id=event.audit_id or None,
                      user_id=event.user_id or None, project_id=event.project_id or None,
                      domain_id=event.domain_id or None,
                      token_user_id=event.token_user_id or None)


# ---- what a request gets --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ProjectInfo:
    id: str
    name: str
    domain_id: str
    domain_name: str = ""
    parent_id: str = ""
    description: str = ""


@dataclass(frozen=True)
class IdentityContext:
    """Who is calling, on what scope, with what roles (and, with a service token,
    which service is calling on their behalf)."""

    user_id: str
    user_name: str = ""
    user_domain_id: str = ""
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None  # domain-scoped tokens
    system: bool = False  # system-scoped ("all") tokens
    roles: tuple[str, ...] = ()
    service_user_id: str | None = None
    service_roles: tuple[str, ...] = ()
    token: str = field(default="", repr=False)
    user_domain_name: str = ""
    project_domain_name: str | None = None
    domain_name: str | None = None
    methods: tuple[str, ...] = ()
    audit_ids: tuple[str, ...] = ()
    issued_at: int = 0
    expires_at: int = 0
    api_key_id: str | None = None
    service_user_name: str | None = None
    service_user_domain_id: str | None = None
    service_project_id: str | None = None
    service_project_domain_id: str | None = None
    service_token: str | None = field(default=None, repr=False)
    # The verifier that checked it (for `domain_projects`).
    verifier: "TokenVerifier | None" = field(default=None, repr=False, compare=False)

    @property
    def scope_type(self) -> str:
        if self.project_id:
            return "project"
        if self.domain_id:
            return "domain"
        return "system" if self.system else "unscoped"

    def has_role(self, name: str) -> bool:
        name = name.lower()
        return any(r.lower() == name for r in self.roles)


def _context_from(token: str, info: pb.Token, payload: TokenPayload | None,
                  verifier: "TokenVerifier") -> IdentityContext:
    scope = info.WhichOneof("scope")
    project = info.project if scope == "project" else None
    domain = info.domain if scope == "domain" else None
    return IdentityContext(
        user_id=info.user.id, user_name=info.user.name, user_domain_id=info.user.domain.id,
        user_domain_name=info.user.domain.name,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        project_domain_id=project.domain.id if project else None,
        project_domain_name=project.domain.name if project else None,
        domain_id=domain.id if domain else None, domain_name=domain.name if domain else None,
        system=scope == "system", roles=tuple(r.name for r in info.roles), token=token,
        methods=tuple(info.methods), audit_ids=tuple(info.audit_ids),
        issued_at=info.issued_at.seconds, expires_at=info.expires_at.seconds,
        api_key_id=payload.api_key_id if payload else None, verifier=verifier)


def _with_service(user: IdentityContext, service: IdentityContext) -> IdentityContext:
    return replace(user, service_user_id=service.user_id, service_roles=service.roles,
                   service_user_name=service.user_name,
                   service_user_domain_id=service.user_domain_id,
                   service_project_id=service.project_id,
                   service_project_domain_id=service.project_domain_id,
                   service_token=service.token)


class _Entry:
    """A token checked once: its context, and what the local check needs."""

    __slots__ = ("context", "expires_at", "issued_at", "audit_id", "cutoff_keys",
                 "key_id", "api_key_id", "combos")

    def __init__(self, payload: TokenPayload, context: IdentityContext, key_id: str):
        self.context = context
        self.expires_at = payload.expires_at
        self.issued_at = payload.issued_at  # milliseconds, as cutoffs are
        self.audit_id = payload.audit_ids[0]
        self.cutoff_keys = cutoff_keys(payload, context.project_domain_id)
        self.key_id = key_id
        self.api_key_id = payload.api_key_id
        self.combos: dict[str, tuple[IdentityContext, IdentityContext]] = {}


# ---- the verifier --------------------------------------------------------------------------

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
        self._session = session
        self._service_token = service_token
        self._stub = rpc.IdentityStub(channel)
        self._clock = clock
        self._timeout = timeout
        self._stale_after_setting = stale_after
        self._stale_after = stale_after or 0.6
        self._max_entries = max_entries
        self._key_refetch_interval = key_refetch_interval
        self._max_backoff = max_backoff
        self._backoff = 0.05  # before the next attempt to watch; doubles per failure
        self._lock = threading.Lock()  # writers of the caches below; readers take none
        self._entries: dict[str, _Entry] = {}
        self._domain_projects: dict[str, tuple[ProjectInfo, ...]] = {}
        self._index = RevocationList()
        self._generation = 0  # bumped by every change notice, snapshot and key change
        self._keys: dict[bytes, Ed25519PublicKey] = {}
        self._key_lock = threading.Lock()
        self._last_key_fetch = float("-inf")
        self.poll_interval: float | None = None
        # The service's rules for issue times (GetSigningKeys); 0 lifetime: not known.
        self.token_lifetime = 0
        self.clock_skew_tolerance = 5.0
        self._live_until = 0.0  # monotonic: the stream is trusted until then
        self._quiet_deadline = 0.0  # monotonic: a stream silent past this is cut
        self._call = None
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = {"remote_validations": 0, "key_fetches": 0, "snapshots": 0,
                      "notices": 0, "domain_project_calls": 0}
        if start:
            self.start()

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> "TokenVerifier":
        try:
            self._fetch_keys()
        except IdentityUnavailable as e:
            log.warning("signing keys not fetched yet: %s", e)
        for target, name in ((self._watch, "identity-revocations"),
                             (self._watchdog, "identity-watchdog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def close(self) -> None:
        self._closed.set()
        call = self._call
        if call is not None:
            call.cancel()
        for thread in self._threads:
            thread.join(timeout=5)
        self._live_until = 0.0

    def __enter__(self) -> "TokenVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        """Whether revocations are being followed, so known tokens are checked locally."""
        return time.monotonic() < self._live_until

    @property
    def revocations_held(self) -> int:
        """Entries in the local revocation index (audit ids and cutoffs): what a
        flood of revocations would grow, and the service's folding keeps small."""
        return len(self._index)

    def wait_until_connected(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.connected:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def key_ids(self) -> set[str]:
        return {k.hex() for k in self._keys}

    # ---- checks --------------------------------------------------------------------------

    def check(self, token: str, service_token: str | None = None) -> IdentityContext:
        """The identity of a valid token, or TokenRejected (IdentityUnavailable when it
        can be decided neither locally nor by the service)."""
        entry = self._local(token) or self._resolve(token)
        if not service_token:
            return entry.context
        service = self._local(service_token) or self._resolve(service_token)
        return self._combined(entry, service)

    def check_local(self, token: str, service_token: str | None = None
                    ) -> IdentityContext | None:
        """`check` without any call: None when that would need one (for async
        callers, who then run `check` in a thread)."""
        entry = self._local(token)
        if entry is None:
            return None
        if not service_token:
            return entry.context
        service = self._local(service_token)
        return None if service is None else self._combined(entry, service)

    def _combined(self, entry: _Entry, service: _Entry) -> IdentityContext:
        token = service.context.token
        combo = entry.combos.get(token)
        if combo is None or combo[0] is not service.context:
            if len(entry.combos) > 8:
                entry.combos.clear()
            combo = entry.combos[token] = (service.context,
                                           _with_service(entry.context, service.context))
        return combo[1]

    def _local(self, token: str) -> _Entry | None:
        """The hot path: a dict lookup, a clock read, the revocation index."""
        entry = self._entries.get(token)
        if entry is None or time.monotonic() >= self._live_until:
            return None
        if self._clock() >= entry.expires_at:
            raise TokenRejected("token has expired")
        if self._index.covers(entry.audit_id, entry.issued_at, entry.cutoff_keys):
            raise TokenRejected("token has been revoked")
        return entry

    def _check_times(self, payload: TokenPayload) -> None:
        """The service's own checks of a token's times, made once, when it is first
        seen (a cached token only moves further from being issued in the future)."""
        now = self._clock()
        if now >= payload.expires_at:
            raise TokenRejected("token has expired")
        if payload.issued_at > (now + self.clock_skew_tolerance) * 1000:
            raise TokenRejected("token was issued in the future")
        lifetime = self.token_lifetime
        if lifetime and payload.expires_at * 1000 - payload.issued_at > lifetime * 1000:
            raise TokenRejected("token lives longer than the token lifetime")

    def _resolve(self, token: str) -> _Entry:
        """First sight of a token (or no trusted stream): verify what can be verified
        here, then ask the service for the rest."""
        payload = self._decode(token)  # TokenRejected when forged or malformed
        live = self.connected
        if payload is not None:
            self._check_times(payload)
            if live and self._index.is_revoked(payload):
                raise TokenRejected("token has been revoked")
        generation = self._generation
        context = self._validate_remote(token, payload)
        if payload is None:
            try:
                payload = decode_token(token, self._keys)
            except (UnknownSigningKey, TokenRejected):
                payload = None
        if payload is None:  # the service knows a key we could not fetch: ask again next time
            return _Entry(_placeholder(context), context, "")
        entry = _Entry(payload, context, signing_key_id(token))
        with self._lock:
            if live and generation == self._generation and self.connected:
                if len(self._entries) >= self._max_entries:
                    self._evict()
                self._entries[token] = entry
        return entry

    def _decode(self, token: str) -> TokenPayload | None:
        try:
            return decode_token(token, self._keys)
        except UnknownSigningKey as unknown:
            # New keys (a rotation) are fetched at once; a flood of made-up key ids
            # costs at most one fetch per key_refetch_interval.
            self._fetch_keys(throttled=True)
            try:
                return decode_token(token, self._keys)
            except UnknownSigningKey:
                log.debug("token names unknown key %s: asking the service", unknown.key_id)
                return None

    def _validate_remote(self, token: str, payload: TokenPayload | None) -> IdentityContext:
        request = pb.ValidateTokenRequest(subject_token=token, no_catalog=True)
        for attempt in (0, 1):
            self.stats["remote_validations"] += 1
            try:
                response = self._stub.ValidateToken(request, metadata=self._metadata(),
                                                    timeout=self._timeout)
                return _context_from(token, response.token_info, payload, self)
            except grpc.RpcError as e:
                if attempt == 0 and self._own_token_refused(e):
                    continue
                raise self._translate(e) from None
        raise AssertionError("unreachable")

    def _own_token_refused(self, error: grpc.RpcError) -> bool:
        """A challenge means this service's own token was refused: renew it, once."""
        if error.code() != grpc.StatusCode.UNAUTHENTICATED or self._session is None:
            return False
        if not any(k == "www-authenticate" for k, _ in (error.trailing_metadata() or ())):
            return False
        self._session.invalidate()
        return True

    def _translate(self, error: grpc.RpcError) -> Exception:
        code = error.code()
        challenged = any(k == "www-authenticate" for k, _ in (error.trailing_metadata() or ()))
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT) \
                and not challenged:
            details = error.details() or "token not accepted"
            return TokenRejected(details.removeprefix("subject_token: "))
        if challenged or code == grpc.StatusCode.PERMISSION_DENIED:
            return IdentityUnavailable(f"the identity service refused this service's own "
                                       f"token: {error.details()}")
        return IdentityUnavailable(f"the identity service could not be asked: "
                                   f"{code.name if code else 'UNKNOWN'} {error.details()}")

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._session is not None:
            try:
                return (("x-auth-token", self._session.token),)
            except Exception as e:  # SessionError: cannot authenticate right now
                raise IdentityUnavailable(f"this service cannot authenticate: {e}") from None
        return (("x-auth-token", self._service_token),)

    def _evict(self) -> None:
        """Called under the lock when full: expired entries first, else the oldest."""
        now = self._clock()
        doomed = [t for t, e in self._entries.items() if e.expires_at <= now]
        if len(doomed) < len(self._entries) // 10:
            doomed += list(self._entries)[:len(self._entries) // 10 + 1]
        for token in doomed:
            self._entries.pop(token, None)

    # ---- domains ---------------------------------------------------------------------------

    def domain_projects(self, context: IdentityContext) -> tuple[ProjectInfo, ...]:
        """The projects a context's scope covers: every enabled project of its domain
        for a domain-scoped token (one call per domain, cached until a change notice
        says the domain's projects changed), its project for a project-scoped one,
        none otherwise (a system scope is a matter for policy)."""
        if context.project_id:
            return (ProjectInfo(context.project_id, context.project_name or "",
                                context.project_domain_id or "", context.project_domain_name or ""),)
        if not context.domain_id:
            return ()
        cached = self._domain_projects.get(context.domain_id)
        if cached is not None and self.connected:
            return cached
        live, generation = self.connected, self._generation
        self.stats["domain_project_calls"] += 1
        try:
            response = self._stub.ListDomainProjects(
                pb.ListDomainProjectsRequest(subject_token=context.token),
                metadata=self._metadata(), timeout=self._timeout)
        except grpc.RpcError as e:
            raise self._translate(e) from None
        projects = tuple(ProjectInfo(p.id, p.name, p.domain.id, p.domain.name, p.parent_id,
                                     p.description) for p in response.projects)
        with self._lock:
            if live and generation == self._generation and self.connected:
                self._domain_projects[response.domain.id] = projects
        return projects

    # ---- keys -------------------------------------------------------------------------------

    def _fetch_keys(self, throttled: bool = False) -> None:
        asked = time.monotonic()
        with self._key_lock:
            if self._last_key_fetch >= asked:
                return  # a fetch began after this one was asked for: it is as fresh
            now = time.monotonic()
            if throttled and now - self._last_key_fetch < self._key_refetch_interval:
                return
            self._last_key_fetch = now
            self.stats["key_fetches"] += 1
            try:
                response = self._stub.GetSigningKeys(pb.GetSigningKeysRequest(),
                                                     metadata=self._metadata(),
                                                     timeout=self._timeout)
            except grpc.RpcError as e:
                raise self._translate(e) from None
            keys = {}
            for key in response.keys:
                if key.algorithm == "Ed25519" and len(key.public_key) == 32:
                    keys[bytes.fromhex(key.key_id)] = Ed25519PublicKey.from_public_bytes(
                        key.public_key)
            retired = {k.hex() for k in set(self._keys) - set(keys)}
            self._keys = keys
            self.poll_interval = response.poll_interval
            self.token_lifetime = response.token_lifetime
            self.clock_skew_tolerance = response.clock_skew_tolerance
        if retired:  # a retired key revokes what it signed
            with self._lock:
                self._generation += 1
                self._entries = {t: e for t, e in self._entries.items()
                                 if e.key_id not in retired}

    # ---- following the service ---------------------------------------------------------

    def _watch(self) -> None:
        self._backoff = 0.05
        while not self._closed.is_set():
            try:
                call = self._stub.WatchRevocations(pb.WatchRevocationsRequest(),
                                                   metadata=self._metadata())
                self._quiet_deadline = time.monotonic() + max(self._timeout, 1.0)
                self._call = call
                if self._closed.is_set():
                    call.cancel()
                self._follow(call)
            except grpc.RpcError as e:
                if not self._closed.is_set():
                    log.info("revocation stream lost (%s): checking with the service "
                             "until it is back", e.code())
                    if e.code() == grpc.StatusCode.UNAUTHENTICATED and self._session is not None:
                        self._session.invalidate()
            except IdentityUnavailable as e:
                log.info("cannot watch revocations: %s", e)
            except Exception:
                log.exception("revocation stream failed")
            finally:
                self._live_until = 0.0
                self._call = None
            self._closed.wait(self._backoff * random.uniform(0.8, 1.2))
            self._backoff = min(self._backoff * 2, self._max_backoff)

    def _follow(self, call) -> None:
        """Apply a stream's messages: the snapshot once all its chunks are in (the
        index is trusted only from then on), then each notice."""
        snapshot = None  # the snapshot's index, while its chunks arrive
        for message in call:
            if message.snapshot:  # always the first message
                snapshot = RevocationList()
                self._snapshot_started(message)
            if snapshot is not None:
                for event in message.events:
                    snapshot.add(_revocation(event))
                if message.snapshot_continues:
                    self._quiet_deadline = time.monotonic() + max(self._timeout, 1.0)
                    continue  # not whole yet
                self._apply_snapshot(snapshot)
                snapshot = None
                self._backoff = 0.05
            else:
                self._apply(message)
            # Only now: what the message said is applied, the index is current.
            self._quiet_deadline = time.monotonic() + self._stale_after
            self._live_until = self._quiet_deadline

    def _snapshot_started(self, message: pb.WatchRevocationsResponse) -> None:
        if self._stale_after_setting is None and message.keepalive_interval > 0:
            self._stale_after = max(2.4 * message.keepalive_interval, 0.3)

    def _apply_snapshot(self, index: RevocationList) -> None:
        """The snapshot, once whole (every chunk of it), replaces what was known."""
        try:
            self._fetch_keys()  # keys may have changed while we were not listening
        except IdentityUnavailable as e:
            log.info("signing keys not refreshed: %s", e)
        with self._lock:
            self._generation += 1
            self._index = index
            # Changes went unheard while disconnected: forget what they may affect.
            self._entries = {}
            self._domain_projects = {}
        self.stats["snapshots"] += 1

    def _apply(self, message: pb.WatchRevocationsResponse) -> None:
        if not message.events and not message.changes:
            return  # keepalive
        self.stats["notices"] += 1
        for event in message.events:
            self._index.add(_revocation(event))
        for change in message.changes:
            self._changed(change.entity, change.entity_id)

    def _changed(self, entity: str, entity_id: str) -> None:
        if entity == "keys":
            try:
                self._fetch_keys()
            except IdentityUnavailable as e:
                log.info("signing keys not refreshed: %s", e)
            return
        if entity == "catalog":
            return  # nothing here comes from the catalog
        every = entity_id == "*"
        with self._lock:
            self._generation += 1
            if entity in ("domain", "domain_projects", "*"):
                if every:
                    self._domain_projects = {}
                else:
                    self._domain_projects.pop(entity_id, None)
                if entity == "domain_projects":
                    return
            keep = _survivor(entity, entity_id, every)
            self._entries = {t: e for t, e in self._entries.items() if keep(e)}

    def _watchdog(self) -> None:
        """Cuts a stream that went quiet (a dead peer need not close it), and prunes."""
        last_prune = time.monotonic()
        while not self._closed.wait(min(self._stale_after / 3, 0.2)):
            now = time.monotonic()
            call = self._call
            if call is not None and now >= self._quiet_deadline:
                log.info("revocation stream silent too long: reconnecting")
                call.cancel()
            if now - last_prune > 30:
                last_prune = now
                wall = self._clock()
                self._index.prune(wall)
                with self._lock:
                    self._entries = {t: e for t, e in self._entries.items()
                                     if e.expires_at > wall}


def _survivor(entity: str, entity_id: str, every: bool) -> Callable[[_Entry], bool]:
    """Which cached entries a change leaves alone: as few dropped as can be told from
    a token's own facts; otherwise (groups, roles, hierarchies, unknown kinds) all."""
    if entity == "user" and not every:
        return lambda e: e.context.user_id != entity_id
    if entity == "api_key" and not every:
        return lambda e: e.api_key_id != entity_id
    if entity == "domain" and not every:
        return lambda e: entity_id not in (e.context.user_domain_id, e.context.domain_id,
                                           e.context.project_domain_id)
    if entity in ("project", "project_children"):
        return lambda e: e.context.project_id is None  # ancestors are not known here
    return lambda e: False


def _placeholder(context: IdentityContext) -> TokenPayload:
    """A payload for a token the service vouched for but whose key is unknown here;
    such an entry is returned, never cached."""
    return TokenPayload(context.user_id, context.methods, context.scope_type,
                        context.project_id or context.domain_id, context.issued_at * 1000,
                        context.expires_at, context.audit_ids or ("",), context.api_key_id)
