"""A user's API keys, Keystone's application credentials (table ApiKey; only a hash of
each secret is kept), and the users' access rules they hold (tables AccessRule,
ApiKeyAccessRule)."""

from .base import ConceptStore
from .unique import refusing_clash


class CredentialStore(ConceptStore):
    def create(self, key_id: str, user_id: str, project_id: str, secret_hash: str,
               role_ids: str, created_at: int, name: str = "", expires_at: int | None = None,
               description: str = "", unrestricted: bool = False,
               access_rule_ids: tuple[str, ...] = ()):
        """The new key (`role_ids` a JSON list, `expires_at` unix microseconds) holding
        the given access rules. A name the user already gave a key is AlreadyExists; a
        user, project or rule that does not exist is an IntegrityError."""
        with refusing_clash(f"an application credential named {name!r} already exists for "
                            f"user {user_id}"):
            row = self.t.ApiKey.create(
                id=key_id, name=name, user=user_id, project=project_id,
                secret_hash=secret_hash, role_ids=role_ids, expires_at=expires_at,
                created_at=created_at, description=description, unrestricted=unrestricted)
        for rule_id in access_rule_ids:
            self.t.ApiKeyAccessRule.create(api_key=key_id, access_rule=rule_id)
        return row

    def find(self, key_id: str):
        """The key, or None."""
        ApiKey = self.t.ApiKey
        return ApiKey.get_or_none(ApiKey.id == key_id)

    def find_by_name(self, user_id: str, name: str):
        """The user's key of that name, or None."""
        ApiKey = self.t.ApiKey
        return ApiKey.get_or_none((ApiKey.user == user_id) & (ApiKey.name == name))

    def list_for_user(self, user_id: str, name: str | None = None) -> list:
        """The user's keys (only the one named `name`, if given), oldest first (then by id)."""
        ApiKey = self.t.ApiKey
        query = ApiKey.select().where(ApiKey.user == user_id)
        if name is not None:
            query = query.where(ApiKey.name == name)
        return list(query.order_by(ApiKey.created_at, ApiKey.id))

    def ids_for_user(self, user_id: str) -> list[str]:
        """The ids of the user's keys, in no promised order."""
        ApiKey = self.t.ApiKey
        return [key.id for key in ApiKey.select(ApiKey.id).where(ApiKey.user == user_id)]

    def delete(self, key_id: str) -> bool:
        """False: no such key. Its access rules stay the user's."""
        ApiKey = self.t.ApiKey
        return bool(ApiKey.delete().where(ApiKey.id == key_id).execute())

    # ---- access rules -------------------------------------------------------------

    def find_or_create_rule(self, rule_id: str, user_id: str, service: str, path: str,
                            method: str, created_at: int):
        """The user's rule for (service, path, method): the one it has, else a new one
        with `rule_id`. Two writers making the same rule at once: one gets an
        IntegrityError, and its operation runs again and finds the other's."""
        AccessRule = self.t.AccessRule
        found = AccessRule.get_or_none((AccessRule.user == user_id)
                                       & (AccessRule.service == service)
                                       & (AccessRule.path == path)
                                       & (AccessRule.method == method))
        if found is not None:
            return found
        return AccessRule.create(id=rule_id, user=user_id, service=service, path=path,
                                 method=method, created_at=created_at)

    def find_rule(self, rule_id: str):
        """The access rule, or None."""
        AccessRule = self.t.AccessRule
        return AccessRule.get_or_none(AccessRule.id == rule_id)

    def rules_of_user(self, user_id: str) -> list:
        """The user's access rules, oldest first (then by id)."""
        AccessRule = self.t.AccessRule
        return list(AccessRule.select().where(AccessRule.user == user_id)
                    .order_by(AccessRule.created_at, AccessRule.id))

    def rules_of_key(self, key_id: str) -> list:
        """The access rules a key holds, oldest first (then by id)."""
        AccessRule, Held = self.t.AccessRule, self.t.ApiKeyAccessRule
        return list(AccessRule.select().join(Held, on=(Held.access_rule == AccessRule.id))
                    .where(Held.api_key == key_id)
                    .order_by(AccessRule.created_at, AccessRule.id))

    def rule_in_use(self, rule_id: str) -> bool:
        Held = self.t.ApiKeyAccessRule
        return Held.select().where(Held.access_rule == rule_id).exists()

    def delete_rule(self, rule_id: str) -> bool:
        """False: no such rule. (Keys holding it would let go of it: check first.)"""
        AccessRule = self.t.AccessRule
        return bool(AccessRule.delete().where(AccessRule.id == rule_id).execute())
