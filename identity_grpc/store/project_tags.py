"""Project tags (table ProjectTag): a project's set of short strings, and the tag
filters of a project list (`TagFilter`, Keystone's `tags`, `tags-any`, `not-tags`,
`not-tags-any`). A project's tags go with it (the table's foreign key cascades)."""

from dataclasses import dataclass

from peewee import fn

from .base import ConceptStore


@dataclass(frozen=True)
class TagFilter:
    """Which projects a list keeps, by their tags: every one of `all_of`, at least one
    of `any_of`, not every one of `not_all_of`, none of `none_of` (each ignored when
    empty)."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    not_all_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.all_of or self.any_of or self.not_all_of or self.none_of)


class ProjectTagStore(ConceptStore):
    def tags_of(self, project_ids) -> dict[str, tuple[str, ...]]:
        """id -> its tags, by name, for the projects of `project_ids` that have any: one
        query."""
        ProjectTag = self.t.ProjectTag
        ids = sorted(set(project_ids))
        found: dict[str, list[str]] = {}
        if ids:
            for row in (ProjectTag.select().where(ProjectTag.project.in_(ids))
                        .order_by(ProjectTag.project, ProjectTag.name)):
                found.setdefault(row.project_id, []).append(row.name)
        return {k: tuple(v) for k, v in found.items()}

    def has(self, project_id: str, tag: str) -> bool:
        ProjectTag = self.t.ProjectTag
        return ProjectTag.select().where((ProjectTag.project == project_id)
                                         & (ProjectTag.name == tag)).exists()

    def count(self, project_id: str) -> int:
        ProjectTag = self.t.ProjectTag
        return ProjectTag.select().where(ProjectTag.project == project_id).count()

    def add(self, project_id: str, tag: str) -> bool:
        """Whether the tag was added (False: the project had it already)."""
        if self.has(project_id, tag):
            return False
        self.t.ProjectTag.create(project=project_id, name=tag)
        return True

    def replace(self, project_id: str, tags) -> None:
        """The project's tags become exactly `tags` (distinct)."""
        ProjectTag = self.t.ProjectTag
        ProjectTag.delete().where(ProjectTag.project == project_id).execute()
        rows = [{"project": project_id, "name": tag} for tag in dict.fromkeys(tags)]
        if rows:
            ProjectTag.insert_many(rows).execute()

    def remove(self, project_id: str, tag: str) -> bool:
        ProjectTag = self.t.ProjectTag
        return bool(ProjectTag.delete().where((ProjectTag.project == project_id)
                                              & (ProjectTag.name == tag)).execute())

    def condition(self, project_id_column, tags: TagFilter):
        """A condition on `project_id_column` keeping the projects `tags` keeps (None
        when it keeps all): one subquery per part of the filter."""
        ProjectTag = self.t.ProjectTag
        where = None

        def holding(names, every: bool):
            query = (ProjectTag.select(ProjectTag.project)
                     .where(ProjectTag.name.in_(sorted(set(names)))))
            if every:
                query = (query.group_by(ProjectTag.project)
                         .having(fn.COUNT(ProjectTag.name) == len(set(names))))
            return query

        parts = []
        if tags.all_of:
            parts.append(project_id_column.in_(holding(tags.all_of, True)))
        if tags.any_of:
            parts.append(project_id_column.in_(holding(tags.any_of, False)))
        if tags.not_all_of:
            parts.append(project_id_column.not_in(holding(tags.not_all_of, True)))
        if tags.none_of:
            parts.append(project_id_column.not_in(holding(tags.none_of, False)))
        for part in parts:
            where = part if where is None else where & part
        return where

