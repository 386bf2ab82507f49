"""Resources: domains and projects, the project hierarchy, and how requests name them.

Lookups here are uncached; the hot path reads them through the scope cache in
`auth`. Disabling a project or a domain revokes the tokens scoped to it, so they stay
refused even if it is enabled again (as in Keystone). Besides ("project", id) and
("domain", id), changes announce ("domain_projects", domain id) and
("project_children", parent id), so that cached lists derived from "every project
of a domain / below a project" are dropped when that set changes, and nothing else.
"""

import time
from typing import Callable

from identity_api.revocation import Revocation

from identity_api.changes import Kind

from .errors import FailedPrecondition, ForbiddenState, InvalidArgument
from .project_tags import check_tags, tag_filter
from .quotas import DomainQuotas
from .records import ProjectRecord
from .records import domain_entry as domain_record
from .store.models import DEFAULT_DOMAIN_ID
from .store import Store
from .change_feed import PendingWrites, Writer
from .validation import check_name, check_text, check_named_changes

MAX_PROJECT_DEPTH = 5  # levels below the domain, as Keystone's default
MAX_NAME_LENGTH = 64  # of a domain or a project, as Keystone's schema has it


def project_record(row, domain) -> ProjectRecord:
    return ProjectRecord(id=row.id, name=row.name, domain=domain_record(domain),
                         enabled=row.enabled, description=row.description,
                         parent_id=row.parent_id or "", is_domain=row.is_domain)


class Resources:
    """Owns domains and projects (the hierarchy too); promises that disabling or
    deleting one cuts off every token scoped to it."""

    def __init__(self, store: Store, writer: Writer, max_token_lifetime: int,
                 quotas: DomainQuotas = DomainQuotas(), clock: Callable[[], float] = time.time):
        self._store = store
        self._writer = writer
        self._max_token_lifetime = max_token_lifetime
        self._clock = clock  # the clock tokens are issued by, which cutoffs must agree with
        self._quotas = quotas

    # ---- lookups -----------------------------------------------------------

    def find_domain(self, domain_id: str = "", name: str = ""):
        if domain_id:
            return self._store.resources.find_domain(domain_id)
        return self._store.resources.find_domain_by_name(name)

    def find_project(self, project_id: str = "", name: str = "", domain=None):
        if project_id:
            return self._store.resources.find_project(project_id)
        if domain is None:
            return None
        return self._store.resources.find_project_by_name(domain.id, name)

    def get_domain(self, domain_id: str):
        return self._store.resources.get_domain(domain_id)

    def get_project(self, project_id: str):
        return self._store.resources.get_project(project_id)

    def domain_ids_of_projects(self, project_ids) -> set[str]:
        """The domains the projects are in, in one query."""
        return self._store.resources.domain_ids_of_projects(project_ids)

    def enabled_projects_of_domain(self, domain_id: str) -> list:
        """What a domain-scoped token's consumers list (`ListDomainProjects`)."""
        return self._store.resources.enabled_projects_of_domain(domain_id)

    def projects_with_domains(self, project_ids, enabled: bool | None = None,
                              limit: int | None = None) -> list:
        """The projects of `project_ids` (only the enabled or disabled ones, when
        `enabled` is given), each with its domain, by name: one query."""
        return self._store.resources.projects_with_domains(project_ids, enabled, limit)

    def project_ids_in_domains(self, domain_ids) -> set[str]:
        """Ids of every project of the domains, in one query."""
        return self._store.resources.project_ids_in_domains(domain_ids)

    def list_domains(self, name: str = "", enabled: bool | None = None, page_size: int = 0,
                     page_token: str = "") -> tuple[list, str]:
        return self._store.resources.list_domains(name, enabled, page_size, page_token)

    def list_projects(self, name: str = "", domain_id: str = "", parent_id: str = "",
                      enabled: bool | None = None, page_size: int = 0, page_token: str = "",
                      top_level: bool = False, tags=(), tags_any=(), not_tags=(),
                      not_tags_any=()) -> tuple[list, str]:
        """`top_level`: only the projects right below their domain; `tags`: those with
        every one of them, `tags_any` at least one, `not_tags` not every one,
        `not_tags_any` none (Keystone's tag filters)."""
        return self._store.resources.list_projects(
            name, domain_id, parent_id, enabled, page_size, page_token, top_level,
            tag_filter(tags, tags_any, not_tags, not_tags_any))

    def tags_of(self, project_ids) -> dict[str, tuple[str, ...]]:
        """id -> tags of each project of `project_ids` that has any, in one query."""
        return self._store.project_tags.tags_of(project_ids)

    # ---- the hierarchy -------------------------------------------------------

    def ancestors(self, project) -> list:
        """The project's parents, nearest first (at most MAX_PROJECT_DEPTH lookups)."""
        return self._store.resources.ancestors(project, MAX_PROJECT_DEPTH)

    def subtree(self, project_id: str, limit: int | None = None) -> list:
        """Every project below `project_id`, depth first, one query per level; with
        `limit`, no more than that many, the nearest levels first."""
        return self._store.resources.subtree(project_id, limit)

    def descendant_ids(self, project_ids: set[str]) -> set[str]:
        """Ids of every project below any of `project_ids`, one query per level."""
        return self._store.resources.descendant_ids(project_ids)

    def _check_parent(self, parent_id: str, domain_id: str, moving: str | None = None):
        parent = self.get_project(parent_id)
        if parent.domain_id != domain_id:
            raise InvalidArgument("parent_id", "the parent must be in the same domain")
        above = self.ancestors(parent)
        if moving and (parent.id == moving or any(a.id == moving for a in above)):
            raise InvalidArgument("parent_id", "a project cannot be moved below itself")
        height = self._store.resources.height(moving) if moving else 0
        if len(above) + 2 + height > MAX_PROJECT_DEPTH:
            raise InvalidArgument(
                "parent_id", f"projects nest at most {MAX_PROJECT_DEPTH} levels deep")
        return parent

    # ---- domains -------------------------------------------------------------

    def create_domain(self, name: str, description: str = "", enabled: bool = True):
        check_name("domain.name", name, MAX_NAME_LENGTH)
        check_text("domain.description", description)
        with self._writer.unique(f"a domain named {name!r} already exists") as tx:
            domain = self._store.resources.create_domain(name, description, enabled)
            tx.changed(Kind.DOMAIN, domain.id)
        return domain

    def update_domain(self, domain_id: str, **changes):
        domain = self.get_domain(domain_id)
        if not changes:
            return domain  # nothing to write: an UPDATE with no column is no statement
        check_named_changes("domain", changes, MAX_NAME_LENGTH)
        with self._writer.unique(f"a domain named {changes.get('name')!r} already exists") as tx:
            def change(row):
                if changes.get("enabled") is False and row.enabled:
                    self._revoke(tx, domain_id=domain_id)
                return changes
            domain = self._store.resources.update_domain(domain_id, change)
            tx.changed(Kind.DOMAIN, domain_id)
        return domain

    def set_domain_enabled(self, domain_id: str, enabled: bool) -> None:
        self.update_domain(domain_id, enabled=enabled)

    def delete_domain(self, domain_id: str) -> None:
        """Deletes a disabled domain with everything in it, as Keystone does: its
        projects (with the assignments on them), users, groups and domain-specific
        roles, in one transaction; every token of its users or on its projects is
        revoked."""
        domain = self.get_domain(domain_id)
        if domain_id == DEFAULT_DOMAIN_ID:
            raise ForbiddenState("the default domain cannot be deleted")
        if domain.enabled:
            raise ForbiddenState(f"domain {domain.name!r} must be disabled before it is deleted")
        store = self._store
        with self._writer.transaction() as tx:
            for project_id in _deepest_first(store.resources.project_parents_in_domain(domain_id)):
                store.assignments.delete_on_target("project", project_id)
                store.resources.delete_project(project_id)
                tx.changed(Kind.PROJECT, project_id)
                tx.changed(Kind.PROJECT_CHILDREN, project_id)
                self._revoke(tx, project_id=project_id)
            for user_id in store.users.ids_in_domain(domain_id):
                store.assignments.delete_for_actor("user", user_id)
                for key_id in store.credentials.ids_for_user(user_id):
                    tx.changed(Kind.API_KEY, key_id)
                store.users.delete(user_id)
                tx.changed(Kind.USER, user_id)
                self._revoke(tx, user_id=user_id)
            for group_id in store.groups.ids_in_domain(domain_id):
                store.assignments.delete_for_actor("group", group_id)
                members = store.groups.member_ids(group_id)
                store.groups.delete(group_id)
                tx.changed(Kind.GROUP, group_id)
                for user_id in members:
                    tx.changed(Kind.USER, user_id)
            for role_id in store.assignments.role_ids_in_domain(domain_id):
                for actor_type, actor_id in store.assignments.actors_holding(role_id):
                    tx.changed(Kind(actor_type), actor_id)
                store.assignments.delete_role(role_id)
                tx.changed(Kind.ROLE, role_id)
            store.assignments.delete_on_target("domain", domain_id)
            store.resources.delete_domain(domain_id)
            tx.changed(Kind.DOMAIN_PROJECTS, domain_id)
            tx.changed(Kind.DOMAIN, domain_id)
            self._revoke(tx, domain_id=domain_id)

    # ---- projects ------------------------------------------------------------

    def create_project(self, name: str, domain_id: str, description: str = "",
                       enabled: bool = True, parent_id: str | None = None, tags=()):
        check_name("project.name", name, MAX_NAME_LENGTH)
        check_text("project.description", description)
        tags = check_tags("project.tags", tags)
        self.get_domain(domain_id)
        if parent_id:
            self._check_parent(parent_id, domain_id)
        conflict = f"a project named {name!r} already exists in domain {domain_id}"
        with self._writer.unique(conflict) as tx:
            self._quotas.check("projects", domain_id, self._store)
            project = self._store.resources.create_project(name, domain_id, description,
                                                           enabled, parent_id)
            if tags:
                self._store.project_tags.replace(project.id, tags)
            self._announce(tx, project)
        return project

    def update_project(self, project_id: str, **changes):
        """`tags`, when given, replace the project's (in the same transaction)."""
        project = self.get_project(project_id)
        tags = changes.pop("tags", None)
        if tags is not None:
            tags = check_tags("project.tags", tags)
        if not changes and tags is None:
            return project  # nothing to write: an UPDATE with no column is no statement
        check_named_changes("project", changes, MAX_NAME_LENGTH)
        if "parent_id" in changes:
            new_parent = changes.pop("parent_id") or None
            if new_parent:
                self._check_parent(new_parent, project.domain_id, moving=project_id)
            changes["parent"] = new_parent
        conflict = f"a project named {changes.get('name')!r} already exists in domain {project.domain_id}"
        with self._writer.unique(conflict) as tx:
            def change(row):
                self._announce(tx, row)  # the old parent's children changed too
                if changes.get("enabled") is False and row.enabled:
                    self._revoke(tx, project_id=project_id)
                return changes
            project = self._store.resources.update_project(project_id, change)
            if tags is not None:
                self._store.project_tags.replace(project_id, tags)
            if changes.get("parent"):
                tx.changed(Kind.PROJECT_CHILDREN, changes["parent"])
        return project

    def set_project_enabled(self, project_id: str, enabled: bool) -> None:
        self.update_project(project_id, enabled=enabled)

    def delete_project(self, project_id: str) -> None:
        """Deletes the project with the assignments on it and revokes its tokens;
        refused while it has child projects."""
        project = self.get_project(project_id)
        children = self._store.resources.count_children(project_id)
        if children:
            raise FailedPrecondition(
                f"project {project.name!r} has {children} child project(s); delete or move them first")
        with self._writer.transaction() as tx:
            self._store.assignments.delete_on_target("project", project_id)
            self._store.resources.delete_project(project_id)
            self._announce(tx, project)
            self._revoke(tx, project_id=project_id)

    def _announce(self, tx: PendingWrites, project) -> None:
        tx.changed(Kind.PROJECT, project.id)
        tx.changed(Kind.DOMAIN_PROJECTS, project.domain_id)
        if project.parent_id:
            tx.changed(Kind.PROJECT_CHILDREN, project.parent_id)

    def _revoke(self, tx: PendingWrites, **target) -> None:
        tx.revoke(Revocation.issued_until_now(self._max_token_lifetime, self._clock, **target))


def _deepest_first(parents: dict[str, str | None]) -> list[str]:
    """The projects of `parents` (id -> parent id), each after every project below it,
    so that each is deleted with no child left."""
    def depth(project_id: str) -> int:
        n, seen = 0, set()
        while (project_id := parents.get(project_id)) and project_id not in seen:
            seen.add(project_id)
            n += 1
        return n
    return sorted(parents, key=lambda p: (-depth(p), p))
