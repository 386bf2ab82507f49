"""Roles, the roles they imply, and role assignments (tables Role, ImpliedRole,
RoleAssignment).

An assignment's actor and target are typed ids, not foreign keys (each may point
into one of two tables): whoever deletes an actor or a target removes its
assignments (`delete_of_actor`, `delete_on_target`). Actors are given as a list of
(actor type, id); targets as a list of (target type, id or list of ids, inherited or
None for either)."""

from contextlib import nullcontext

import peewee as pw

from ..errors import NotFound
from .base import Change, ConceptStore, present
from .paging import page
from .unique import refusing_clash

Actors = list[tuple[str, str]]
Targets = list[tuple[str, object, bool | None]]


class AssignmentStore(ConceptStore):
    pass

    # --- for users
    def delete_for_actor(self, actor_type: str, actor_id: str) -> int:
        """Remove every grant to the actor ("user" or "group"), as it is deleted."""
        A = self.t.RoleAssignment
        return A.delete().where((A.actor_type == actor_type) & (A.actor_id == actor_id)).execute()
    # ---- roles ---------------------------------------------------------------

    def find_role(self, name: str, domain_id: str = ""):
        """The role named `name`, global ("") or of domain `domain_id`."""
        Role = self.t.Role
        return Role.get_or_none((Role.domain_key == domain_id) & (Role.name == name))

    def get_role(self, role_id: str):
        Role = self.t.Role
        return present(Role.get_or_none(Role.id == role_id), f"role {role_id} not found")

    def all_roles(self) -> list:
        return list(self.t.Role.select())

    def roles_by_ids(self, role_ids) -> dict:
        """id -> row of the roles of `role_ids` that exist, in one query."""
        Role = self.t.Role
        ids = list(role_ids)
        return {row.id: row for row in Role.select().where(Role.id.in_(ids))} if ids else {}

    def role_ids_in_domain(self, domain_id: str) -> list[str]:
        Role = self.t.Role
        return [r.id for r in Role.select(Role.id).where(Role.domain == domain_id).order_by(Role.id)]

    def count_roles_in_domain(self, domain_id: str) -> int:
        Role = self.t.Role
        return Role.select().where(Role.domain == domain_id).count()

    def list_roles(self, name: str = "", domain_id: str = "", page_size: int = 0,
                   page_token: str = "") -> tuple[list, str]:
        """One page of the global roles ("") or of one domain's, by name."""
        Role = self.t.Role
        query = Role.select().where(Role.domain_key == domain_id)
        if name:
            query = query.where(Role.name == name)
        return page(query, (Role.name, Role.id), page_size, page_token)

    def create_role(self, name: str, description: str = "", domain_id: str = ""):
        where = f" in domain {domain_id}" if domain_id else ""
        with refusing_clash(f"a role named {name!r} already exists{where}"):
            return self.t.Role.create(name=name, description=description,
                                      domain=domain_id or None, domain_key=domain_id)

    def update_role(self, role_id: str, change: Change):
        """`change(row)` gives the fields to set (see `ConceptStore.update`)."""
        return self.update(self.t.Role, role_id, change, f"role {role_id} not found",
                           clash=lambda row, fields: f"a role named {fields.get('name')!r} "
                                                     "already exists")

    def delete_role(self, role_id: str) -> int:
        """Deletes the role with its assignments and implications; rows of Role
        deleted (0 or 1)."""
        Role, ImpliedRole, RoleAssignment = self.t.Role, self.t.ImpliedRole, self.t.RoleAssignment
        with nullcontext() if self.db.in_transaction() else self.db.atomic():
            RoleAssignment.delete().where(RoleAssignment.role == role_id).execute()
            ImpliedRole.delete().where((ImpliedRole.prior_role == role_id)
                                       | (ImpliedRole.implied_role == role_id)).execute()
            return Role.delete().where(Role.id == role_id).execute()

    def actors_holding(self, role_id: str) -> set[tuple[str, str]]:
        """(actor type, actor id) of everyone granted the role, anywhere: one query."""
        RoleAssignment = self.t.RoleAssignment
        rows = (RoleAssignment.select(RoleAssignment.actor_type, RoleAssignment.actor_id)
                .distinct().where(RoleAssignment.role == role_id).tuples())
        return set(rows)

    # ---- implied roles -------------------------------------------------------

    def implications(self, prior_role_id: str = "") -> list[tuple[str, str]]:
        """(prior role id, implied role id) of every implication, or of one prior
        role's."""
        ImpliedRole = self.t.ImpliedRole
        query = ImpliedRole.select()
        if prior_role_id:
            query = query.where(ImpliedRole.prior_role == prior_role_id)
        return [(e.prior_role_id, e.implied_role_id) for e in query]

    def add_implication(self, prior_role_id: str, implied_role_id: str) -> None:
        """Idempotent: an implication already there stays as it is."""
        ImpliedRole = self.t.ImpliedRole
        self._once(ImpliedRole.insert(prior_role=prior_role_id, implied_role=implied_role_id),
                   ImpliedRole.prior_role).execute()

    def remove_implication(self, prior_role_id: str, implied_role_id: str) -> None:
        ImpliedRole = self.t.ImpliedRole
        removed = ImpliedRole.delete().where((ImpliedRole.prior_role == prior_role_id)
                                             & (ImpliedRole.implied_role == implied_role_id)).execute()
        if not removed:
            raise NotFound("no such role implication")

    # ---- assignments ---------------------------------------------------------

    def grant(self, role_id: str, actor_type: str, actor_id: str, target_type: str,
              target_id: str, inherited: bool = False) -> None:
        """Idempotent: a grant already there stays as it is."""
        RoleAssignment = self.t.RoleAssignment
        self._once(RoleAssignment.insert(actor_type=actor_type, actor_id=actor_id,
                                         target_type=target_type, target_id=target_id,
                                         role=role_id, inherited=inherited),
                   RoleAssignment.role).execute()

    def revoke(self, role_id: str, actor_type: str, actor_id: str, target_type: str,
               target_id: str, inherited: bool = False) -> None:
        removed = self.t.RoleAssignment.delete().where(self._grant_is(
            role_id, actor_type, actor_id, target_type, target_id, inherited)).execute()
        if not removed:
            raise NotFound("no such role assignment")

    def has_grant(self, role_id: str, actor_type: str, actor_id: str, target_type: str,
                  target_id: str, inherited: bool = False) -> bool:
        return self.t.RoleAssignment.select().where(self._grant_is(
            role_id, actor_type, actor_id, target_type, target_id, inherited)).exists()

    def delete_on_target(self, target_type: str, target_id: str) -> int:
        """Deletes every assignment on the target; how many there were."""
        RoleAssignment = self.t.RoleAssignment
        return RoleAssignment.delete().where((RoleAssignment.target_type == target_type)
                                             & (RoleAssignment.target_id == target_id)).execute()

    def role_ids_held(self, actors: Actors, targets: Targets) -> set[str]:
        """Ids of the roles any of `actors` is granted on any of `targets`: one query."""
        RoleAssignment = self.t.RoleAssignment
        where = None
        for target in targets:
            where = self.on_target(*target) if where is None else where | self.on_target(*target)
        rows = RoleAssignment.select(RoleAssignment.role).where(where & self.any_actor(actors))
        return {a.role_id for a in rows}

    def target_ids(self, actors: Actors, target_type: str, inherited: bool = False) -> set[str]:
        """Ids of the targets of one type on which any of `actors` holds a role."""
        RoleAssignment = self.t.RoleAssignment
        rows = (RoleAssignment.select(RoleAssignment.target_id).distinct()
                .where((RoleAssignment.target_type == target_type)
                       & (RoleAssignment.inherited == inherited) & self.any_actor(actors)))
        return {r.target_id for r in rows}

    def grants_held(self, actors: Actors) -> list[tuple[str, str, str]]:
        """(target type, target id, role id) of every grant to any of `actors`."""
        RoleAssignment = self.t.RoleAssignment
        rows = (RoleAssignment.select(RoleAssignment.target_type, RoleAssignment.target_id,
                                      RoleAssignment.role).where(self.any_actor(actors)))
        return [(r.target_type, r.target_id, r.role_id) for r in rows]

    # ---- listing assignments in key order (`assignment_pages`) ------------------

    def base_key(self) -> tuple:
        """The order assignments are listed in, unique: actor, target, inherited, role."""
        RoleAssignment = self.t.RoleAssignment
        return (RoleAssignment.actor_type, RoleAssignment.actor_id, RoleAssignment.target_type,
                RoleAssignment.target_id, RoleAssignment.inherited, RoleAssignment.role)

    def grants_in_key_order(self, actors: Actors | None, targets: Targets | None,
                            role_ids: str | list[str] | None, after: tuple | None, inclusive: bool,
                            limit: int) -> list:
        """Up to `limit` assignments (their `base_key` columns) in `base_key` order,
        of any of `actors`, on any of `targets`, of the role (a str) or any of the
        roles `role_ids` (None: no such filter), from after the key `after` on (None: the first; `inclusive`: that
        one included)."""
        RoleAssignment, key = self.t.RoleAssignment, self.base_key()
        rows = RoleAssignment.select(*key)
        if actors is not None:
            rows = rows.where(self.any_actor(actors))
        if targets is not None:
            where = None
            for target in targets:
                where = self.on_target(*target) if where is None else where | self.on_target(*target)
            rows = rows.where(where)
        if isinstance(role_ids, str):
            rows = rows.where(RoleAssignment.role == role_ids)
        elif role_ids is not None:
            rows = rows.where(RoleAssignment.role.in_(role_ids))
        if after is not None:
            rows = rows.where(self._tuple(key) >= self._tuple(after) if inclusive
                              else self._tuple(key) > self._tuple(after))
        return list(rows.order_by(*key).limit(limit))

    def roles_beside(self, grant) -> list[str]:
        """Role ids of the grants with the same actor, target and inheritance as
        `grant` and a lower role id: the ones before it in `base_key` order."""
        RoleAssignment = self.t.RoleAssignment
        rows = RoleAssignment.select(RoleAssignment.role).where(
            (RoleAssignment.actor_type == grant.actor_type)
            & (RoleAssignment.actor_id == grant.actor_id)
            & (RoleAssignment.target_type == grant.target_type)
            & (RoleAssignment.target_id == grant.target_id)
            & (RoleAssignment.inherited == bool(grant.inherited))
            & (RoleAssignment.role < grant.role_id))
        return [row.role_id for row in rows]

    # ---- conditions ----------------------------------------------------------

    def _once(self, insert, column):
        """`insert`, doing nothing when the row is there already. MariaDB's INSERT
        IGNORE would also swallow a missing role (a foreign key), which the other
        backends refuse: there a no-op ON DUPLICATE KEY UPDATE keeps the refusal."""
        if isinstance(getattr(self.db, "obj", self.db), pw.MySQLDatabase):
            return insert.on_conflict(update={column: column})
        return insert.on_conflict_ignore()

    @staticmethod
    def _tuple(values):
        return pw.Tuple(*values)

    def on_target(self, target_type: str, target_id, inherited: bool | None):
        RoleAssignment = self.t.RoleAssignment
        where = RoleAssignment.target_type == target_type
        if isinstance(target_id, list):
            where &= RoleAssignment.target_id.in_(target_id)
        else:
            where &= RoleAssignment.target_id == target_id
        if inherited is not None:
            where &= RoleAssignment.inherited == inherited
        return where

    def any_actor(self, actors: Actors):
        RoleAssignment = self.t.RoleAssignment
        users = [i for t, i in actors if t == "user"]
        groups = [i for t, i in actors if t == "group"]
        where = None
        for actor_type, ids in (("user", users), ("group", groups)):
            if ids:
                clause = (RoleAssignment.actor_type == actor_type) & RoleAssignment.actor_id.in_(ids)
                where = clause if where is None else where | clause
        return where

    def _grant_is(self, role_id, actor_type, actor_id, target_type, target_id, inherited):
        RoleAssignment = self.t.RoleAssignment
        return ((RoleAssignment.actor_type == actor_type) & (RoleAssignment.actor_id == actor_id)
                & (RoleAssignment.role == role_id) & (RoleAssignment.inherited == inherited)
                & (RoleAssignment.target_type == target_type)
                & (RoleAssignment.target_id == target_id))
