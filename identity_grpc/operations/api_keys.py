"""Operations on API keys, which are Keystone's application credentials, and on the
users' access rules (docs/appcreds.md): a user's own, or anyone's for an admin.

The rules are Keystone's application-credential rules, on both transports; the
target is the owning user (`target.user_id`). Making a key for somebody else is an
act of its own, gRPC's only: the request says so (`on_behalf`), the rule
`identity:create_api_key` allows it (by default admins), and it is written to the
audit event `created.application_credential` (docs/audit.md: who, for whom
(`target.user_id`, `target.on_behalf`), which key; never the secret).

A token from a restricted key (Keystone's `unrestricted: false`, the default) cannot
make or delete keys, nor make trusts: else a key limited to `reader` could mint one
with all the user's roles."""

from __future__ import annotations

import dataclasses

from ..api_keys import key_for
from ..errors import InvalidArgument, NotFound, PermissionDenied
from ..records import AccessRuleEntry, ApiKeyEntry, ApiKeyRequest, NewApiKey, TokenInfo
from .audited import audited
from .base import Ops


def refuse_restricted_key(caller: TokenInfo, what: str) -> None:
    """PermissionDenied for a token of a restricted key (or an OAuth1 delegation)
    doing `what` (Keystone: "Using method 'application_credential' is not allowed
    for managing additional application credentials")."""
    key = caller.identity.api_key
    if "api_key" in caller.methods and (key is None or not key.unrestricted):
        raise PermissionDenied(f"a token issued with a restricted api key (application "
                               f"credential) cannot {what}")
    if "oauth1" in caller.methods:  # an OAuth1 delegation: its roles only, never a key's
        raise PermissionDenied(f"a token issued via OAuth1 delegation cannot {what}")


class ApiKeyOps(Ops):
    @property
    def _keys(self):
        return self.core.api_keys

    @audited("created.application_credential",
             details=("request.user_id", "request.project_id", "request.on_behalf"))
    def create(self, caller: TokenInfo, request: ApiKeyRequest) -> NewApiKey:
        """`request.on_behalf` None: the transport has no such notion (Keystone's
        HTTP API), so another user's key is refused as Keystone refuses it."""
        own = caller.identity.user.id
        user_id = request.user_id or own
        if user_id == own:
            self.enforce("create_application_credential", caller, user_id=user_id)
        else:
            self.enforce("create_api_key", caller, user_id=user_id,
                         on_behalf=bool(request.on_behalf))
        refuse_restricted_key(caller, "create api keys (application credentials)")
        if user_id != own and request.on_behalf is None:
            raise PermissionDenied("Cannot create an application credential for another user")
        if user_id != own and not request.on_behalf:
            raise InvalidArgument("on_behalf", f"user_id {user_id} is not the caller: creating "
                                  "a key for another user must be asked for explicitly; set "
                                  "on_behalf (the creation is audited)")
        if user_id == own and request.on_behalf:
            raise InvalidArgument("on_behalf", "the key would be the caller's own; on_behalf "
                                  "is for creating another user's key (name it in user_id)")
        project_id = request.project_id
        if not project_id:
            project = caller.identity.project
            if project is None:
                raise InvalidArgument("project_id", "is required (or authenticate with a "
                                      "project-scoped token: the key is for its project)")
            project_id = project.id
        key, secret = self._keys.create(dataclasses.replace(request, project_id=project_id),
                                        user_id)
        return NewApiKey(self._keys.entry(key), secret, key_for(key.id, secret))

    def get(self, caller: TokenInfo, key_id: str, user_id: str = "") -> ApiKeyEntry:
        """`user_id`: the owner the request names (Keystone's URL); another's key is
        then not found."""
        key = self._owned(caller, "get_application_credential", key_id, user_id)
        return self._keys.entry(key)

    def list(self, caller: TokenInfo, user_id: str = "", name: str | None = None
             ) -> list[ApiKeyEntry]:
        user_id = user_id or caller.identity.user.id
        self.enforce("list_application_credentials", caller, user_id=user_id)
        return [self._keys.entry(k) for k in self._keys.list(user_id, name)]

    @audited("deleted.application_credential", id_arg="key_id", details=("user_id",))
    def delete(self, caller: TokenInfo, key_id: str, user_id: str = "") -> None:
        self._owned(caller, "delete_application_credential", key_id, user_id)
        refuse_restricted_key(caller, "delete api keys (application credentials)")
        self._keys.delete(key_id)

    def _owned(self, caller: TokenInfo, rule: str, key_id: str, user_id: str):
        if user_id:  # Keystone checks the rule on the URL's user first
            self.enforce(rule, caller, user_id=user_id)
        key = self._keys.get(key_id)
        if user_id and key.user_id != user_id:
            raise NotFound(f"Could not find Application Credential: {key_id}.")
        if not user_id:
            self.enforce(rule, caller, user_id=key.user_id)
        return key

    # ---- access rules -----------------------------------------------------------

    def access_rules(self, caller: TokenInfo, user_id: str = "") -> list[AccessRuleEntry]:
        """The user's (empty: the caller's) access rules."""
        user_id = user_id or caller.identity.user.id
        self.enforce("list_access_rules", caller, user_id=user_id)
        return [AccessRuleEntry.of(r) for r in self._keys.rules(user_id)]

    def access_rule(self, caller: TokenInfo, user_id: str, rule_id: str) -> AccessRuleEntry:
        user_id = user_id or caller.identity.user.id
        self.enforce("get_access_rule", caller, user_id=user_id)
        return AccessRuleEntry.of(self._rule_of(user_id, rule_id))

    @audited("deleted.access_rule", id_arg="rule_id", details=("user_id",))
    def delete_access_rule(self, caller: TokenInfo, user_id: str, rule_id: str) -> None:
        user_id = user_id or caller.identity.user.id
        self.enforce("delete_access_rule", caller, user_id=user_id)
        self._rule_of(user_id, rule_id)
        self._keys.delete_rule(rule_id)

    def _rule_of(self, user_id: str, rule_id: str):
        rule = self._keys.rule(rule_id)
        if rule.user_id != user_id:
            raise NotFound(f"Could not find access rule: {rule_id}.")
        return rule
