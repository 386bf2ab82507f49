"""What the verifier remembers from the service (each token's answer, a domain's
projects), and which change notices make it forget what."""

import threading
from typing import Callable

from identity_api.changes import EVERY, Kind
from identity_api.revocation import cutoff_keys
from identity_api.tokens import TokenPayload

from .context import IdentityContext, ProjectInfo
from .identity_service import IdentityService


class Entry:
    """A token checked once: its context, and what the local check needs."""

    __slots__ = ("context", "expires_at", "issued_at", "audit_id", "cutoff_keys",
                 "key_id", "api_key_id", "trust_id", "access_token_id", "users", "combos")

    def __init__(self, payload: TokenPayload, context: IdentityContext, key_id: str):
        self.context = context
        self.expires_at = payload.expires_at
        self.issued_at = payload.issued_at  # milliseconds, as cutoffs are
        self.audit_id = payload.audit_ids[0]
        self.cutoff_keys = cutoff_keys(payload, context.project_domain_id)
        self.key_id = key_id
        self.api_key_id = payload.api_key_id
        self.trust_id = payload.trust_id
        # Every user whose change may change the answer: a trust's trustor and trustee too.
        self.users = {context.user_id, context.trustor_user_id, context.trustee_user_id} - {None}
        self.access_token_id = payload.access_token_id  # an OAuth1 delegation's
        self.combos: dict[str, tuple[IdentityContext, IdentityContext]] = {}


class CachedFacts:
    """The caches, replaced whole by writers under `lock` (readers take none), and
    `generation`, bumped by every change notice, snapshot and key change: an answer
    asked for before a bump is not cached. `connected` tells whether revocations are
    being followed (nothing is cached, nor trusted, otherwise)."""

    def __init__(self, service: IdentityService, clock: Callable[[], float],
                 max_entries: int, stats: dict, connected: Callable[[], bool]):
        self._service = service
        self._clock = clock
        self._max_entries = max_entries
        self._stats = stats
        self._connected = connected
        self.lock = threading.Lock()
        self.entries: dict[str, Entry] = {}
        self.domain_projects: dict[str, tuple[ProjectInfo, ...]] = {}
        self.generation = 0

    # ---- tokens ----------------------------------------------------------------------

    def remember(self, token: str, entry: Entry, live: bool, generation: int) -> None:
        """Cache a token's entry, unless something changed since it was asked for."""
        with self.lock:
            if live and generation == self.generation and self._connected():
                if len(self.entries) >= self._max_entries:
                    self._evict()
                self.entries[token] = entry

    def _evict(self) -> None:
        """Called under the lock when full: expired entries first, else the oldest."""
        now = self._clock()
        doomed = [t for t, e in self.entries.items() if e.expires_at <= now]
        if len(doomed) < len(self.entries) // 10:
            doomed += list(self.entries)[:len(self.entries) // 10 + 1]
        for token in doomed:
            self.entries.pop(token, None)

    # ---- domains ---------------------------------------------------------------------

    def projects_of(self, context: IdentityContext) -> tuple[ProjectInfo, ...]:
        """The projects a context's scope covers: every enabled project of its domain
        for a domain-scoped token (one call per domain, cached until a change notice
        says the domain's projects changed), its project for a project-scoped one,
        none otherwise (a system scope is a matter for policy)."""
        if context.project_id:
            return (ProjectInfo(context.project_id, context.project_name or "",
                                context.project_domain_id or "", context.project_domain_name or ""),)
        if not context.domain_id:
            return ()
        cached = self.domain_projects.get(context.domain_id)
        if cached is not None and self._connected():
            return cached
        live, generation = self._connected(), self.generation
        self._stats["domain_project_calls"] += 1
        response = self._service.domain_projects(context.token)
        projects = tuple(ProjectInfo(p.id, p.name, p.domain.id, p.domain.name, p.parent_id,
                                     p.description) for p in response.projects)
        with self.lock:
            if live and generation == self.generation and self._connected():
                self.domain_projects[response.domain.id] = projects
        return projects

    # ---- forgetting ------------------------------------------------------------------

    def forget_signed_by(self, retired: set[str]) -> None:
        """A retired key revokes what it signed."""
        with self.lock:
            self.generation += 1
            self.entries = {t: e for t, e in self.entries.items()
                            if e.key_id not in retired}

    def forget_all(self) -> None:
        """Called under the lock on a snapshot: changes went unheard while
        disconnected, so forget what they may affect."""
        self.generation += 1
        self.entries = {}
        self.domain_projects = {}

    def forget_expired(self, wall: float) -> None:
        with self.lock:
            self.entries = {t: e for t, e in self.entries.items() if e.expires_at > wall}

    def changed(self, kind: Kind, entity_id: str) -> None:
        """A change notice other than the keys': drop what was computed from it."""
        if kind is Kind.CATALOG:
            return  # nothing here comes from the catalog
        every = entity_id == EVERY
        with self.lock:
            self.generation += 1
            if kind in (Kind.DOMAIN, Kind.DOMAIN_PROJECTS, Kind.ANYTHING):
                if every:
                    self.domain_projects = {}
                else:
                    self.domain_projects.pop(entity_id, None)
                if kind is Kind.DOMAIN_PROJECTS:
                    return
            keep = _survivor(kind, entity_id, every)
            self.entries = {t: e for t, e in self.entries.items() if keep(e)}


def _survivor(kind: Kind, entity_id: str, every: bool) -> Callable[[Entry], bool]:
    """Which cached entries a change leaves alone: as few dropped as can be told from
    a token's own facts; otherwise (groups, roles, hierarchies, unknown kinds) all."""
    if kind is Kind.USER and not every:
        return lambda e: entity_id not in e.users
    if kind is Kind.API_KEY and not every:
        return lambda e: e.api_key_id != entity_id
    if kind is Kind.TRUST and not every:
        return lambda e: e.trust_id != entity_id
    if kind is Kind.OAUTH1_TOKEN and not every:
        return lambda e: e.access_token_id != entity_id
    if kind in (Kind.OAUTH1_TOKEN, Kind.OAUTH1_CONSUMER):  # a token's consumer is not known here
        return lambda e: e.access_token_id is None
    if kind is Kind.DOMAIN and not every:
        return lambda e: entity_id not in (e.context.user_domain_id, e.context.domain_id,
                                           e.context.project_domain_id)
    if kind is Kind.DIRECTORY and not every:  # an LDAP domain's memberships went stale
        return lambda e: e.context.user_domain_id != entity_id
    if kind in (Kind.PROJECT, Kind.PROJECT_CHILDREN):
        return lambda e: e.context.project_id is None  # ancestors are not known here
    return lambda e: False
