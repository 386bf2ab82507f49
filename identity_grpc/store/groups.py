"""Groups and who belongs to them (tables Group, GroupMembership)."""

import peewee as pw

from .base import ConceptStore, present
from .paging import page
from .unique import refusing_clash


class GroupStore(ConceptStore):
    # ---- groups --------------------------------------------------------------

    def find(self, group_id: str):
        """The group, or None."""
        Group = self.t.Group
        return Group.get_or_none(Group.id == group_id)

    def get(self, group_id: str):
        """The group, or NotFound("group <id> not found")."""
        return present(self.find(group_id), f"group {group_id} not found")

    def find_by_name(self, domain_id: str, name: str):
        """The group named `name` in the domain, or None."""
        Group = self.t.Group
        return Group.get_or_none((Group.domain == domain_id) & (Group.name == name))

    def exists(self, group_id: str) -> bool:
        Group = self.t.Group
        return Group.select().where(Group.id == group_id).exists()

    def by_ids(self, group_ids) -> dict:
        """{id: group} for those of the ids that name a group, in one query."""
        Group = self.t.Group
        group_ids = list(set(group_ids))
        return ({row.id: row for row in Group.select().where(Group.id.in_(group_ids))}
                if group_ids else {})

    def list_page(self, name: str = "", domain_id: str = "", page_size: int = 0,
                  page_token: str = ""):
        """(one page of the groups matching every filter given, by name then id; the
        next page's token, "" on the last)."""
        Group = self.t.Group
        query = Group.select()
        if name:
            query = query.where(Group.name == name)
        if domain_id:
            query = query.where(Group.domain == domain_id)
        return page(query, (Group.name, Group.id), page_size, page_token)

    def create(self, name: str, domain_id: str, description: str = ""):
        """The new group. AlreadyExists when its domain holds one of that name; a
        domain that does not exist is an IntegrityError."""
        with refusing_clash(f"a group named {name!r} already exists in domain {domain_id}"):
            return self.t.Group.create(name=name, domain=domain_id, description=description)

    def set_fields(self, group, **fields) -> bool:
        """Write the fields given (name, description) to the group (a row read
        before: groups never change domain), whatever the row holds now: no field is
        computed from another, so two concurrent writes both land, the later one
        winning a field both set. False: the group is gone. AlreadyExists when the
        new name is taken in its domain."""
        Group = self.t.Group
        conflict = f"a group named {fields.get('name')!r} already exists in domain {group.domain_id}"
        with refusing_clash(conflict):
            return bool(Group.update(**fields).where(Group.id == group.id).execute())

    def delete(self, group_id: str) -> bool:
        """Delete the group with its memberships (the table's cascade); its role
        assignments are the assignment store's. False: none."""
        Group = self.t.Group
        return bool(Group.delete().where(Group.id == group_id).execute())

    def ids_in_domain(self, domain_id: str) -> list[str]:
        Group = self.t.Group
        return [g.id for g in Group.select(Group.id).where(Group.domain == domain_id)
                .order_by(Group.id)]

    def count_in_domain(self, domain_id: str) -> int:
        Group = self.t.Group
        return Group.select().where(Group.domain == domain_id).count()

    # ---- membership ------------------------------------------------------------

    def add_member(self, user_id: str, group_id: str) -> None:
        """Make the user a member (already one: nothing changes). A user or group
        that does not exist is an IntegrityError."""
        M = self.t.GroupMembership
        insert = M.insert(user=user_id, group=group_id)
        if isinstance(self.db, pw.MySQLDatabase):
            # Not INSERT IGNORE: MySQL would ignore a missing user or group as well.
            insert = insert.on_conflict(update={M.user: M.user})
        else:
            insert = insert.on_conflict_ignore()
        insert.execute()

    def remove_member(self, user_id: str, group_id: str) -> bool:
        """False: the user was no member."""
        M = self.t.GroupMembership
        return bool(M.delete().where((M.user == user_id) & (M.group == group_id)).execute())

    def is_member(self, user_id: str, group_id: str) -> bool:
        M = self.t.GroupMembership
        return M.select().where((M.user == user_id) & (M.group == group_id)).exists()

    def group_ids_of(self, user_id: str) -> list[str]:
        """The ids of the user's groups, in no promised order."""
        M = self.t.GroupMembership
        return [m.group_id for m in M.select(M.group).where(M.user == user_id)]

    def member_ids(self, group_id: str) -> list[str]:
        """The ids of the group's members, in no promised order."""
        M = self.t.GroupMembership
        return [m.user_id for m in M.select(M.user).where(M.group == group_id)]

    def member_ids_from(self, group_id: str, start: str | None, limit: int | None) -> list[str]:
        """The ids of the group's members by id, from `start` on (None: the first),
        the first `limit` of them: a page of a group's members as its grants reach."""
        M = self.t.GroupMembership
        rows = M.select(M.user).where(M.group == group_id)
        if start is not None:
            rows = rows.where(M.user >= start)
        return [m.user_id for m in rows.order_by(M.user).limit(limit)]

    def members(self, group_id: str, limit: int | None = None) -> list:
        """The group's members (User rows) by name then id; the first `limit` of them."""
        User, M = self.t.User, self.t.GroupMembership
        return list(User.select().join(M, on=(M.user == User.id))
                    .where(M.group == group_id).order_by(User.name, User.id).limit(limit))

    def groups_of(self, user_id: str, limit: int | None = None) -> list:
        """The user's groups by name then id; the first `limit` of them."""
        Group, M = self.t.Group, self.t.GroupMembership
        return list(Group.select().join(M, on=(M.group == Group.id))
                    .where(M.user == user_id).order_by(Group.name, Group.id).limit(limit))
