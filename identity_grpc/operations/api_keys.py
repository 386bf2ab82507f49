"""Operations on API keys: a user's own, or anyone's for a system admin.

A key is a standing way to log in as its user, so making one for somebody else is an
act of its own: the request says so (`on_behalf`), the policy allows it (by default
system admins), and it is written to the audit log (`identity_grpc.audit`: who, for
whom, which key; never the secret)."""

from __future__ import annotations

import json
import logging

from ..errors import InvalidArgument, PermissionDenied
from ..records import ApiKeyEntry, TokenInfo
from .base import Ops

audit = logging.getLogger("identity_grpc.audit")


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
               role_ids=(), expires_at: int | None = None,
               on_behalf: bool = False) -> tuple[ApiKeyEntry, str]:
        own = caller.identity.user.id
        user_id = user_id or own
        self.enforce("create_api_key", caller, user_id=user_id, on_behalf=on_behalf)
        _not_from_api_key(caller, "create")
        if user_id != own and not on_behalf:
            raise InvalidArgument("on_behalf", f"user_id {user_id} is not the caller: creating "
                                  "a key for another user must be asked for explicitly; set "
                                  "on_behalf (the creation is audited)")
        if user_id == own and on_behalf:
            raise InvalidArgument("on_behalf", "the key would be the caller's own; on_behalf "
                                  "is for creating another user's key (name it in user_id)")
        key, secret = self._keys.create(user_id, project_id, name=name, role_ids=role_ids,
                                        expires_at=expires_at)
        if on_behalf:
            audit.info(json.dumps({
                "event": "api_key.created_on_behalf", "by_user_id": own,
                "by_scope": caller.identity.scope_type, "for_user_id": user_id,
                "api_key_id": key.id, "project_id": project_id,
                "audit_id": caller.audit_ids[0] if caller.audit_ids else ""}))
        return ApiKeyEntry.of(key), secret

    def list(self, caller: TokenInfo, user_id: str = "") -> list[ApiKeyEntry]:
        user_id = user_id or caller.identity.user.id
        self.enforce("list_api_keys", caller, user_id=user_id)
        return [ApiKeyEntry.of(k) for k in self._keys.list(user_id)]

    def delete(self, caller: TokenInfo, key_id: str) -> None:
        key = self._keys.get(key_id)
        self.enforce("delete_api_key", caller, user_id=key.user_id)
        _not_from_api_key(caller, "delete")
        self._keys.delete(key_id)
