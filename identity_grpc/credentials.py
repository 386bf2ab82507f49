"""Checking what a caller presents to authenticate: a password (through the throttles
and the security-compliance rules), an API key, or a request signed with an EC2
credential. Each answers with the one AUTH_FAILED, so a caller cannot learn which part
was wrong or whether a user exists."""

from .api_keys import ApiKeys, expiry_seconds
from .errors import InvalidArgument, Unauthenticated
from .passwords import check_acceptable
from .oauth1 import OAuth1
from .records import (ApiKeyCredentials, Ec2Credentials, OAuth1Credentials, PasswordCredentials,
                      Selector)
from .resources import Resources
from .store import Store
from .users_and_groups import UsersAndGroups
from .validation import check_id_or_name

# One answer for every failed authentication, so a caller cannot learn whether a
# user or project exists, which part was wrong, or whether it holds a role there.
AUTH_FAILED = ("authentication failed: the credentials, or the requested scope, "
               "were not accepted")


class CredentialChecks:
    """Owns the checking of passwords and API keys presented to authenticate; promises
    the same answer, in comparable time, for every way they can be wrong."""

    def __init__(self, store: Store, identity: UsersAndGroups, resources: Resources,
                 api_keys: ApiKeys, credential_blobs=None, oauth1: OAuth1 | None = None):
        self._users = store.users
        self._identity = identity
        self._resources = resources
        self._api_keys = api_keys
        self._credential_blobs = credential_blobs  # a CredentialBlobs, for EC2 signatures
        self._oauth1 = oauth1

    def password(self, credentials: PasswordCredentials, source: str | None):
        """The enabled user whose password this is. `source` is the client's address,
        which the throttles of failed passwords go by (None: from inside the server)."""
        selector = credentials.user
        check_id_or_name("user", selector.id, selector.name)
        check_acceptable(credentials.password)
        if not selector.id and selector.domain is None:
            raise InvalidArgument("user.domain", "a user named by name needs its domain")
        # Shed floods before any lookup; the throttles count an existing user by its
        # id however it was named, so naming one account three ways does not triple
        # a guesser's budget.
        with self._identity.login_slot():
            if selector.id:
                user = self._identity.find_user(user_id=selector.id)
                claimed = selector.id
            else:
                domain = find_domain(self._resources, selector.domain, "user.domain")
                user = self._identity.find_user(name=selector.name, domain_id=domain.id) if domain else None
                claimed = f"{domain.id if domain else selector.domain.id or selector.domain.name}/{selector.name}"
            if not self._identity.check_password(user, credentials.password, source, claimed) \
                    or not user.enabled:
                raise Unauthenticated(AUTH_FAILED)
        return user

    def api_key(self, credentials: ApiKeyCredentials, now: int):
        """The unexpired key of an enabled user (the one named, if any): by gRPC's
        `<id>.<secret>`, by id and secret, or by the user, the key's name and secret."""
        selector = credentials.user
        if selector is not None:
            check_id_or_name("api_key.user", selector.id, selector.name)
            if not selector.id:
                if selector.domain is None:
                    raise InvalidArgument("api_key.user.domain",
                                          "a user named by name needs its domain")
                check_id_or_name("api_key.user.domain", selector.domain.id, selector.domain.name)
        if credentials.key:
            key = self._api_keys.find_for_auth(credentials.key)
        elif credentials.id:
            key = self._api_keys.find_by_id_for_auth(credentials.id, credentials.secret)
        else:
            if selector is None:
                raise InvalidArgument("api_key.user", "an application credential named by name "
                                                      "needs its user")
            key = self._api_keys.find_by_name_for_auth(
                self._user_id(selector), credentials.name, credentials.secret)
        expiry = expiry_seconds(key) if key is not None else None
        if key is None or (expiry is not None and now >= expiry):
            raise Unauthenticated(AUTH_FAILED)
        owner = self._users.find_with_domain(key.user_id)
        if owner is None or not owner.enabled or not _names(selector, owner):
            raise Unauthenticated(AUTH_FAILED)
        return key

    def _user_id(self, selector: Selector) -> str | None:
        if selector.id:
            return selector.id
        domain = find_domain(self._resources, selector.domain, "api_key.user.domain")
        user = self._identity.find_user(name=selector.name, domain_id=domain.id) if domain else None
        return user.id if user is not None else None

    def ec2(self, credentials: Ec2Credentials) -> tuple[str, str]:
        """(user id, project id) of the enabled user whose EC2 credential signed the
        request (`credential_blobs.CredentialBlobs.ec2_authenticate` checks the
        signature); the token service then checks its roles on the project."""
        if self._credential_blobs is None:
            raise Unauthenticated(AUTH_FAILED)
        try:
            user_id, project_id = self._credential_blobs.ec2_authenticate(credentials)
        except Unauthenticated:
            raise Unauthenticated(AUTH_FAILED) from None
        owner = self._users.find_with_domain(user_id)
        if owner is None or not owner.enabled:
            raise Unauthenticated(AUTH_FAILED)
        return user_id, project_id

    def oauth1(self, credentials: OAuth1Credentials):
        """The access token a request is signed with, of an enabled user. A signature
        that does not check is the one 401 Keystone answers ("Invalid signature")."""
        access = self._oauth1.access_token_for(credentials)
        owner = self._users.find_with_domain(access.authorizing_user_id)
        if owner is None or not owner.enabled:
            raise Unauthenticated(AUTH_FAILED)
        return access


def find_domain(resources: Resources, selector: Selector, field: str):
    """The domain a selector names (checked as `field`), or None."""
    check_id_or_name(field, selector.id, selector.name)
    return resources.find_domain(selector.id, selector.name)


def _names(selector: Selector | None, user) -> bool:
    """Whether a user selector (absent: anyone) names this user."""
    if selector is None:
        return True
    if selector.id:
        return selector.id == user.id
    domain = selector.domain
    return selector.name == user.name and (
        domain.id == user.domain.id if domain.id else domain.name == user.domain.name)
