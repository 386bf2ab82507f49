"""Listing role assignments one page at a time, effective lists included.

An effective list shows what tokens would carry, and one stored grant can stand for
a great many rows: a group of 300 members holding, by inheritance on a domain of 300
projects, a role that implies three others is 360,000 rows. So nothing here builds
a whole list. The stored grants (the *base* rows, in `AssignmentStore.base_key`
order) are read a page at a time, and each expands lazily into the product, in this
order, of

* its actors: the user or group it names; in an effective list a group's members
  (by user id), or only the user a `user_id` filter names;
* its targets: the project, domain or system it names; in an effective list an
  inherited grant's reach (by project id): every project of its domain, or every
  project below its project, or only the project a `project_id` filter names;
* its roles: the role; in an effective list with every role it implies (by role id),
  less those an earlier grant of the same actor on the same target already gives
  with the same prior role (admin and member granted together show "reader,
  implied by member" once).

A page token is the position of the last row given (the base row's key, then the
member, project and role within its expansion) and a fingerprint of the filters.
The next page continues after it with keyset queries (members and projects from the
position on, LIMIT the room left on the page), so a page costs about its size however
deep it is: a handful of queries and at most page_size + 2 rows read of each kind. A
page also stops after page_size + 2 base rows, even when grants with nothing to
expand into (a group without members) left it short: it may then hold fewer rows
than asked for, or none, with a token to go on.
"""

import hashlib
from dataclasses import dataclass

from .errors import InvalidArgument
from .resources import MAX_PROJECT_DEPTH
from .store import Store
from .store.models import SYSTEM_TARGET
from .store.paging import BOOL, decode, encode, page_size_of

# The base rows are read in `AssignmentStore.base_key` order: actor type, actor id,
# target type, target id, inherited, role.
# fingerprint, the base key, member, project, role, and whether the base row is done
TOKEN_KINDS = [16, 8, 64, 8, 64, BOOL, 64, 64, 64, 64, BOOL]


@dataclass(frozen=True, slots=True)
class Assignment:
    role_id: str
    actor_type: str
    actor_id: str
    target_type: str
    target_id: str
    inherited: bool = False
    via_group_id: str = ""
    implied_by_role_id: str = ""


@dataclass(frozen=True)
class AssignmentQuery:
    """The filters of one list; every one given must match."""

    user_id: str = ""
    group_id: str = ""
    project_id: str = ""
    domain_id: str = ""
    system: bool = False
    role_id: str = ""
    effective: bool = False

    def fingerprint(self) -> str:
        """Ties a page token to the filters it was given out for."""
        return hashlib.blake2s(repr(self).encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class _Cursor:
    base: tuple            # base key values of the last base row looked at
    position: tuple        # (member, project, role) of the last row given in it
    done: bool             # that base row has nothing more


def list_page(store: Store, query: AssignmentQuery, graph, resources, page_size: int,
              page_token: str) -> tuple[list[Assignment], str]:
    """One page of the assignments matching `query` and the next page's token ("" on
    the last page). `graph` is the RoleGraph; `resources` the Resources manager,
    which finds a project's ancestors for an effective list on a project."""
    if query.effective and query.group_id:
        raise InvalidArgument("group_id", "cannot be combined with effective")
    size = page_size_of(page_size)
    cursor = _decode(page_token, query) if page_token else None
    want = size + 1  # one more than the page, to know whether there is a next one
    budget = want + 1  # the resumed base row may have nothing left to give
    base = _base_rows(store, query, graph, resources, cursor, budget)
    rows: list[tuple[tuple, tuple, Assignment]] = []
    earlier = _Siblings(store, graph)
    examined = 0
    last = None
    for grant in base:
        examined, last = examined + 1, grant
        resume = cursor.position if cursor and not cursor.done and _key(grant) == cursor.base else None
        roles = earlier.roles_of(grant, query)
        rows += _expand(store, grant, query, roles, resume, want - len(rows))
        if len(rows) >= want:
            last_base, last_position, _ = rows[size - 1]
            return [a for _, _, a in rows[:size]], _encode(query, last_base, last_position, False)
    if examined == budget and last is not None:  # stopped short: more grants may follow
        return [a for _, _, a in rows], _encode(query, _key(last), ("", "", ""), True)
    return [a for _, _, a in rows], ""


# ---- the stored grants ------------------------------------------------------------

def _base_rows(store: Store, query: AssignmentQuery, graph, resources,
               cursor: "_Cursor | None", limit: int) -> list:
    """Up to `limit` stored grants matching `query`, in key order from the cursor's."""
    actors = None
    if query.user_id:
        actors = [("user", query.user_id)]
        if query.effective:
            actors += [("group", g) for g in store.groups.group_ids_of(query.user_id)]
    elif query.group_id:
        actors = [("group", query.group_id)]
    targets = _target_filter(query, resources)
    role_ids = None
    if query.role_id:
        if not query.effective:
            role_ids = query.role_id
        else:  # the grants of a role that is, or implies, the one asked for
            role_ids = [r for r in graph.roles if query.role_id in graph.closure([r])] or [""]
    after, inclusive = (None, False) if cursor is None else (cursor.base, not cursor.done)
    return store.assignments.grants_in_key_order(actors, targets, role_ids, after, inclusive,
                                                 limit)


def _target_filter(query: AssignmentQuery, resources) -> list | None:
    """The targets of `AssignmentStore.grants_in_key_order` (None: any)."""
    if query.project_id:
        if not query.effective:
            return [("project", query.project_id, None)]
        targets = [("project", query.project_id, False)]
        project = resources.get_project(query.project_id)  # grants inherited from above
        above = [p.id for p in resources.ancestors(project)]
        if above:
            targets.append(("project", above, True))
        return targets + [("domain", project.domain_id, True)]
    if query.domain_id:
        return [("domain", query.domain_id, None)]
    if query.system:
        return [("system", SYSTEM_TARGET, None)]
    return None


def _key(grant) -> tuple:
    return (grant.actor_type, grant.actor_id, grant.target_type, grant.target_id,
            bool(grant.inherited), grant.role_id)


class _Siblings:
    """The roles an earlier grant of the same actor on the same target (same key but
    for the role) already gives, so that a role two grants imply alike is listed
    once. Siblings are neighbours in base key order, so only the first grant of a
    page asks the store for those before the page. (With a role filter the base rows
    skip grants that cannot give that role, and so can hide no duplicate of it.)"""

    def __init__(self, store: Store, graph):
        self._store = store
        self._graph = graph
        self._prefix = None
        self._first = True
        self._given: set[tuple[str, str]] = set()

    def roles_of(self, grant, query: AssignmentQuery) -> list[tuple[str, str]]:
        """(role, implied by) pairs the grant gives, in role id order."""
        if not query.effective:
            return [(grant.role_id, "")]
        closure = self._graph.closure([grant.role_id])
        prefix = _key(grant)[:5]
        if prefix != self._prefix:
            self._prefix, self._given = prefix, set()
            first, self._first = self._first, False
            if first:
                for role_id in self._store.assignments.roles_beside(grant):
                    self._given |= set(self._graph.closure([role_id]).items())
        pairs = [p for p in sorted(closure.items()) if p not in self._given
                 and not self._domain_specific(p[0])]  # never in a token: only what it implies
        self._given |= set(closure.items())
        if query.role_id:
            pairs = [p for p in pairs if p[0] == query.role_id]
        return pairs


    def _domain_specific(self, role_id: str) -> bool:
        return bool(getattr(self._graph.roles.get(role_id), "domain_id", None))


# ---- expanding one grant ------------------------------------------------------------

def _expand(store: Store, grant, query: AssignmentQuery, roles: list[tuple[str, str]], resume: tuple | None,
            limit: int) -> list[tuple[tuple, tuple, Assignment]]:
    """Up to `limit` rows of the grant's expansion after position `resume` (None:
    from its start), each as (base key, position, row)."""
    if not roles or limit <= 0:
        return []
    member_after, project_after, role_after = resume or (None, None, None)
    out: list = []
    fresh_targets = None  # the same for every actor: read once
    for member in _members(store, grant, query, member_after, limit + 1):
        resuming = resume is not None and member == member_after
        if resuming:
            targets = _targets(store, grant, query, project_after, limit + 1 - len(out))
        else:
            if fresh_targets is None:
                fresh_targets = _targets(store, grant, query, None, limit + 1 - len(out))
                if not fresh_targets:
                    return out  # it reaches no project: nothing for any member
            targets = fresh_targets
        for target in targets:
            for role, by in roles:
                if resuming and target == project_after and role <= role_after:
                    continue
                out.append((_key(grant), (member, target, role),
                            _row(grant, member, target, role, by)))
                if len(out) >= limit:
                    return out
    return out


def _members(store: Store, grant, query: AssignmentQuery, start: str | None,
             limit: int) -> list[str]:
    """The users a grant's actor stands for, by id from `start` on; [""] for the
    actor itself."""
    if not (query.effective and grant.actor_type == "group"):
        return [""]
    if query.user_id:
        return [query.user_id]
    return store.groups.member_ids_from(grant.actor_id, start, limit)


def _targets(store: Store, grant, query: AssignmentQuery, start: str | None,
             limit: int) -> list[str]:
    """The projects an inherited grant reaches, by id from `start` on; [""] for the
    grant's target itself."""
    if not (query.effective and grant.inherited):
        return [""]
    if query.project_id:
        return [query.project_id]
    if grant.target_type == "domain":
        return store.resources.project_ids_from(start, limit, domain_id=grant.target_id)
    return store.resources.project_ids_from(start, limit, below=grant.target_id,
                                            max_depth=MAX_PROJECT_DEPTH)


def _row(grant, member: str, target: str, role: str, by: str) -> Assignment:
    actor = ("user", member, grant.actor_id) if member else (grant.actor_type, grant.actor_id, "")
    scope = ("project", target) if target else (grant.target_type, grant.target_id)
    return Assignment(role, actor[0], actor[1], scope[0], scope[1], bool(grant.inherited),
                      via_group_id=actor[2], implied_by_role_id=by)


# ---- tokens -----------------------------------------------------------------------

def _encode(query: AssignmentQuery, base: tuple, position: tuple, done: bool) -> str:
    return encode([query.fingerprint(), *base, *position, done])


def _decode(token: str, query: AssignmentQuery) -> _Cursor:
    values = decode(token, TOKEN_KINDS)
    if values[0] != query.fingerprint():
        raise InvalidArgument("page_token", "belongs to a list with other filters")
    return _Cursor(base=tuple(values[1:7]), position=tuple(values[7:10]), done=values[10])

