"""Who a request claims to be, read from its credentials without their secrets: the
initiator of a failed authentication (a successful one is named by its token).

Only ids and names are read: a password, token, application credential secret,
EC2 signature or OAuth1 signature is never looked at here. An application
credential given as gRPC's `<id>.<secret>` contributes the part before the dot; an
EC2 access key its hash (the credential's id, as Keystone makes it); an OAuth1
request its consumer key and access token id (both public in OAuth1).
"""

from ..credential_blobs import access_hash
from ..oauth1_signatures import oauth_parameters
from ..records import (ApiKeyCredentials, Ec2Credentials, OAuth1Credentials,
                       PasswordCredentials, ScopeRequest, Selector, TokenCredentials)
from .events import Claimed


def claimed(credentials, scope: ScopeRequest | None = None) -> Claimed:
    """The would-be initiator of an authentication with `credentials`."""
    extra: tuple = (("methods", [_method(credentials)]),)
    if scope is not None and scope.kind == "trust" and scope.target is not None:
        extra += (("trust_id", scope.target.id),)
    if isinstance(credentials, PasswordCredentials):
        return _of_selector(credentials.user, extra)
    if isinstance(credentials, ApiKeyCredentials):
        key_id = credentials.id or credentials.key.partition(".")[0]
        extra += (("application_credential_id", key_id),)
        if credentials.name:
            extra += (("application_credential_name", credentials.name),)
        return _of_selector(credentials.user, extra)
    if isinstance(credentials, Ec2Credentials):
        return Claimed(extra=extra + (("ec2_credential_id", access_hash(credentials.access)),))
    if isinstance(credentials, OAuth1Credentials):
        try:
            parameters = oauth_parameters(credentials)
        except Exception:  # unreadable header: nothing claimed
            parameters = {}
        return Claimed(extra=extra + (
            ("oauth1_consumer_id", parameters.get("oauth_consumer_key", "")),
            ("oauth1_access_token_id", parameters.get("oauth_token", ""))))
    return Claimed(extra=extra)  # a token: its own facts are unknown until it checks


def _method(credentials) -> str:
    return {PasswordCredentials: "password", TokenCredentials: "token",
            ApiKeyCredentials: "application_credential", Ec2Credentials: "ec2credential",
            OAuth1Credentials: "oauth1"}.get(type(credentials), "")


def _of_selector(user: Selector | None, extra: tuple) -> Claimed:
    if user is None:
        return Claimed(extra=extra)
    domain = user.domain or Selector()
    return Claimed(user_id=user.id, user_name=user.name, domain_id=domain.id,
                   domain_name=domain.name, extra=extra)
