"""A user's API keys (table ApiKey): only a hash of each secret is kept."""

from .base import ConceptStore


class CredentialStore(ConceptStore):
    def create(self, key_id: str, user_id: str, project_id: str, secret_hash: str,
               role_ids: str, created_at: int, name: str = "", expires_at: int | None = None):
        """The new key (`role_ids` a JSON list). A user or project that does not exist
        is an IntegrityError."""
        return self.t.ApiKey.create(id=key_id, name=name, user=user_id, project=project_id,
                                    secret_hash=secret_hash, role_ids=role_ids,
                                    expires_at=expires_at, created_at=created_at)

    def find(self, key_id: str):
        """The key, or None."""
        ApiKey = self.t.ApiKey
        return ApiKey.get_or_none(ApiKey.id == key_id)

    def list_for_user(self, user_id: str) -> list:
        """The user's keys, oldest first (then by id)."""
        ApiKey = self.t.ApiKey
        return list(ApiKey.select().where(ApiKey.user == user_id)
                    .order_by(ApiKey.created_at, ApiKey.id))

    def ids_for_user(self, user_id: str) -> list[str]:
        """The ids of the user's keys, in no promised order."""
        ApiKey = self.t.ApiKey
        return [key.id for key in ApiKey.select(ApiKey.id).where(ApiKey.user == user_id)]

    def delete(self, key_id: str) -> bool:
        """False: no such key."""
        ApiKey = self.t.ApiKey
        return bool(ApiKey.delete().where(ApiKey.id == key_id).execute())
