"""OAuth1 delegation (Keystone's OS-OAUTH1): a consumer gets tokens of a user, on one
project, with the roles that user delegated, without ever holding the user's password.

The flow (RFC 5849's three legs):
1. the consumer asks for a *request token* for a project, signing with its own secret;
2. a user holding roles there *authorizes* it with some of them, and gets a verifier;
3. the consumer exchanges the request token (signed with both secrets, with the
   verifier) for an *access token*, once;
4. the consumer signs token requests with the access token (the `oauth1` method) and
   gets project-scoped tokens carrying the access token's id.

The signatures are checked with oauthlib (`oauth1_signatures`). A token issued with an
access token gives only its delegated roles (and what they imply) that the user still
holds on the project, computed by `scopes.Scopes` on every validation; deleting the
access token or its consumer ends such tokens at once (`Kind.OAUTH1_TOKEN`,
`Kind.OAUTH1_CONSUMER`), on every replica.
"""

import json
import secrets
import time
from typing import Callable

from identity_api.changes import Kind

from .change_feed import Writer
from .errors import (FailedPrecondition, ForbiddenState, InvalidArgument, NotFound,
                     Unauthenticated)
from .oauth1_signatures import (Lookups, check_access_token_request, check_request_token_request,
                                check_resource_request, expired, new_verifier, oauth_parameters)
from .records import OAuth1Credentials, RoleRecord, Selector
from .store import Store
from .store.models import new_id
from .validation import check_id, check_text

# The user's effective roles on a project now; empty when it may not scope there.
RolesOn = Callable[[str, str], tuple[RoleRecord, ...]]
RESERVED_CONSUMER_FIELDS = ("id", "secret", "links")


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def _required(params: dict, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise InvalidArgument(name, "is required in the OAuth header")
    return value


def _check_extra(extra: dict) -> str:
    for key in extra:
        if key in RESERVED_CONSUMER_FIELDS:
            raise InvalidArgument(f"consumer.{key}", "is set by the service")
        check_text(f"consumer.{key}", key, 255)
    text = json.dumps(extra)
    check_text("consumer", text)
    return text


class OAuth1:
    """Owns consumers, request tokens and access tokens (their secrets: HMAC needs
    them as they are); promises an access token never gives more than its authorizing
    user holds on its project, and that a request token is exchanged at most once."""

    def __init__(self, store: Store, writer: Writer, roles_on: RolesOn,
                 request_token_duration: int, access_token_duration: int,
                 clock: Callable[[], float] = time.time):
        self._store = store
        self._oauth1 = store.oauth1
        self._writer = writer
        self._roles_on = roles_on
        self._request_duration = request_token_duration
        self._access_duration = access_token_duration
        self._clock = clock

    def _lookups(self) -> Lookups:
        o = self._oauth1
        return Lookups(o.find_consumer, o.find_request_token, o.find_access_token, self._clock)

    # ---- consumers ---------------------------------------------------------------------

    def create_consumer(self, description: str = "", extra: dict | None = None):
        """The new consumer and its secret (shown once; kept to check signatures)."""
        check_text("consumer.description", description)
        extra_text = _check_extra(extra or {})
        secret = _new_secret()
        with self._writer.transaction():
            row = self._oauth1.create_consumer(new_id(), secret, description, extra_text,
                                               int(self._clock()))
        return row, secret

    def get_consumer(self, consumer_id: str):
        check_id("consumer_id", consumer_id)
        row = self._oauth1.find_consumer(consumer_id)
        if row is None:
            raise NotFound(f"consumer {consumer_id} not found")
        return row

    def list_consumers(self) -> list:
        return self._oauth1.list_consumers()

    def update_consumer(self, consumer_id: str, description: str | None = None,
                        extra: dict | None = None):
        """`extra` is merged into the consumer's (a None value removes its key)."""
        self.get_consumer(consumer_id)
        if description is not None:
            check_text("consumer.description", description)
        _check_extra(extra or {})

        def change(row) -> dict:
            fields = {}
            if description is not None and description != row.description:
                fields["description"] = description
            if extra:
                merged = {**json.loads(row.extra or "{}"), **extra}
                fields["extra"] = _check_extra({k: v for k, v in merged.items() if v is not None})
            return fields

        with self._writer.transaction():
            return self._oauth1.update_consumer(consumer_id, change)

    def delete_consumer(self, consumer_id: str) -> None:
        """With its request and access tokens: the tokens issued with them end now."""
        self.get_consumer(consumer_id)
        with self._writer.transaction() as tx:
            if not self._oauth1.delete_consumer(consumer_id):
                raise NotFound(f"consumer {consumer_id} not found")
            tx.changed(Kind.OAUTH1_CONSUMER, consumer_id)

    # ---- the flow ------------------------------------------------------------------------

    def create_request_token(self, credentials: OAuth1Credentials, project_id: str):
        """A request token for `project_id`, asked for by the consumer that signed the
        request, and its secret."""
        consumer_id = _required(oauth_parameters(credentials), "oauth_consumer_key")
        if not project_id:
            raise InvalidArgument("Requested-Project-Id", "is required")
        check_id("Requested-Project-Id", project_id)
        if not self._store.resources.project_exists(project_id):
            raise NotFound(f"project {project_id} not found")
        self.get_consumer(consumer_id)
        check_request_token_request(self._lookups(), credentials)
        now = int(self._clock())
        expires_at = now + self._request_duration if self._request_duration else None
        secret = _new_secret()
        with self._writer.transaction():
            self._oauth1.delete_expired_request_tokens(now)
            row = self._oauth1.create_request_token(new_id(), secret, consumer_id, project_id,
                                                    expires_at, now)
        return row, secret

    def request_token_project(self, request_token_id: str) -> str:
        """The project a request token asks for (the target of the rule that
        authorizes it)."""
        check_id("request_token_id", request_token_id)
        token = self._oauth1.find_request_token(request_token_id)
        if token is None:
            raise NotFound(f"request token {request_token_id} not found")
        return token.project_id

    def authorize_request_token(self, user_id: str, request_token_id: str,
                                roles: list[Selector]) -> str:
        """The verifier of a request token the user authorizes with `roles` (by id or
        by name), which it must hold on the token's project."""
        check_id("request_token_id", request_token_id)
        token = self._oauth1.find_request_token(request_token_id)
        if token is None:
            raise NotFound(f"request token {request_token_id} not found")
        if expired(token, self._clock()):
            raise Unauthenticated("the request token has expired")
        if not roles:
            raise InvalidArgument("roles", "at least one role is required")
        if not self._store.users.exists(user_id):  # an LDAP user's (docs/ldap.md)
            raise ForbiddenState("OAuth1 delegations are kept for the users of SQL domains "
                                 f"only: {user_id} is a directory (LDAP) user")
        role_ids = sorted({self._role_id(r) for r in roles})
        held = {r.id for r in self._roles_on(user_id, token.project_id)}
        missing = [r for r in role_ids if r not in held]
        if missing:
            raise Unauthenticated("the authorizing user does not hold these roles on the "
                                  "project: " + ", ".join(missing))
        verifier = new_verifier()

        def change(row) -> dict:
            if row.authorizing_user_id is not None:
                raise FailedPrecondition(f"request token {request_token_id} is already "
                                         "authorized")
            return {"authorizing_user": user_id, "role_ids": json.dumps(role_ids),
                    "verifier": verifier}

        with self._writer.transaction():
            self._oauth1.authorize_request_token(request_token_id, change)
        return verifier

    def _role_id(self, role: Selector) -> str:
        if role.id:
            check_id("roles.id", role.id)
            return self._store.assignments.get_role(role.id).id  # NotFound when there is none
        if not role.name:
            raise InvalidArgument("roles", "each role needs an id or a name")
        found = self._store.assignments.find_role(role.name)
        if found is None:
            raise NotFound(f"role {role.name} not found")
        return found.id

    def create_access_token(self, credentials: OAuth1Credentials):
        """The access token an authorized request token is exchanged for (once), and
        its secret."""
        params = oauth_parameters(credentials)
        for name in ("oauth_consumer_key", "oauth_token", "oauth_verifier"):
            _required(params, name)
        request_token_id = params["oauth_token"]
        check_id("oauth_token", request_token_id)
        token = self._oauth1.find_request_token(request_token_id)
        if token is None:
            raise NotFound(f"request token {request_token_id} not found")
        if expired(token, self._clock()):
            raise Unauthenticated("the request token has expired")
        check_access_token_request(self._lookups(), credentials)
        now = int(self._clock())
        expires_at = now + self._access_duration if self._access_duration else None
        secret = _new_secret()
        with self._writer.transaction():
            taken = self._oauth1.take_request_token(request_token_id)
            if taken.authorizing_user_id is None:
                raise Unauthenticated("the request token is not authorized")
            row = self._oauth1.create_access_token(
                new_id(), secret, taken.consumer_id,
                taken.authorizing_user_id, taken.project_id, taken.role_ids or "[]",
                expires_at, now)
        return row, secret

    def access_token_for(self, credentials: OAuth1Credentials):
        """The unexpired access token a token request is signed with (the `oauth1`
        method); Unauthenticated unless the signature checks."""
        access_token_id = _required(oauth_parameters(credentials), "oauth_token")
        lookups = self._lookups()
        check_resource_request(lookups, credentials)
        row = lookups.row("access", access_token_id)
        if row is None:  # the signature checked, so it was there a moment ago
            raise Unauthenticated("the access token is no longer valid")
        return row

    # ---- access tokens -----------------------------------------------------------------

    def get_access_token(self, access_token_id: str):
        check_id("access_token_id", access_token_id)
        row = self._oauth1.find_access_token(access_token_id)
        if row is None:
            raise NotFound(f"access token {access_token_id} not found")
        return row

    def list_access_tokens(self, user_id: str) -> list:
        """The access tokens the user authorized, oldest first; never their secrets."""
        return self._oauth1.list_access_tokens(user_id)

    def delete_access_token(self, access_token_id: str) -> None:
        """The tokens issued with it end now."""
        self.get_access_token(access_token_id)
        with self._writer.transaction() as tx:
            if not self._oauth1.delete_access_token(access_token_id):
                raise NotFound(f"access token {access_token_id} not found")
            tx.changed(Kind.OAUTH1_TOKEN, access_token_id)

    def roles_of(self, access_token) -> list:
        """The roles an access token delegates that still exist, as role rows."""
        found = self._store.assignments.roles_by_ids(json.loads(access_token.role_ids or "[]"))
        return sorted(found.values(), key=lambda r: r.name)
