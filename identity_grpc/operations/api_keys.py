"""Operations on API keys: a user's own, or anyone's for a system admin."""

from __future__ import annotations

from ..errors import PermissionDenied
from ..records import TokenInfo
from ..store.models import ApiKey
from .base import Ops


def _not_from_api_key(caller: TokenInfo, what: str) -> None:
    """A token got with an api key may be limited to some roles; were it to make or
    remove keys, a key limited to `reader` could mint one with all the user's roles."""
    if "api_key" in caller.methods:
        raise PermissionDenied(f"a token issued with an api key cannot {what} api keys")


class ApiKeyOps(Ops):
    @property
    def _keys(self):
        return self.core.api_keys

    def create(self, caller: TokenInfo, project_id: str, user_id: str = "", name: str = "",
               role_ids=(), expires_at: int | None = None) -> tuple[ApiKey, str]:
        user_id = user_id or caller.identity.user.id
        self.enforce("create_api_key", caller, user_id=user_id)
        _not_from_api_key(caller, "create")
        return self._keys.create(user_id, project_id, name=name, role_ids=role_ids,
                                 expires_at=expires_at)

    def list(self, caller: TokenInfo, user_id: str = "") -> list[ApiKey]:
        user_id = user_id or caller.identity.user.id
        self.enforce("list_api_keys", caller, user_id=user_id)
        return self._keys.list(user_id)

    def delete(self, caller: TokenInfo, key_id: str) -> None:
        key = self._keys.get(key_id)
        self.enforce("delete_api_key", caller, user_id=key.user_id)
        _not_from_api_key(caller, "delete")
        self._keys.delete(key_id)
