"""Trusts (Keystone's OS-TRUST): a trustor delegates some of its roles on a project to
a trustee, who then gets tokens scoped to the project with those roles only, as
itself or (with impersonation) as the trustor.

A trust may limit how many tokens it issues (`remaining_uses`), expire, and allow
the trustee to delegate it further (`redelegation_count`, at most the
`trust_max_redelegation_count` setting deep). A token issued through a trust carries
the trust's id: each validation reads the trust chain again (cached, with the trust,
its users and roles as dependencies), so deleting the trust, disabling either user or
the trustor losing a delegated role ends its tokens at once, on every replica.
"""

import json
import time
from dataclasses import dataclass
from typing import Callable

from identity_api.changes import Kind

from .change_feed import Writer
from .errors import ForbiddenState, InvalidArgument, NotFound, PermissionDenied
from .records import RoleEntry, RoleRecord, TrustEntry, TrustRef, TrustRequest
from .store import Store
from .store.models import new_id
from .store.trusts import UsedUp
from .validation import check_id

Trust = object  # a row of the trust store's table, read here

# The user's effective roles on a project now; empty when it holds none there, or
# when the user or the project (or either's domain) is disabled.
RolesOn = Callable[[str, str], tuple[RoleRecord, ...]]


def role_ids_of(trust) -> list[str]:
    return json.loads(trust.role_ids or "[]")


def trust_ref(trust) -> TrustRef:
    return TrustRef(id=trust.id, impersonation=trust.impersonation,
                    trustor_user_id=trust.trustor_id, trustee_user_id=trust.trustee_id,
                    redelegation_count=trust.redelegation_count)


@dataclass(frozen=True, slots=True)
class Delegation:
    """What a trust-scoped token stands on: the trust, the user whose roles it
    delegates (the first trustor of a redelegation chain), the roles delegated, and
    every user of the chain (each must stay enabled)."""

    trust: TrustRef
    trustor_id: str
    role_ids: tuple[str, ...]
    user_ids: tuple[str, ...]


class Trusts:
    """Owns trusts; promises a trust never delegates more than its trustor holds on
    its project, nor a redelegation more than the trust it came from."""

    def __init__(self, store: Store, writer: Writer, roles_on: RolesOn, role_graph,
                 max_redelegation_count: int = 3, clock: Callable[[], float] = time.time):
        self._store = store
        self._writer = writer
        self._roles_on = roles_on
        self._role_graph = role_graph  # () -> assignments.RoleGraph, the roles by id
        self._max_depth = max_redelegation_count
        self._clock = clock

    # ---- reading ---------------------------------------------------------------

    def get(self, trust_id: str) -> Trust:
        """The trust; NotFound when it does not exist or has expired (as Keystone)."""
        if not trust_id:
            raise InvalidArgument("trust_id", "is required")
        check_id("trust_id", trust_id)
        row = self._store.trusts.find(trust_id)
        if row is None or self._expired(row):
            raise NotFound(f"Could not find trust: {trust_id}.")
        return row

    def entry(self, trust) -> TrustEntry:
        roles = self._role_graph().roles
        delegated = tuple(RoleEntry.of(roles[r]) for r in role_ids_of(trust) if r in roles)
        return TrustEntry(id=trust.id, trustor_user_id=trust.trustor_id,
                          trustee_user_id=trust.trustee_id, project_id=trust.project_id,
                          impersonation=trust.impersonation, roles=delegated,
                          expires_at=trust.expires_at, remaining_uses=trust.remaining_uses,
                          redelegation_count=trust.redelegation_count,
                          redelegated_trust_id=trust.redelegated_trust_id,
                          created_at=trust.created_at)

    def list_trusts(self, trustor_id: str = "", trustee_id: str = "", page_size: int = 0,
                    page_token: str = "") -> tuple[list[Trust], str]:
        """One page of the unexpired trusts, oldest first, of one trustor and/or
        trustee if named."""
        for field, value in (("trustor_user_id", trustor_id), ("trustee_user_id", trustee_id)):
            if value:
                check_id(field, value)
        return self._store.trusts.list_trusts(trustor_id, trustee_id, int(self._clock()),
                                              page_size, page_token)

    def role(self, trust, role_id: str) -> RoleEntry:
        """One of the roles the trust delegates; NotFound for any other."""
        check_id("role_id", role_id)
        roles = self._role_graph().roles
        if role_id not in role_ids_of(trust) or role_id not in roles:
            raise NotFound(f"Could not find role: {role_id}.")
        return RoleEntry.of(roles[role_id])

    def _expired(self, trust) -> bool:
        return trust.expires_at is not None and self._clock() >= trust.expires_at

    # ---- creating and deleting ---------------------------------------------------

    def create(self, request: TrustRequest, redelegated_from: str | None = None) -> Trust:
        """A new trust from the caller (the trustor: the transport's caller, checked by
        the operation). `redelegated_from`: the trust of the caller's trust-scoped
        token, which this one redelegates."""
        trustor, trustee = request.trustor_user_id, request.trustee_user_id
        for field, value in (("trustor_user_id", trustor), ("trustee_user_id", trustee)):
            if not value:
                raise InvalidArgument(field, "is required")
            check_id(field, value)
        if request.project_id:
            check_id("project_id", request.project_id)
        if request.remaining_uses is not None and request.remaining_uses <= 0:
            raise InvalidArgument("remaining_uses", "must be a positive integer or null")
        if request.redelegation_count is not None and request.redelegation_count < 0:
            raise InvalidArgument("redelegation_count", "must not be negative")
        now = int(self._clock())
        if request.expires_at is not None and request.expires_at <= now:
            raise InvalidArgument("expires_at", "The expiration date is in the past")
        if not self._store.users.exists(trustee):
            raise NotFound(f"Could not find user: {trustee}.")
        if not self._store.users.exists(trustor):  # an LDAP user's (docs/ldap.md)
            raise ForbiddenState("trusts are kept for the users of SQL domains only: "
                                 f"the trustor {trustor} is a directory (LDAP) user")
        role_ids = self._resolve_roles(request)
        parent = self.get(redelegated_from) if redelegated_from else None
        depth, expires_at = self._redelegation(request, parent, role_ids)
        self._check_held(request, parent, role_ids)
        trust_id = new_id()
        with self._writer.transaction() as tx:
            row = self._store.trusts.create(
                trust_id, trustor, trustee, request.project_id or None, json.dumps(role_ids), now,
                impersonation=request.impersonation, expires_at=expires_at,
                remaining_uses=request.remaining_uses, redelegation_count=depth,
                redelegated_trust_id=parent.id if parent else None)
            tx.changed(Kind.TRUST, trust_id)
        return row

    def _resolve_roles(self, request: TrustRequest) -> list[str]:
        if request.project_id and not request.roles:
            raise PermissionDenied("At least one role should be specified")
        if request.roles and not request.project_id:
            raise InvalidArgument("roles", "a trust without a project_id delegates no role")
        return self._role_graph().role_ids_named(request.roles)

    def _redelegation(self, request: TrustRequest, parent, role_ids: list[str]
                      ) -> tuple[int, int | None]:
        """How many further delegations the new trust allows, and its expiry."""
        requested = request.redelegation_count
        redelegatable = request.allow_redelegation and requested != 0
        if redelegatable:
            if requested is not None and requested > self._max_depth:
                raise PermissionDenied(f"Requested redelegation depth of {requested} is greater "
                                       f"than allowed {self._max_depth}")
            if request.remaining_uses is not None:
                raise InvalidArgument("remaining_uses",
                                      "must not be set if redelegation is allowed")
        expires_at = request.expires_at
        if parent is None:
            depth = (self._max_depth if requested is None else requested) if redelegatable else 0
            return depth, expires_at
        if not 0 < parent.redelegation_count <= self._max_depth:
            raise PermissionDenied("the trust of this token does not allow redelegation")
        remaining = parent.redelegation_count - 1
        if redelegatable and requested is not None and requested != remaining:
            raise PermissionDenied('Modifying "redelegation_count" upon redelegation is '
                                   'forbidden. Omitting this parameter is advised.')
        if request.remaining_uses is not None:
            raise PermissionDenied('Field "remaining_uses" must not be set in order to '
                                   'redelegate a trust')
        if (request.project_id or None) != parent.project_id:
            raise PermissionDenied("a redelegated trust is for its parent trust's project")
        if parent.expires_at is not None:
            if expires_at is not None and expires_at > parent.expires_at:
                raise PermissionDenied("Requested expiration time is more than redelegated "
                                       "trust can provide")
            expires_at = parent.expires_at if expires_at is None else expires_at
        if not set(role_ids) <= set(role_ids_of(parent)):
            raise PermissionDenied("Some of requested roles are not in redelegated trust")
        if request.impersonation and not parent.impersonation:
            raise PermissionDenied("Impersonation is not allowed because redelegated trust "
                                   "does not specify impersonation")
        return (remaining if redelegatable else 0), expires_at

    def _check_held(self, request: TrustRequest, parent, role_ids: list[str]) -> None:
        """The roles delegated are held on the project by the first trustor."""
        if not request.project_id:
            return
        if not self._store.resources.project_exists(request.project_id):
            raise NotFound(f"Could not find project: {request.project_id}.")
        trustor = request.trustor_user_id
        while parent is not None:
            trustor = parent.trustor_id
            parent = self._store.trusts.find(parent.redelegated_trust_id) \
                if parent.redelegated_trust_id else None
        held = {r.id for r in self._roles_on(trustor, request.project_id)}
        missing = [r for r in role_ids if r not in held]
        if missing:
            raise PermissionDenied("the trustor does not hold these roles on the project: "
                                   + ", ".join(missing))

    def delete(self, trust_id: str) -> None:
        """The trust and every trust redelegated from it; their tokens are refused
        from now on."""
        self.get(trust_id)
        doomed, pending = [], [trust_id]
        while pending:
            current = pending.pop()
            doomed.append(current)
            pending.extend(self._store.trusts.redelegated_from(current))
        with self._writer.transaction() as tx:
            if not self._store.trusts.delete(trust_id):
                raise NotFound(f"Could not find trust: {trust_id}.")
            for gone in doomed:
                tx.changed(Kind.TRUST, gone)

    # ---- tokens ------------------------------------------------------------------

    def for_token(self, trust_id: str, user_id: str) -> Trust:
        """The trust a user authenticating as `user_id` asks a token of: it must exist,
        be unexpired, have a use left, and have this user as its trustee."""
        if not trust_id:
            raise InvalidArgument("scope.OS-TRUST:trust.id", "is required")
        trust = self.get(trust_id)
        if trust.remaining_uses is not None and trust.remaining_uses <= 0:
            raise NotFound(f"Could not find trust: {trust_id}.")
        if trust.trustee_id != user_id:
            raise PermissionDenied("User is not a trustee.")
        return trust

    def spend_use(self, trust_id: str) -> None:
        """One token issued: one use fewer (NotFound once none is left)."""
        try:
            self._store.trusts.consume_use(trust_id)
        except UsedUp:
            raise NotFound(f"Could not find trust: {trust_id}.") from None

    def delegation(self, trust_id: str, token_user_id: str, scope_type: str,
                   scope_id: str | None, deps: set) -> "Delegation | str":
        """What a token issued through the trust stands on, or why it stands on
        nothing any more (a message). Adds the trusts of its chain to `deps`."""
        chain = []
        current = trust_id
        while current:
            deps.add((Kind.TRUST, current))
            row = self._store.trusts.find(current)
            if row is None:
                return "its trust has been deleted"
            if self._expired(row):
                return "its trust has expired"
            chain.append(row)
            if len(chain) > self._max_depth + 1:
                return "its trust's redelegation chain is too long"
            current = row.redelegated_trust_id
        trust = chain[0]
        user = trust.trustor_id if trust.impersonation else trust.trustee_id
        scope = ("project", trust.project_id) if trust.project_id else ("unscoped", None)
        if token_user_id != user or (scope_type, scope_id) != scope:
            return "it does not match its trust"
        users = sorted({u for t in chain for u in (t.trustor_id, t.trustee_id)})
        return Delegation(trust=trust_ref(trust), trustor_id=chain[-1].trustor_id,
                          role_ids=tuple(role_ids_of(trust)), user_ids=tuple(users))
