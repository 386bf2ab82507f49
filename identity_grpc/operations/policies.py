"""Operations on Keystone's policies (`/v3/policies`): stored blobs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..records import TokenInfo
from .audited import audited
from .base import Ops


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    id: str
    type: str
    blob: str
    extra: tuple[tuple[str, object], ...]  # the other attributes given, by key

    @classmethod
    def of(cls, row) -> "PolicyEntry":
        return cls(id=row.id, type=row.type, blob=row.blob,
                   extra=tuple(sorted(json.loads(row.extra or "{}").items())))


class PolicyOps(Ops):
    @audited("created.policy", details=("type_",))
    def create(self, caller: TokenInfo, type_: str, blob: str, extra: dict | None = None):
        self.enforce("create_policy", caller)
        return PolicyEntry.of(self.core.policies.create(type_, blob, extra))

    def get(self, caller: TokenInfo, policy_id: str) -> PolicyEntry:
        self.enforce("get_policy", caller)
        return PolicyEntry.of(self.core.policies.get(policy_id))

    def list(self, caller: TokenInfo, type_: str = "", page_size: int = 0,
             page_token: str = "") -> tuple[list[PolicyEntry], str]:
        self.enforce("list_policies", caller)
        rows, token = self.core.policies.list(type_, page_size, page_token)
        return [PolicyEntry.of(r) for r in rows], token

    @audited("updated.policy")
    def update(self, caller: TokenInfo, policy_id: str, **changes) -> PolicyEntry:
        self.enforce("update_policy", caller)
        return PolicyEntry.of(self.core.policies.update(policy_id, **changes))

    @audited("deleted.policy")
    def delete(self, caller: TokenInfo, policy_id: str) -> None:
        self.enforce("delete_policy", caller)
        self.core.policies.delete(policy_id)
