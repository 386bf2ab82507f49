"""Domains and projects, with the project hierarchy (tables Domain, Project)."""

from .base import ConceptStore
from .models import is_sqlite


class ResourceStore(ConceptStore):
    pass

    # --- for users
    def domain_exists(self, domain_id: str) -> bool:
        Domain = self.t.Domain
        return Domain.select().where(Domain.id == domain_id).exists()

    def project_exists(self, project_id: str) -> bool:
        Project = self.t.Project
        return Project.select().where(Project.id == project_id).exists()

    def lock_domain(self, domain_id: str) -> None:
        """Hold the domain's row until this transaction ends (what serializes creates
        counted against its quotas; SQLite's write transaction holds the store already)."""
        if not self.db.in_transaction():
            raise RuntimeError("a domain is locked inside the transaction that needs it")
        if not is_sqlite(self.db):
            Domain = self.t.Domain
            list(Domain.select(Domain.id).where(Domain.id == domain_id).for_update())

    def count_projects_in_domain(self, domain_id: str) -> int:
        Project = self.t.Project
        return Project.select().where(Project.domain == domain_id).count()

    # --- for scopes
    def enabled_domains(self, domain_ids) -> list:
        """The enabled domains among `domain_ids`, in one query."""
        Domain = self.t.Domain
        ids = sorted(set(domain_ids))
        if not ids:
            return []
        return list(Domain.select().where(Domain.id.in_(ids) & (Domain.enabled == True)))  # noqa: E712
