"""Operations on role assignments: grant, check, revoke, query."""

from __future__ import annotations

from ..assignments import Assignment, AssignmentQuery
from ..errors import InvalidArgument
from ..records import RoleEntry, TokenInfo
from .audited import audited
from .base import Ops, read_pages
from .reach import cloud_wide

# What a grant's audit event shows of it: who, on what, inherited or not.
GRANT_DETAILS = ("target_type", "target_id", "user_id", "group_id", "inherited")


class AssignmentOps(Ops):
    def _target(self, target_type: str, target_id: str, user_id: str, group_id: str) -> dict:
        """What grant rules look at: the target's domain and the actor's domain."""
        resources, identity = self.core.resources, self.core.users_and_groups
        if target_type == "project":
            domain_id = resources.get_project(target_id).domain_id
        elif target_type == "domain":
            domain_id = resources.get_domain(target_id).id
        elif target_type == "system":
            domain_id = None
        else:
            raise InvalidArgument("target", "must be a project, a domain or the system")
        if bool(user_id) == bool(group_id):
            raise InvalidArgument("actor", "exactly one of user_id and group_id is required")
        actor = identity.get_user(user_id) if user_id else identity.get_group(group_id)
        return {"domain_id": domain_id, "actor_domain_id": actor.domain_id,
                "project_id": target_id if target_type == "project" else None,
                "user_id": user_id or None}

    @audited("created.role_assignment", id_arg="role_id", details=GRANT_DETAILS)
    def grant(self, caller: TokenInfo, role_id: str, **grant) -> None:
        self.enforce("grant_role", caller, **self._grant_target(grant, caller, role_id))
        self.core.assignments.grant(role_id, **grant)

    def check(self, caller: TokenInfo, role_id: str, **grant) -> bool:
        self.enforce("check_grant", caller, **self._grant_target(grant))
        return self.core.assignments.has_grant(role_id, **grant)

    @audited("deleted.role_assignment", id_arg="role_id", details=GRANT_DETAILS)
    def revoke(self, caller: TokenInfo, role_id: str, **grant) -> None:
        self.enforce("revoke_role", caller, **self._grant_target(grant, caller, role_id))
        self.core.assignments.revoke(role_id, **grant)

    def _grant_target(self, grant: dict, caller: TokenInfo | None = None,
                      role_id: str = "") -> dict:
        """With a caller and role, also whether the role is cloud-wide (`service`, or
        power past the scope it is granted on that the caller has not got itself): a
        domain admin granting or taking one away would be deciding for the whole cloud."""
        target = self._target(grant["target_type"], grant["target_id"], grant.get("user_id", ""),
                              grant.get("group_id", ""))
        if caller is not None:
            target["cloud_wide"] = cloud_wide(self.core, caller, [role_id])
        return target

    def list(self, caller: TokenInfo, *, user_id: str = "", group_id: str = "",
             project_id: str = "", domain_id: str = "", system: bool = False, role_id: str = "",
             effective: bool = False, inherited_only: bool = False, page_size: int = 0,
             page_token: str = "") -> tuple[list[Assignment], str]:
        """One page; `inherited_only` keeps the inherited grants (Keystone's
        `scope.OS-INHERIT:inherited_to=projects`), so a page may come out short."""
        scope_domain = domain_id
        if project_id:
            scope_domain = self.core.resources.get_project(project_id).domain_id
        self.enforce("list_role_assignments", caller, domain_id=scope_domain or None,
                     project_id=project_id or None, user_id=user_id or None)
        query = AssignmentQuery(user_id=user_id, group_id=group_id, project_id=project_id,
                                domain_id=domain_id, system=system, role_id=role_id,
                                effective=effective)
        rows, token = self.core.assignments.list_assignments(query, self.core.resources,
                                                             page_size, page_token)
        if inherited_only:
            rows = [a for a in rows if a.inherited]
        return rows, token

    def list_in_subtree(self, caller: TokenInfo, project_id: str, limit: int | None = None,
                        **filters) -> tuple[list[Assignment], bool]:
        """The assignments on a project and on every project below it (Keystone's
        `include_subtree`), at most `limit` of them (default: the `list_limit`
        setting), and whether any were left out. Reading the subtree is its own rule
        (`list_project_subtree`), and each project's assignments their usual one."""
        if not project_id:
            raise InvalidArgument("include_subtree", "needs scope.project.id")
        limit = self.core.settings.list_limit if limit is None else limit
        project = self.core.resources.get_project(project_id)
        self.enforce("list_project_subtree", caller, project_id=project.id,
                     domain_id=project.domain_id)
        project_ids = [project.id] + [p.id for p in self.core.resources.subtree(project.id, limit)]
        rows, truncated = [], len(project_ids) > limit
        for p in project_ids[:limit]:
            more, cut = read_pages(self.list, caller, limit - len(rows), project_id=p, **filters)
            rows += more
            if cut:
                return rows, True
        return rows, truncated

    def granted_roles(self, caller: TokenInfo, *, target_type: str, target_id: str,
                      inherited: bool, limit: int, user_id: str = "",
                      group_id: str = "") -> tuple[list[RoleEntry], bool]:
        """The roles granted to one actor on one target, directly (inherited ones, or
        not), by name; read from at most `limit` of its assignments there, and whether
        any were left out."""
        scope = {"project": {"project_id": target_id}, "domain": {"domain_id": target_id},
                 "system": {"system": True}}[target_type]
        actor_id = user_id or group_id
        rows, truncated = read_pages(self.list, caller, limit, user_id=user_id,
                                     group_id=group_id, **scope)
        role_ids = {a.role_id for a in rows
                    if a.inherited == inherited and a.target_type == target_type
                    and a.target_id == target_id and a.actor_id == actor_id}
        roles = sorted((self.core.assignments.get_role(r) for r in role_ids),
                       key=lambda r: (r.name, r.id))
        return [RoleEntry.of(r) for r in roles], truncated

    def names(self, assignments: list[Assignment]) -> dict:
        return self.core.assignments.names_for(assignments)
