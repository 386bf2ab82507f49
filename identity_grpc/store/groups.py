"""Groups and who belongs to them (tables Group, GroupMembership)."""

from .base import ConceptStore


class GroupStore(ConceptStore):
    pass

    # --- for resources
    def count_in_domain(self, domain_id: str) -> int:
        Group = self.t.Group
        return Group.select().where(Group.domain == domain_id).count()

    def exists(self, group_id: str) -> bool:
        Group = self.t.Group
        return Group.get_or_none(Group.id == group_id) is not None

    def by_ids(self, group_ids) -> dict:
        """id -> row of the groups of `group_ids` that exist, in one query."""
        Group = self.t.Group
        ids = list(group_ids)
        return {row.id: row for row in Group.select().where(Group.id.in_(ids))} if ids else {}

    def group_ids_of_user(self, user_id: str) -> list[str]:
        GroupMembership = self.t.GroupMembership
        return [m.group_id for m in GroupMembership.select(GroupMembership.group)
                .where(GroupMembership.user == user_id)]

    def member_ids_from(self, group_id: str, start: str | None, limit: int) -> list[str]:
        """Ids of the group's members in id order from `start` on (None: the first)."""
        GroupMembership = self.t.GroupMembership
        rows = GroupMembership.select(GroupMembership.user).where(GroupMembership.group == group_id)
        if start is not None:
            rows = rows.where(GroupMembership.user >= start)
        return [m.user_id for m in rows.order_by(GroupMembership.user).limit(limit)]
