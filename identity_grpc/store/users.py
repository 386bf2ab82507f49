"""Users and their password history (tables User, Password): what a user is, how it is found, and its passwords newest last."""

from .base import ConceptStore


class UserStore(ConceptStore):
    pass

    # --- for resources
    def count_in_domain(self, domain_id: str) -> int:
        User = self.t.User
        return User.select().where(User.domain == domain_id).count()

    def exists(self, user_id: str) -> bool:
        User = self.t.User
        return User.get_or_none(User.id == user_id) is not None

    def by_ids(self, user_ids) -> dict:
        """id -> row of the users of `user_ids` that exist, in one query."""
        User = self.t.User
        ids = list(user_ids)
        return {row.id: row for row in User.select().where(User.id.in_(ids))} if ids else {}
