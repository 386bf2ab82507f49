"""Operations on roles and role implications."""

from __future__ import annotations

from ..errors import NotFound
from ..records import RoleEntry, TokenInfo
from .audited import audited
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

    @audited("created.role", details=("name", "domain_id"))
    def create(self, caller: TokenInfo, **fields) -> RoleEntry:
        self.enforce("create_role", caller, domain_id=fields.get("domain_id") or None)
        return RoleEntry.of(self.core.assignments.create_role(**fields))

    @audited("updated.role")
    def update(self, caller: TokenInfo, role_id: str, **changes) -> RoleEntry:
        role = self.core.assignments.get_role(role_id)
        self.enforce("update_role", caller, role_id=role.id, domain_id=role.domain_id)
        return RoleEntry.of(self.core.assignments.update_role(role_id, **changes))

    @audited("deleted.role")
    def delete(self, caller: TokenInfo, role_id: str) -> None:
        role = self.core.assignments.get_role(role_id)
        self.enforce("delete_role", caller, role_id=role.id, domain_id=role.domain_id)
        self.core.assignments.delete_role(role_id)

    @audited("created.implied_role", id_arg="prior_role_id", details=("implied_role_id",))
    def imply(self, caller: TokenInfo, prior_role_id: str,
              implied_role_id: str) -> tuple[RoleEntry, RoleEntry]:
        """(prior, implied), for Keystone's 201 body."""
        self.enforce("create_implied_role", caller, role_id=prior_role_id)
        self.core.assignments.add_implied_role(prior_role_id, implied_role_id)
        return self._pair(prior_role_id, implied_role_id)

    @audited("deleted.implied_role", id_arg="prior_role_id", details=("implied_role_id",))
    def unimply(self, caller: TokenInfo, prior_role_id: str, implied_role_id: str) -> None:
        self.enforce("delete_implied_role", caller, role_id=prior_role_id)
        self.core.assignments.remove_implied_role(prior_role_id, implied_role_id)

    def implications(self, caller: TokenInfo, prior_role_id: str = "") -> list[tuple[str, str]]:
        self.enforce("list_implied_roles", caller, role_id=prior_role_id or None)
        return self.core.assignments.implied_roles(prior_role_id)

    # ---- Keystone's inference rules: the roles themselves, not only their ids ----------

    def get_implication(self, caller: TokenInfo, prior_role_id: str, implied_role_id: str,
                        rule: str = "get_implied_role") -> tuple[RoleEntry, RoleEntry]:
        """(prior, implied); NOT_FOUND unless the one implies the other directly.
        `rule`: Keystone checks a HEAD with `check_implied_role`."""
        if rule not in ("get_implied_role", "check_implied_role"):
            raise ValueError(rule)
        self.enforce(rule, caller, role_id=prior_role_id)
        prior, implied = self._pair(prior_role_id, implied_role_id)
        if implied.id not in self._implied_ids(prior.id):
            raise NotFound(f"role {prior.id} does not imply role {implied.id}")
        return prior, implied

    def implied_by(self, caller: TokenInfo, prior_role_id: str) -> tuple[RoleEntry, list[RoleEntry]]:
        """The role and the roles it implies directly, by id."""
        self.enforce("list_implied_roles", caller, role_id=prior_role_id)
        prior = RoleEntry.of(self.core.assignments.get_role(prior_role_id))
        return prior, [RoleEntry.of(self.core.assignments.get_role(i))
                       for i in sorted(self._implied_ids(prior.id))]

    def inference_rules(self, caller: TokenInfo) -> list[tuple[RoleEntry, list[RoleEntry]]]:
        """Every role implying others, with the roles it implies directly, by id."""
        self.enforce("list_role_inference_rules", caller)
        implied: dict[str, list[str]] = {}
        for prior, role in self.core.assignments.implied_roles():
            implied.setdefault(prior, []).append(role)
        entry = {r: RoleEntry.of(self.core.assignments.get_role(r))
                 for r in {*implied, *(i for ids in implied.values() for i in ids)}}
        return [(entry[p], [entry[i] for i in sorted(ids)]) for p, ids in sorted(implied.items())]

    def _pair(self, prior_role_id: str, implied_role_id: str) -> tuple[RoleEntry, RoleEntry]:
        return (RoleEntry.of(self.core.assignments.get_role(prior_role_id)),
                RoleEntry.of(self.core.assignments.get_role(implied_role_id)))

    def _implied_ids(self, prior_role_id: str) -> set[str]:
        return {i for _, i in self.core.assignments.implied_roles(prior_role_id)}
