"""Operations on OAuth1 (Keystone's OS-OAUTH1): consumers, the signed flow that turns a
user's authorization into an access token, and the access tokens a user authorized.

The signed steps (a request token, an access token) have no caller token: the OAuth1
signature is the proof, which the core checks. Authorizing a request token, and
listing a user's access tokens, are refused to a token that is itself a delegation
(Keystone's rule), so that delegated roles cannot be delegated again."""

from __future__ import annotations

from ..errors import NotFound, PermissionDenied
from ..records import (AccessTokenEntry, ConsumerEntry, OAuth1Credentials, RequestTokenEntry,
                       RoleEntry, Selector, TokenInfo)
from .audited import audited
from .base import Ops

DELEGATED_METHODS = ("oauth1", "api_key")


def _not_delegated(caller: TokenInfo, what: str) -> None:
    if any(m in caller.methods for m in DELEGATED_METHODS):
        raise PermissionDenied(f"Cannot {what} with a token issued via delegation.")


class OAuth1Ops(Ops):
    @property
    def _oauth1(self):
        return self.core.oauth1

    # ---- consumers ---------------------------------------------------------------------

    @audited("created.oauth1_consumer")
    def create_consumer(self, caller: TokenInfo, description: str = "",
                        extra: dict | None = None) -> tuple[ConsumerEntry, str]:
        """The consumer and its secret, shown this once."""
        self.enforce("create_consumer", caller)
        row, secret = self._oauth1.create_consumer(description, extra)
        return ConsumerEntry.of(row), secret

    def get_consumer(self, caller: TokenInfo, consumer_id: str) -> ConsumerEntry:
        self.enforce("get_consumer", caller, consumer_id=consumer_id)
        return ConsumerEntry.of(self._oauth1.get_consumer(consumer_id))

    def list_consumers(self, caller: TokenInfo) -> list[ConsumerEntry]:
        self.enforce("list_consumers", caller)
        return [ConsumerEntry.of(r) for r in self._oauth1.list_consumers()]

    @audited("updated.oauth1_consumer")
    def update_consumer(self, caller: TokenInfo, consumer_id: str,
                        description: str | None = None,
                        extra: dict | None = None) -> ConsumerEntry:
        self.enforce("update_consumer", caller, consumer_id=consumer_id)
        return ConsumerEntry.of(self._oauth1.update_consumer(consumer_id, description, extra))

    @audited("deleted.oauth1_consumer")
    def delete_consumer(self, caller: TokenInfo, consumer_id: str) -> None:
        self.enforce("delete_consumer", caller, consumer_id=consumer_id)
        self._oauth1.delete_consumer(consumer_id)

    # ---- the signed flow ------------------------------------------------------------------

    @audited("created.oauth1_request_token", details=("project_id",))
    def create_request_token(self, credentials: OAuth1Credentials,
                             project_id: str) -> tuple[RequestTokenEntry, str]:
        row, secret = self._oauth1.create_request_token(credentials, project_id)
        return RequestTokenEntry.of(row), secret

    @audited("authorized.oauth1_request_token", id_arg="request_token_id")
    def authorize_request_token(self, caller: TokenInfo, request_token_id: str,
                                roles: list[Selector]) -> str:
        """The verifier the consumer needs, for the caller's own roles on the
        request token's project."""
        self.enforce("authorize_request_token", caller, request_token_id=request_token_id,
                     project_id=self._project_of_request_token(request_token_id))
        _not_delegated(caller, "authorize a request token")
        return self._oauth1.authorize_request_token(caller.identity.user.id, request_token_id,
                                                    roles)

    def _project_of_request_token(self, request_token_id: str) -> str | None:
        try:
            return self._oauth1.request_token_project(request_token_id)
        except NotFound:
            return None  # the rule decides first; the manager then answers NotFound

    @audited("created.oauth1_access_token")
    def create_access_token(self, credentials: OAuth1Credentials
                            ) -> tuple[AccessTokenEntry, str]:
        row, secret = self._oauth1.create_access_token(credentials)
        return AccessTokenEntry.of(row), secret

    # ---- a user's access tokens ---------------------------------------------------------

    def list_access_tokens(self, caller: TokenInfo, user_id: str) -> list[AccessTokenEntry]:
        self.enforce("list_access_tokens", caller, user_id=user_id)
        _not_delegated(caller, "list access tokens")
        return [AccessTokenEntry.of(r) for r in self._oauth1.list_access_tokens(user_id)]

    def _users_access_token(self, user_id: str, access_token_id: str):
        row = self._oauth1.get_access_token(access_token_id)
        if row.authorizing_user_id != user_id:
            raise NotFound(f"access token {access_token_id} not found")
        return row

    def get_access_token(self, caller: TokenInfo, user_id: str,
                         access_token_id: str) -> AccessTokenEntry:
        self.enforce("get_access_token", caller, user_id=user_id)
        return AccessTokenEntry.of(self._users_access_token(user_id, access_token_id))

    @audited("deleted.oauth1_access_token", id_arg="access_token_id", details=("user_id",))
    def delete_access_token(self, caller: TokenInfo, user_id: str, access_token_id: str) -> None:
        self.enforce("delete_access_token", caller, user_id=user_id)
        self._users_access_token(user_id, access_token_id)
        self._oauth1.delete_access_token(access_token_id)

    def list_access_token_roles(self, caller: TokenInfo, user_id: str,
                                access_token_id: str) -> list[RoleEntry]:
        self.enforce("list_access_token_roles", caller, user_id=user_id)
        row = self._users_access_token(user_id, access_token_id)
        return [RoleEntry.of(r) for r in self._oauth1.roles_of(row)]

    def get_access_token_role(self, caller: TokenInfo, user_id: str, access_token_id: str,
                              role_id: str) -> RoleEntry:
        self.enforce("get_access_token_role", caller, user_id=user_id)
        row = self._users_access_token(user_id, access_token_id)
        for role in self._oauth1.roles_of(row):
            if role.id == role_id:
                return RoleEntry.of(role)
        raise NotFound(f"role {role_id} not found in access token {access_token_id}")
