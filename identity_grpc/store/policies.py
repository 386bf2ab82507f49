"""Policies (table Policy): Keystone's policy API, opaque blobs of a given type stored
for other services, with the other attributes given kept as `extra` (a JSON object)."""

from .base import Change, ConceptStore, present
from .paging import page


class PolicyStore(ConceptStore):
    def create(self, type_: str, blob: str, extra: str = "{}"):
        return self.t.Policy.create(type=type_, blob=blob, extra=extra)

    def find(self, policy_id: str):
        Policy = self.t.Policy
        return Policy.get_or_none(Policy.id == policy_id)

    def get(self, policy_id: str):
        return present(self.find(policy_id), f"policy {policy_id} not found")

    def list(self, type_: str = "", page_size: int = 0, page_token: str = "") -> tuple[list, str]:
        """One page of the policies (of `type_`, when given), by id."""
        Policy = self.t.Policy
        query = Policy.select()
        if type_:
            query = query.where(Policy.type == type_)
        return page(query, (Policy.id,), page_size, page_token)

    def update(self, policy_id: str, change: Change):
        """`change(row)` gives the fields to set (see `ConceptStore.update`)."""
        return super().update(self.t.Policy, policy_id, change, f"policy {policy_id} not found")

    def delete(self, policy_id: str) -> bool:
        Policy = self.t.Policy
        return bool(Policy.delete().where(Policy.id == policy_id).execute())
