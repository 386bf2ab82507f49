"""Unified limits (tables RegisteredLimit, Limit): a service's default limit of a
resource (in one region, or everywhere), and a project's or a domain's own limit of a
registered resource. A service or region deleted takes its registered limits and their
limits; a project or domain deleted takes its limits (the foreign keys cascade)."""

from .base import Change, ConceptStore, present
from .paging import page


class LimitStore(ConceptStore):
    # ---- registered limits -----------------------------------------------------

    def create_registered(self, service_id: str, region_id: str | None, resource_name: str,
                          default_limit: int, description: str | None = None):
        return self.t.RegisteredLimit.create(
            service=service_id, region=region_id or None, region_key=region_id or "",
            resource_name=resource_name, default_limit=default_limit, description=description)

    def find_registered(self, registered_id: str):
        R = self.t.RegisteredLimit
        return R.get_or_none(R.id == registered_id)

    def get_registered(self, registered_id: str):
        return present(self.find_registered(registered_id),
                       f"registered limit {registered_id} not found")

    def registered_for(self, service_id: str, region_id: str | None, resource_name: str):
        """The registered limit of that service, region (None: everywhere) and resource."""
        R = self.t.RegisteredLimit
        return R.get_or_none((R.service == service_id) & (R.region_key == (region_id or ""))
                             & (R.resource_name == resource_name))

    def list_registered(self, service_id: str = "", region_id: str = "", resource_name: str = "",
                        page_size: int = 0, page_token: str = "") -> tuple[list, str]:
        """One page of the registered limits, by id, filtered by what is given."""
        R = self.t.RegisteredLimit
        query = R.select()
        for field, value in ((R.service, service_id), (R.region_key, region_id),
                             (R.resource_name, resource_name)):
            if value:
                query = query.where(field == value)
        return page(query, (R.id,), page_size, page_token)

    def update_registered(self, registered_id: str, change: Change):
        """`change(row)` gives the fields to set (`region` and `region_key` together)."""
        return self.update(self.t.RegisteredLimit, registered_id, change,
                           f"registered limit {registered_id} not found",
                           clash=lambda row, fields: "a registered limit of that service, "
                                                     "region and resource already exists")

    def delete_registered(self, registered_id: str) -> bool:
        R = self.t.RegisteredLimit
        return bool(R.delete().where(R.id == registered_id).execute())

    def count_limits_of(self, registered_id: str) -> int:
        L = self.t.Limit
        return L.select().where(L.registered_limit == registered_id).count()

    # ---- limits ----------------------------------------------------------------

    def create_limit(self, registered_id: str, project_id: str | None, domain_id: str | None,
                     resource_limit: int, description: str | None = None):
        return self.t.Limit.create(
            registered_limit=registered_id, project=project_id, domain=domain_id,
            owner_key=project_id or domain_id, resource_limit=resource_limit,
            description=description)

    def _limits(self):
        L, R = self.t.Limit, self.t.RegisteredLimit
        return L.select(L, R).join(R)

    def find_limit(self, limit_id: str):
        """The limit with its registered limit (`row.registered_limit`), in one query."""
        L = self.t.Limit
        return self._limits().where(L.id == limit_id).first()

    def get_limit(self, limit_id: str):
        return present(self.find_limit(limit_id), f"limit {limit_id} not found")

    def limit_for(self, registered_id: str, owner_id: str):
        L = self.t.Limit
        return L.get_or_none((L.registered_limit == registered_id) & (L.owner_key == owner_id))

    def list_limits(self, service_id: str = "", region_id: str = "", resource_name: str = "",
                    project_id: str = "", domain_id: str = "", of_domain: str = "",
                    page_size: int = 0, page_token: str = "") -> tuple[list, str]:
        """One page of the limits (each with its registered limit), by id, filtered by
        what is given; `of_domain`: only the domain's own limits and its projects'."""
        L, R, Project = self.t.Limit, self.t.RegisteredLimit, self.t.Project
        query = self._limits()
        for field, value in ((R.service, service_id), (R.region_key, region_id),
                             (R.resource_name, resource_name), (L.project, project_id),
                             (L.domain, domain_id)):
            if value:
                query = query.where(field == value)
        if of_domain:
            projects = Project.select(Project.id).where(Project.domain == of_domain)
            query = query.where((L.domain == of_domain) | L.project.in_(projects))
        return page(query, (L.id,), page_size, page_token)

    def update_limit(self, limit_id: str, change: Change):
        self.update(self.t.Limit, limit_id, change, f"limit {limit_id} not found")
        return self.get_limit(limit_id)

    def delete_limit(self, limit_id: str) -> bool:
        L = self.t.Limit
        return bool(L.delete().where(L.id == limit_id).execute())
