"""Operations on role assignments: grant, check, revoke, query."""

from __future__ import annotations

from ..assignments import Assignment, AssignmentQuery
from ..errors import InvalidArgument
from ..records import TokenInfo
from .base import Ops
from .reach import cloud_wide


class AssignmentOps(Ops):
    def _target(self, target_type: str, target_id: str, user_id: str, group_id: str) -> dict:
        """What grant rules look at: the target's domain and the actor's domain."""
        resources, identity = self.core.resources, self.core.identity
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

    def grant(self, caller: TokenInfo, role_id: str, **grant) -> None:
        self.enforce("grant_role", caller, **self._grant_target(grant, caller, role_id))
        self.core.assignments.grant(role_id, **grant)

    def check(self, caller: TokenInfo, role_id: str, **grant) -> bool:
        self.enforce("check_grant", caller, **self._grant_target(grant))
        return self.core.assignments.has_grant(role_id, **grant)

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
             effective: bool = False, page_size: int = 0,
             page_token: str = "") -> tuple[list[Assignment], str]:
        scope_domain = domain_id
        if project_id:
            scope_domain = self.core.resources.get_project(project_id).domain_id
        self.enforce("list_role_assignments", caller, domain_id=scope_domain or None,
                     project_id=project_id or None, user_id=user_id or None)
        query = AssignmentQuery(user_id=user_id, group_id=group_id, project_id=project_id,
                                domain_id=domain_id, system=system, role_id=role_id,
                                effective=effective)
        return self.core.assignments.list_assignments(query, self.core.resources, page_size,
                                                      page_token)

    def names(self, assignments: list[Assignment]) -> dict:
        return self.core.assignments.names_for(assignments)
