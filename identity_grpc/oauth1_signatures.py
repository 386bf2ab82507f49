"""Checking OAuth1 signatures (RFC 5849) with oauthlib, the library Keystone uses.

oauthlib's endpoints parse the `Authorization: OAuth ...` header, check the mandatory
parameters, the timestamp window and the signature; `Lookups` answers their questions
from the OAuth1 store (the secrets of the consumer and of the request or access token
the request names). When the consumer or the token does not exist, oauthlib checks the
signature against a dummy secret all the same, so an unknown key costs the same time
as a wrong signature.

Like Keystone, nonces are not remembered: a signed request can be replayed within the
timestamp window (`TIMESTAMP_LIFETIME`). Only the HMAC signature methods are accepted
(never PLAINTEXT, which sends the secrets themselves).
"""

import hmac
import re
import secrets
import string
import time
from typing import Callable
from urllib.parse import parse_qsl

from oauthlib.oauth1 import (AccessTokenEndpoint, RequestTokenEndpoint, RequestValidator,
                             ResourceEndpoint)
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from .errors import InvalidArgument, Unauthenticated
from .records import OAuth1Credentials

# Verifiers are typed by hand: letters and digits, without the ones easily confused.
VERIFIER_CHARS = "".join(c for c in string.ascii_letters + string.digits if c not in "jiIl1oO0")
VERIFIER_LENGTH = 8
SIGNATURE_METHODS = ("HMAC-SHA1", "HMAC-SHA256", "HMAC-SHA512")
TIMESTAMP_LIFETIME = 600  # seconds a signed request's timestamp may be off (oauthlib's)
INVALID_SIGNATURE = "Invalid signature"
_ID = re.compile(r"[0-9a-f]{32}")
_NONCE = re.compile(r"[A-Za-z0-9]{1,64}")
_DUMMY_KEY = "0" * 32


def new_verifier() -> str:
    return "".join(secrets.choice(VERIFIER_CHARS) for _ in range(VERIFIER_LENGTH))


def expired(token, now: float) -> bool:
    """Whether a request or access token row has expired (None: never expires)."""
    return token.expires_at is not None and now >= token.expires_at


def oauth_parameters(credentials: OAuth1Credentials) -> dict[str, str]:
    """The `oauth_*` parameters of the Authorization header; 400 without one."""
    header = credentials.authorization
    if not header or not header.lower().startswith("oauth "):
        raise InvalidArgument("Authorization", "an OAuth1 signed request needs an "
                                               "'Authorization: OAuth ...' header")
    try:
        return dict(oauth_utils.parse_authorization_header(header))
    except (ValueError, TypeError):
        raise InvalidArgument("Authorization", "the OAuth header could not be parsed") from None


class Lookups(RequestValidator):
    """oauthlib's questions, answered from the store for one request. `find_consumer`,
    `find_request_token` and `find_access_token` give a row or None; a token of another
    consumer, or an expired one, counts as none."""

    def __init__(self, find_consumer: Callable, find_request_token: Callable,
                 find_access_token: Callable, clock: Callable[[], float] = time.time):
        super().__init__()
        self._find = {"consumer": find_consumer, "request": find_request_token,
                      "access": find_access_token}
        self._rows: dict[tuple[str, str], object] = {}
        self._clock = clock
        self._dummy_secret = secrets.token_hex(16)

    def row(self, kind: str, key: str):
        """The consumer, request token or access token `key`, read once per request."""
        if (kind, key) not in self._rows:
            found = self._find[kind](key) if _ID.fullmatch(key or "") else None
            if kind != "consumer" and found is not None and expired(found, self._clock()):
                found = None
            self._rows[(kind, key)] = found
        return self._rows[(kind, key)]

    def _token(self, kind: str, client_key: str, token: str):
        row = self.row(kind, token)
        return row if row is not None and row.consumer_id == client_key else None

    # ---- formats and policy ----------------------------------------------------------

    enforce_ssl = False  # TLS is the deployment's (a proxy in front may terminate it)
    allowed_signature_methods = SIGNATURE_METHODS
    timestamp_lifetime = TIMESTAMP_LIFETIME
    dummy_client = dummy_request_token = dummy_access_token = _DUMMY_KEY

    def check_client_key(self, client_key):
        return bool(_ID.fullmatch(client_key))

    check_request_token = check_access_token = check_client_key

    def check_nonce(self, nonce):
        return bool(_NONCE.fullmatch(nonce))

    def check_verifier(self, verifier):
        return len(verifier) == VERIFIER_LENGTH and set(verifier) <= set(VERIFIER_CHARS)

    def check_realms(self, realms):
        return True  # realms are not used

    # ---- secrets ----------------------------------------------------------------------

    def get_client_secret(self, client_key, request):
        row = self.row("consumer", client_key)
        return row.secret if row is not None else self._dummy_secret

    def get_request_token_secret(self, client_key, token, request):
        row = self._token("request", client_key, token)
        return row.secret if row is not None else self._dummy_secret

    def get_access_token_secret(self, client_key, token, request):
        row = self._token("access", client_key, token)
        return row.secret if row is not None else self._dummy_secret

    # ---- what exists -------------------------------------------------------------------

    def validate_client_key(self, client_key, request):
        return self.row("consumer", client_key) is not None

    def validate_request_token(self, client_key, token, request):
        return self._token("request", client_key, token) is not None

    def validate_access_token(self, client_key, token, request):
        return self._token("access", client_key, token) is not None

    def validate_verifier(self, client_key, token, verifier, request):
        row = self._token("request", client_key, token)
        stored = row.verifier if row is not None and row.verifier else "-" * VERIFIER_LENGTH
        return hmac.compare_digest(stored.encode(), verifier.encode()) and row is not None

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request,
                                     request_token=None, access_token=None):
        return True  # the timestamp window is oauthlib's; nonces are not kept (Keystone)

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        return True  # the verifier is shown to the user ("oob"): no redirect is made

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def get_redirect_uri(self, token, request):
        return "oob"

    def verify_request_token(self, token, request):
        return isinstance(token, str)

    def verify_realms(self, token, realms, request):
        return True

    # Tokens are written by the OAuth1 manager, after the signature checked.
    def save_request_token(self, token, request):
        pass

    def save_access_token(self, token, request):
        pass

    def save_verifier(self, token, verifier, request):
        pass

    def invalidate_request_token(self, client_key, request_token, request):
        pass


def _outcome(status: int, body: str | None) -> None:
    """oauthlib's answer as the core's errors: 400 naming what is wrong, 401 otherwise."""
    if status == 200:
        return
    if status == 400:
        problem = dict(parse_qsl(body or "")).get("error_description") or "malformed"
        raise InvalidArgument("Authorization", problem)
    raise Unauthenticated(INVALID_SIGNATURE)


def _args(credentials: OAuth1Credentials) -> dict:
    headers = {"Authorization": credentials.authorization}
    if credentials.content_type:
        headers["Content-Type"] = credentials.content_type
    return dict(uri=credentials.uri, http_method=credentials.http_method,
                body=credentials.body, headers=headers)


def check_request_token_request(lookups: Lookups, credentials: OAuth1Credentials) -> None:
    """A request for a request token, signed by the consumer alone."""
    _, body, status = RequestTokenEndpoint(lookups).create_request_token_response(
        **_args(credentials))
    _outcome(status, body)


def check_access_token_request(lookups: Lookups, credentials: OAuth1Credentials) -> None:
    """A request for an access token: signed with the request token, with its verifier."""
    _, body, status = AccessTokenEndpoint(lookups).create_access_token_response(
        **_args(credentials))
    _outcome(status, body)


def check_resource_request(lookups: Lookups, credentials: OAuth1Credentials) -> None:
    """A request made with an access token (asking for a Keystone token)."""
    valid, _ = ResourceEndpoint(lookups).validate_protected_resource_request(
        **_args(credentials))
    if not valid:
        raise Unauthenticated(INVALID_SIGNATURE)
