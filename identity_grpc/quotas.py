"""Per-domain quotas: how many users, groups and projects one domain may hold.

A domain admin may create users, groups and projects in its domain; without a bound
one of them can fill the store. Each quota is a setting (`max_users_per_domain`,
`max_groups_per_domain`, `max_projects_per_domain`; 0, the default, is no limit),
checked by the core's create paths, so that both transports enforce it alike.

The check is exact under concurrency, across replicas too: it runs inside the
creating transaction, after locking the domain's row (SELECT ... FOR UPDATE on
PostgreSQL and MariaDB/MySQL; SQLite transactions here are IMMEDIATE and so hold
the store's write lock already), then counts and inserts. Two creates racing for
the last place are serialized on that lock: the second counts the first's row, and
is refused. The lock is taken only when a quota is set.

Over quota is ResourceExhausted (gRPC RESOURCE_EXHAUSTED, HTTP 429 without
Retry-After: waiting does not help, removing something or raising the quota does),
naming the quota.
"""

from dataclasses import dataclass

from .errors import ResourceExhausted
from .store import Store

# How many of each kind a domain holds, as its concept's store counts them.
_HELD = {"users": lambda store, domain_id: store.users.count_in_domain(domain_id),
         "groups": lambda store, domain_id: store.groups.count_in_domain(domain_id),
         "projects": lambda store, domain_id: store.resources.count_projects_in_domain(domain_id)}


@dataclass(frozen=True)
class DomainQuotas:
    """Owns how many users, groups and projects one domain may hold; promises the limit
    holds under concurrent creates."""

    users: int = 0
    groups: int = 0
    projects: int = 0

    @classmethod
    def from_settings(cls, settings) -> "DomainQuotas":
        return cls(users=settings.max_users_per_domain, groups=settings.max_groups_per_domain,
                   projects=settings.max_projects_per_domain)

    def check(self, kind: str, domain_id: str, store: Store) -> None:
        """Refuse one more of `kind` ("users", "groups", "projects") in the domain if
        that would pass its quota. Call it inside the transaction that creates it, on
        the store that transaction writes to."""
        limit = getattr(self, kind)
        if not limit:
            return
        if not store.db.in_transaction():
            raise RuntimeError("a quota is checked inside the creating transaction")
        store.resources.lock_domain(domain_id)
        held = _HELD[kind](store, domain_id)
        if held >= limit:
            raise ResourceExhausted(
                f"domain {domain_id} already holds {held} {kind}, its quota "
                f"(max_{kind}_per_domain = {limit}): delete some or ask for a higher quota")

