"""Operations on roles and role implications."""

from __future__ import annotations

from ..records import RoleEntry, TokenInfo
from .base import Ops


class RoleOps(Ops):
    def get(self, caller: TokenInfo, role_id: str) -> RoleEntry:
        role = self.core.assignments.get_role(role_id)
        self.enforce("get_role", caller, role_id=role.id, domain_id=role.domain_id)
        return RoleEntry.of(role)

    def list(self, caller: TokenInfo, **filters) -> tuple[list[RoleEntry], str]:
        self.enforce("list_roles", caller, domain_id=filters.get("domain_id") or None)
        rows, token = self.core.assignments.list_roles(**filters)
        return [RoleEntry.of(r) for r in rows], token

    def create(self, caller: TokenInfo, **fields) -> RoleEntry:
        self.enforce("create_role", caller, domain_id=fields.get("domain_id") or None)
        return RoleEntry.of(self.core.assignments.create_role(**fields))

    def update(self, caller: TokenInfo, role_id: str, **changes) -> RoleEntry:
        role = self.core.assignments.get_role(role_id)
        self.enforce("update_role", caller, role_id=role.id, domain_id=role.domain_id)
        return RoleEntry.of(self.core.assignments.update_role(role_id, **changes))

    def delete(self, caller: TokenInfo, role_id: str) -> None:
        role = self.core.assignments.get_role(role_id)
        self.enforce("delete_role", caller, role_id=role.id, domain_id=role.domain_id)
        self.core.assignments.delete_role(role_id)

    def imply(self, caller: TokenInfo, prior_role_id: str, implied_role_id: str) -> None:
        self.enforce("create_implied_role", caller, role_id=prior_role_id)
        self.core.assignments.add_implied_role(prior_role_id, implied_role_id)

    def unimply(self, caller: TokenInfo, prior_role_id: str, implied_role_id: str) -> None:
        self.enforce("delete_implied_role", caller, role_id=prior_role_id)
        self.core.assignments.remove_implied_role(prior_role_id, implied_role_id)

    def implications(self, caller: TokenInfo, prior_role_id: str = "") -> list[tuple[str, str]]:
        self.enforce("list_implied_roles", caller, role_id=prior_role_id or None)
        return self.core.assignments.implied_roles(prior_role_id)
