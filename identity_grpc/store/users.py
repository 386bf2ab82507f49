"""Users and their password history (tables User, Password): what a user is, how it
is found, and its passwords, newest last."""

import peewee as pw

from .base import Change, ConceptStore, present
from .paging import page
from .unique import refusing_clash


class UserStore(ConceptStore):
    # ---- users ---------------------------------------------------------------

    def find(self, user_id: str):
        """The user, or None."""
        User = self.t.User
        return User.get_or_none(User.id == user_id)

    def get(self, user_id: str):
        """The user, or NotFound("user <id> not found")."""
        return present(self.find(user_id), f"user {user_id} not found")

    def find_by_name(self, domain_id: str, name: str):
        """The user named `name` in the domain, or None."""
        User = self.t.User
        return User.get_or_none((User.domain == domain_id) & (User.name == name))

    def find_with_domain(self, user_id: str):
        """The user with its domain read in the same query (`user.domain`), or None:
        what authentication and scope checks need, both enabled flags, at once."""
        User, Domain = self.t.User, self.t.Domain
        return User.select(User, Domain).join(Domain).where(User.id == user_id).first()

    def by_ids(self, user_ids) -> dict:
        """{id: user} for those of the ids that name a user, in one query."""
        User = self.t.User
        user_ids = list(set(user_ids))
        return {row.id: row for row in User.select().where(User.id.in_(user_ids))} if user_ids else {}

    def exists(self, user_id: str) -> bool:
        User = self.t.User
        return User.select().where(User.id == user_id).exists()

    def list_page(self, name: str = "", domain_id: str = "", enabled: bool | None = None,
                  page_size: int = 0, page_token: str = ""):
        """(one page of the users matching every filter given, by name then id; the
        next page's token, "" on the last)."""
        User = self.t.User
        query = User.select()
        if name:
            query = query.where(User.name == name)
        if domain_id:
            query = query.where(User.domain == domain_id)
        if enabled is not None:
            query = query.where(User.enabled == enabled)
        return page(query, (User.name, User.id), page_size, page_token)

    def create(self, name: str, domain_id: str, **fields):
        """The new user (email, description, enabled, default_project, extra, options:
        the columns' own names). AlreadyExists when its domain holds one of that name;
        a domain or project that does not exist is an IntegrityError."""
        with refusing_clash(f"a user named {name!r} already exists in domain {domain_id}"):
            return self.t.User.create(name=name, domain=domain_id, **fields)

    def update(self, user_id: str, change: Change):
        """Apply `change` to the user's row, read locked in this transaction (see
        `ConceptStore.update`); NotFound when there is no such user, AlreadyExists
        when the new name is taken in its domain."""
        return super().update(
            self.t.User, user_id, change, f"user {user_id} not found",
            clash=lambda row, fields: f"a user named {fields.get('name')!r} already exists "
                                      f"in domain {row.domain_id}")

    def delete(self, user_id: str) -> bool:
        """Delete the user with its passwords, memberships and API keys (the tables'
        cascades); its role assignments are the assignment store's. False: none."""
        User = self.t.User
        return bool(User.delete().where(User.id == user_id).execute())

    def ids_in_domain(self, domain_id: str) -> list[str]:
        User = self.t.User
        return [u.id for u in User.select(User.id).where(User.domain == domain_id).order_by(User.id)]

    def count_in_domain(self, domain_id: str) -> int:
        User = self.t.User
        return User.select().where(User.domain == domain_id).count()

    # ---- failed password checks (lockout) -------------------------------------

    def reset_failures(self, user_id: str) -> None:
        User = self.t.User
        User.update(failed_auth_count=0, failed_auth_at=None).where(User.id == user_id).execute()

    def set_failures_if(self, user_id: str, seen: tuple[int, int | None],
                        new: tuple[int, int | None]) -> bool:
        """Compare-and-set of (failed_auth_count, failed_auth_at): set `new` only
        while the row still holds `seen`. True when it was set. (MySQL evaluates an
        UPDATE's SET clauses in order, so one statement cannot both test and move
        the run's start: the caller re-reads and tries again instead.)"""
        User = self.t.User
        count, since = seen
        unchanged = User.failed_auth_at.is_null() if since is None else User.failed_auth_at == since
        return bool(User.update(failed_auth_count=new[0], failed_auth_at=new[1]).where(
            (User.id == user_id) & (User.failed_auth_count == count) & unchanged).execute())

    # ---- passwords -----------------------------------------------------------

    def latest_password(self, user_id: str):
        """The user's current password row, or None."""
        Password = self.t.Password
        return (Password.select().where(Password.user == user_id)
                .order_by(Password.id.desc()).first())

    def recent_passwords(self, user_id: str, count: int) -> list:
        """The user's last `count` password rows, newest first."""
        Password = self.t.Password
        return list(Password.select().where(Password.user == user_id)
                    .order_by(Password.id.desc()).limit(count))

    def add_password(self, user_id: str, hashed: str, created_at: int,
                     expires_at: int | None) -> None:
        """A new current password for the user (the older ones stay, as history)."""
        self.t.Password.create(user=user_id, hash=hashed, created_at=created_at,
                               expires_at=expires_at)

    def rehash_password(self, password_id: int, hashed: str) -> None:
        """The same password, hashed again (new parameters): its dates stay."""
        Password = self.t.Password
        Password.update(hash=hashed).where(Password.id == password_id).execute()

    def password_expiries(self, user_ids) -> dict:
        """{user id: when its current password expires (None: never)} for the users
        given that have a password, in one query however many users."""
        Password = self.t.Password
        user_ids = sorted(set(user_ids))
        if not user_ids:
            return {}
        latest = (Password.select(pw.fn.MAX(Password.id)).where(Password.user.in_(user_ids))
                  .group_by(Password.user))
        rows = Password.select(Password.user, Password.expires_at).where(Password.id.in_(latest))
        return {r.user_id: r.expires_at for r in rows}
