"""Operations on users, their passwords, groups and membership."""

from __future__ import annotations

from ..records import GroupEntry, ProjectEntry, TokenInfo, UserEntry
from .audited import audited
from .base import Ops, caller_domain, owning_domain
from .reach import reach_domain_id


def user_entries(core, rows) -> list[UserEntry]:
    """Users as records, each with when its password expires: one query for them all."""
    expiries = core.users_and_groups.password_expiries(r.id for r in rows)
    return [UserEntry.of(r, expiries.get(r.id)) for r in rows]


class UserOps(Ops):
    def _target(self, user) -> dict:
        return {"user_id": user.id, "domain_id": user.domain_id}

    def _entry(self, row) -> UserEntry:
        return user_entries(self.core, [row])[0]

    def get(self, caller: TokenInfo, user_id: str) -> UserEntry:
        user = self.core.users_and_groups.get_user(user_id)
        self.enforce("get_user", caller, **self._target(user))
        return self._entry(user)

    def list(self, caller: TokenInfo, domain_id: str = "",
             **filters) -> tuple[list[UserEntry], str]:
        domain_id = domain_id or caller_domain(caller) or ""
        self.enforce("list_users", caller, domain_id=domain_id or None)
        rows, token = self.core.users_and_groups.list_users(domain_id=domain_id, **filters)
        return user_entries(self.core, rows), token

    @audited("created.user", details=("name", "domain_id"))
    def create(self, caller: TokenInfo, name: str, domain_id: str = "", **fields) -> UserEntry:
        domain_id = owning_domain(caller, domain_id)
        self.enforce("create_user", caller, domain_id=domain_id)
        return self._entry(self.core.users_and_groups.create_user(name, domain_id, **fields))

    def _managed_target(self, caller: TokenInfo, user_id: str) -> dict:
        """The user's target plus how far its power reaches (`reach`): a domain admin
        must not take over a user whose power reaches past its domain."""
        user = self.core.users_and_groups.get_user(user_id)
        return {**self._target(user),
                "reach_domain_id": reach_domain_id(self.core, caller, user.domain_id,
                                                   user_id=user.id)}

    @audited("updated.user", details=("enabled",))
    def update(self, caller: TokenInfo, user_id: str, merge_extra: bool = False,
               **changes) -> UserEntry:
        """`extra` replaces the user's extra attributes (gRPC's UpdateUser), or with
        `merge_extra` is merged into them, a None value removing its key (Keystone's
        PATCH): read and written in one transaction, so no concurrent update is lost."""
        self.enforce("update_user", caller, **self._managed_target(caller, user_id))
        return self._entry(self.core.users_and_groups.update_user(user_id, merge_extra=merge_extra,
                                                          **changes))

    @audited("deleted.user")
    def delete(self, caller: TokenInfo, user_id: str) -> None:
        self.enforce("delete_user", caller, **self._managed_target(caller, user_id))
        self.core.users_and_groups.delete_user(user_id)

    @audited("updated.password", id_arg="user_id", initiator_arg="user_id")
    def change_password(self, caller: TokenInfo | None, user_id: str, original: str, new: str,
                        source: str | None = None) -> None:
        """With a caller, its policy rule applies; without one (Keystone's way, for a
        user whose expired password gets it no token), the original password alone
        proves the right: see `UsersAndGroups.change_password`."""
        if caller is not None:
            self.enforce("change_password", caller,
                         **self._target(self.core.users_and_groups.get_user(user_id)))
        self.core.users_and_groups.change_password(user_id, original, new, source=source)

    def groups(self, caller: TokenInfo, user_id: str,
               limit: int | None = None) -> list[GroupEntry]:
        self.enforce("list_user_groups", caller, **self._target(self.core.users_and_groups.get_user(user_id)))
        return [GroupEntry.of(g) for g in self.core.users_and_groups.user_groups(user_id, limit)]

    def projects(self, caller: TokenInfo, user_id: str, enabled: bool | None = None,
                 limit: int | None = None) -> list[ProjectEntry]:
        """The projects on which the user holds a role, directly, through a group or by
        inheritance, by name (the first `limit`; only enabled or disabled ones when
        `enabled` is given): Keystone's rule `identity:list_user_projects`, the
        user's own or a reader's of its domain. A bounded number of queries, however
        many projects (`Assignments.project_ids_reached`)."""
        core = self.core
        self.enforce("list_user_projects", caller, **self._target(core.users_and_groups.get_user(user_id)))
        group_ids = core.users_and_groups.group_ids(user_id)
        ids = core.assignments.project_ids_reached(user_id, group_ids, core.resources)
        rows = core.resources.projects_with_domains(ids, enabled=enabled, limit=limit)
        tags = core.resources.tags_of(r.id for r in rows)
        return [ProjectEntry.of(p, tags.get(p.id, ())) for p in rows]


class GroupOps(Ops):
    def _target(self, group) -> dict:
        return {"group_id": group.id, "domain_id": group.domain_id}

    def _group(self, group_id: str):
        return self.core.users_and_groups.get_group(group_id)

    def get(self, caller: TokenInfo, group_id: str) -> GroupEntry:
        group = self._group(group_id)
        self.enforce("get_group", caller, **self._target(group))
        return GroupEntry.of(group)

    def list(self, caller: TokenInfo, domain_id: str = "",
             **filters) -> tuple[list[GroupEntry], str]:
        domain_id = domain_id or caller_domain(caller) or ""
        self.enforce("list_groups", caller, domain_id=domain_id or None)
        rows, token = self.core.users_and_groups.list_groups(domain_id=domain_id, **filters)
        return [GroupEntry.of(g) for g in rows], token

    @audited("created.group", details=("name", "domain_id"))
    def create(self, caller: TokenInfo, name: str, domain_id: str = "", **fields) -> GroupEntry:
        domain_id = owning_domain(caller, domain_id)
        self.enforce("create_group", caller, domain_id=domain_id)
        return GroupEntry.of(self.core.users_and_groups.create_group(name, domain_id, **fields))

    @audited("updated.group")
    def update(self, caller: TokenInfo, group_id: str, **changes) -> GroupEntry:
        self.enforce("update_group", caller, **self._target(self._group(group_id)))
        return GroupEntry.of(self.core.users_and_groups.update_group(group_id, **changes))

    @audited("deleted.group")
    def delete(self, caller: TokenInfo, group_id: str) -> None:
        self.enforce("delete_group", caller, **self._target(self._group(group_id)))
        self.core.users_and_groups.delete_group(group_id)

    def _membership_target(self, group_id: str, user_id: str) -> dict:
        """The group's target plus the member's domain: a domain admin may not let a
        user of another domain into its groups (and so into its projects)."""
        return {**self._target(self._group(group_id)),
                "user_domain_id": self.core.users_and_groups.get_user(user_id).domain_id}

    @audited("added.group_member", id_arg="group_id", details=("user_id",))
    def add_user(self, caller: TokenInfo, group_id: str, user_id: str) -> None:
        """Also asks how far the group's power reaches: joining a group with grants
        elsewhere, or a cloud-wide role, would be a grant of that power."""
        target = self._membership_target(group_id, user_id)
        target["group_reach_domain_id"] = reach_domain_id(self.core, caller, target["domain_id"],
                                                          group_id=group_id)
        self.enforce("add_user_to_group", caller, **target)
        self.core.users_and_groups.add_user_to_group(user_id, group_id)

    @audited("removed.group_member", id_arg="group_id", details=("user_id",))
    def remove_user(self, caller: TokenInfo, group_id: str, user_id: str) -> None:
        self.enforce("remove_user_from_group", caller, **self._membership_target(group_id, user_id))
        self.core.users_and_groups.remove_user_from_group(user_id, group_id)

    def has_user(self, caller: TokenInfo, group_id: str, user_id: str) -> bool:
        self.enforce("check_user_in_group", caller, **self._target(self._group(group_id)))
        return self.core.users_and_groups.is_member(user_id, group_id)

    def users(self, caller: TokenInfo, group_id: str,
              limit: int | None = None) -> list[UserEntry]:
        self.enforce("list_group_users", caller, **self._target(self._group(group_id)))
        return user_entries(self.core, self.core.users_and_groups.group_members(group_id, limit))
