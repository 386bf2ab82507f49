"""The shape of a generated deployment: every row as a function of its index.

`identity-manage generate` (see `generate`) streams these rows into a store. Each
entity's id and name follow from its index and the seed alone, so any row can name
any other entity (an assignment names user 812 345 and project 4 567) without a
million-entry table of ids in memory, the same seed gives the same store, and a
benchmark finds things by name:

* domain i is `gen-domain-{i:05d}`; project, user and group i (`gen-project-{i:07d}`,
  `gen-user-{i:08d}`, `gen-group-{i:06d}`) live in domain `i % domains`;
* within a domain, projects come in families of `FAMILY`: the first of each is a
  top-level project, the next four are its children, so that inheritance down the
  hierarchy and the ancestor lookups of validation have something to do;
* ids are 32 hex digits like the service's own uuid4 ids, derived by hashing
  (seed, kind, index).

User 0 is the *probe user* and groups 0 and 1 are its groups, with the same small
shape at every size (`probe_assignments`), so that what it sees (five projects, one
domain) does not grow with the store; random rows never touch them. Every other
user and group gets a share of the assignments and memberships, spread evenly, on
targets drawn (seeded random) from its own domain.
"""

import hashlib
import random
from dataclasses import dataclass
from typing import Iterator

FAMILY = 5  # projects per family: one parent and its four children
GROUP_SHARE = 0.1  # of the assignments held by groups (the rest by users)
PROBE_USER = 0
PROBE_GROUPS = (0, 1)
MIN_ASSIGNMENTS, MIN_MEMBERSHIPS = 7, 2  # what the probe user and its groups hold


@dataclass(frozen=True)
class Sizes:
    users: int = 1_000_000
    projects: int = 100_000
    domains: int = 1_000
    groups: int = 10_000
    assignments: int = 3_000_000
    memberships: int = 1_000_000

    def problems(self) -> list[str]:
        """Why these sizes cannot hold the probe user's shape ([] if they can)."""
        wanted = [("--domains", self.domains, 1), ("--users", self.users, 1),
                  ("--groups", self.groups, len(PROBE_GROUPS)),
                  ("--projects", self.projects, 6 * self.domains),
                  ("--assignments", self.assignments, MIN_ASSIGNMENTS),
                  ("--memberships", self.memberships, MIN_MEMBERSHIPS)]
        return [f"{flag} must be at least {least} (it is {value})"
                for flag, value, least in wanted if value < least]


SIZES = {"large": Sizes(), "small": Sizes(users=1_000, projects=100, domains=10, groups=10,
                                          assignments=3_000, memberships=1_000)}


def domain_name(i: int) -> str:
    return f"gen-domain-{i:05d}"


def project_name(i: int) -> str:
    return f"gen-project-{i:07d}"


def user_name(i: int) -> str:
    return f"gen-user-{i:08d}"


def group_name(i: int) -> str:
    return f"gen-group-{i:06d}"


def share(total: int, parts: int, i: int) -> int:
    """Part i of `total` split evenly into `parts` whole numbers (they sum to total)."""
    return (i + 1) * total // parts - i * total // parts


class Shape:
    """The deployment for one set of sizes and one seed."""

    def __init__(self, sizes: Sizes, seed: int = 1):
        self.sizes = sizes
        self.seed = seed

    # ---- naming ------------------------------------------------------------

    def id(self, kind: str, i: int) -> str:
        return hashlib.blake2b(f"{self.seed}:{kind}:{i}".encode(), digest_size=16).hexdigest()

    def project(self, domain: int, k: int) -> int:
        """The index of the k-th project of a domain."""
        return domain + self.sizes.domains * k

    def in_domain(self, total: int, domain: int) -> int:
        """How many of `total` entities (dealt round-robin) fall in `domain`."""
        return max(0, (total - domain + self.sizes.domains - 1) // self.sizes.domains)

    def parent(self, i: int) -> int | None:
        domain, k = i % self.sizes.domains, i // self.sizes.domains
        return None if k % FAMILY == 0 else self.project(domain, k - k % FAMILY)

    # ---- rows, in the column order of `generate.COLUMNS` -------------------

    def domains(self) -> Iterator[tuple]:
        for i in range(self.sizes.domains):
            yield self.id("domain", i), domain_name(i), "", True

    def projects(self) -> Iterator[tuple]:
        d = self.sizes.domains
        for i in range(self.sizes.projects):
            parent = self.parent(i)
            yield (self.id("project", i), project_name(i), self.id("domain", i % d),
                   None if parent is None else self.id("project", parent), False, "", True)

    def groups(self) -> Iterator[tuple]:
        for i in range(self.sizes.groups):
            yield self.id("group", i), group_name(i), self.id("domain", i % self.sizes.domains), ""

    def users(self, created_at: int) -> Iterator[tuple]:
        for i in range(self.sizes.users):
            yield (self.id("user", i), user_name(i), self.id("domain", i % self.sizes.domains),
                   "", "", True, None, created_at, "{}", 0, None, "{}")

    def passwords(self, hash: str, created_at: int, expires_at: int | None) -> Iterator[tuple]:
        for i in range(self.sizes.users):
            yield self.id("user", i), hash, created_at, expires_at

    def memberships(self) -> Iterator[tuple]:
        """The probe's two, then the rest spread over the other users, each joining
        distinct groups of its own domain."""
        for g in PROBE_GROUPS:
            yield self.id("user", PROBE_USER), self.id("group", g)
        rng = random.Random(f"{self.seed}:memberships")
        users, total = self.sizes.users - 1, self.sizes.memberships - len(PROBE_GROUPS)
        carry = 0
        for n in range(users):
            u = n + 1
            domain = u % self.sizes.domains
            pool = self.in_domain(self.sizes.groups, domain)
            wanted = share(total, users, n) + carry
            take = min(wanted, pool)
            carry = wanted - take
            for j in rng.sample(range(pool), take):
                yield self.id("user", u), self.id("group", domain + self.sizes.domains * j)

    def assignments(self, roles: dict[str, str]) -> Iterator[tuple]:
        """(actor_type, actor_id, target_type, target_id, role_id, inherited) rows:
        the probe's, then the groups' share, then the users'. `roles` maps admin,
        member and reader to their ids."""
        yield from self.probe_assignments(roles)
        rng = random.Random(f"{self.seed}:assignments")
        made = [0]
        others = self.sizes.groups - len(PROBE_GROUPS)
        group_total = int(self.sizes.assignments * GROUP_SHARE) if others > 0 else 0
        yield from self._spread("group", range(len(PROBE_GROUPS), self.sizes.groups),
                                group_total, roles, rng, made)
        user_total = self.sizes.assignments - MIN_ASSIGNMENTS - made[0]
        yield from self._spread("user", range(1, self.sizes.users), user_total, roles, rng, made)

    def probe_assignments(self, roles: dict[str, str]) -> list[tuple]:
        """User 0: member on projects 1-3 of domain 0, reader inherited from their
        parent (project 0, which reaches projects 1-4), reader on domain 0; group 0:
        member on project 4 of domain 0; group 1: member on project 5 of its domain.
        ListProjects: those five projects, whatever the size of the store."""
        user, d = self.id("user", PROBE_USER), self.sizes.domains
        rows = [("user", user, "project", self.id("project", self.project(0, k)),
                 roles["member"], False) for k in (1, 2, 3)]
        rows.append(("user", user, "project", self.id("project", self.project(0, 0)),
                     roles["reader"], True))
        rows.append(("user", user, "domain", self.id("domain", 0), roles["reader"], False))
        for g, k in zip(PROBE_GROUPS, (4, 5)):
            rows.append(("group", self.id("group", g), "project",
                         self.id("project", self.project(g % d, k)), roles["member"], False))
        return rows

    def _spread(self, kind: str, actors: range, total: int, roles: dict[str, str],
                rng: random.Random, made: list[int]) -> Iterator[tuple]:
        """`total` assignments spread evenly over `actors`, each on distinct targets of
        the actor's domain (its projects, or the domain itself). An actor whose domain
        has fewer targets than its share passes the rest on to the next one."""
        carry, parts = 0, len(actors)
        for n, i in enumerate(actors):
            domain = i % self.sizes.domains
            projects = self.in_domain(self.sizes.projects, domain)
            wanted = share(total, parts, n) + carry
            take = min(wanted, projects + 1)
            carry = wanted - take
            actor = self.id(kind, i)
            for slot in rng.sample(range(projects + 1), take):
                made[0] += 1
                if slot == projects:  # the domain itself: some admins, some inherited
                    role = rng.choice(("admin", "member", "reader"))
                    yield (kind, actor, "domain", self.id("domain", domain), roles[role],
                           rng.random() < 0.2)
                    continue
                role = "member" if rng.random() < 0.7 else "reader"
                inherited = slot % FAMILY == 0 and rng.random() < 0.2  # a parent project
                yield (kind, actor, "project", self.id("project", self.project(domain, slot)),
                       roles[role], inherited)
