"""Operations on unified limits (`/v3/registered_limits`, `/v3/limits`,
`/v3/limits/model`): what oslo.limit reads for quotas."""

from __future__ import annotations

from dataclasses import dataclass

from ..records import TokenInfo
from .audited import audited
from .base import Ops


@dataclass(frozen=True, slots=True)
class RegisteredLimitEntry:
    id: str
    service_id: str
    region_id: str | None
    resource_name: str
    default_limit: int
    description: str | None

    @classmethod
    def of(cls, row) -> "RegisteredLimitEntry":
        return cls(id=row.id, service_id=row.service_id, region_id=row.region_id,
                   resource_name=row.resource_name, default_limit=row.default_limit,
                   description=row.description)


@dataclass(frozen=True, slots=True)
class LimitEntry:
    id: str
    project_id: str | None
    domain_id: str | None
    service_id: str
    region_id: str | None
    resource_name: str
    resource_limit: int
    description: str | None

    @classmethod
    def of(cls, row) -> "LimitEntry":
        registered = row.registered_limit
        return cls(id=row.id, project_id=row.project_id, domain_id=row.domain_id,
                   service_id=registered.service_id, region_id=registered.region_id,
                   resource_name=registered.resource_name, resource_limit=row.resource_limit,
                   description=row.description)


class RegisteredLimitOps(Ops):
    @audited("created.registered_limit")
    def create(self, caller: TokenInfo, items: list[dict]) -> list[RegisteredLimitEntry]:
        self.enforce("create_registered_limits", caller)
        return [RegisteredLimitEntry.of(r) for r in self.core.limits.create_registered(items)]

    def get(self, caller: TokenInfo, registered_id: str) -> RegisteredLimitEntry:
        self.enforce("get_registered_limit", caller)
        return RegisteredLimitEntry.of(self.core.limits.get_registered(registered_id))

    def list(self, caller: TokenInfo, **filters) -> tuple[list[RegisteredLimitEntry], str]:
        """Filters: service_id, region_id, resource_name; page_size, page_token."""
        self.enforce("list_registered_limits", caller)
        rows, token = self.core.limits.list_registered(**filters)
        return [RegisteredLimitEntry.of(r) for r in rows], token

    @audited("updated.registered_limit")
    def update(self, caller: TokenInfo, registered_id: str, **changes) -> RegisteredLimitEntry:
        self.enforce("update_registered_limit", caller)
        return RegisteredLimitEntry.of(self.core.limits.update_registered(registered_id, **changes))

    @audited("deleted.registered_limit")
    def delete(self, caller: TokenInfo, registered_id: str) -> None:
        self.enforce("delete_registered_limit", caller)
        self.core.limits.delete_registered(registered_id)


class LimitOps(Ops):
    def model(self, caller: TokenInfo) -> dict:
        self.enforce("get_limit_model", caller)
        return self.core.limits.model()

    @audited("created.limit")
    def create(self, caller: TokenInfo, items: list[dict]) -> list[LimitEntry]:
        self.enforce("create_limits", caller)
        return [LimitEntry.of(r) for r in self.core.limits.create_limits(items)]

    def _target(self, limit_id: str) -> dict:
        """The limit's owner, as Keystone's target: its project and that project's
        domain, or its domain."""
        row = self.core.limits.find_limit(limit_id)
        if row is None:
            return {}
        if row.project_id:
            project = self.core.resources.find_project(row.project_id)
            return {"project_id": row.project_id,
                    "domain_id": project.domain_id if project else None}
        return {"domain_id": row.domain_id}

    def get(self, caller: TokenInfo, limit_id: str) -> LimitEntry:
        self.enforce("get_limit", caller, **self._target(limit_id))
        return LimitEntry.of(self.core.limits.get_limit(limit_id))

    def list(self, caller: TokenInfo, **filters) -> tuple[list[LimitEntry], str]:
        """As Keystone: a system-scoped caller sees every limit, a domain-scoped one the
        domain's and its projects', a project-scoped one its project's, an unscoped
        one none. Filters: service_id, region_id, resource_name, project_id,
        domain_id; page_size, page_token."""
        self.enforce("list_limits", caller)
        identity = caller.identity
        if identity.scope_type == "domain":
            filters["of_domain"] = identity.domain.id
        elif identity.scope_type == "project":
            if filters.get("project_id") not in (None, "", identity.project.id):
                return [], ""
            filters["project_id"] = identity.project.id
        elif identity.scope_type != "system":
            return [], ""
        rows, token = self.core.limits.list_limits(**filters)
        return [LimitEntry.of(r) for r in rows], token

    @audited("updated.limit")
    def update(self, caller: TokenInfo, limit_id: str, **changes) -> LimitEntry:
        self.enforce("update_limit", caller)
        return LimitEntry.of(self.core.limits.update_limit(limit_id, **changes))

    @audited("deleted.limit")
    def delete(self, caller: TokenInfo, limit_id: str) -> None:
        self.enforce("delete_limit", caller)
        self.core.limits.delete_limit(limit_id)
