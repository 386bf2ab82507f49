"""What a check ends in when it yields no identity: the token refused (401), or
undecidable for now (503); and decoding a token into the first of them."""

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from identity_api.tokens import InvalidToken, TokenPayload, UnknownSigningKey, verify


class TokenRejected(Exception):
    """The token is not valid (malformed, forged, expired, revoked, or its user no
    longer holds a role on its scope): answer 401."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class IdentityUnavailable(Exception):
    """The identity service could not be asked (down, or refused this service's own
    token) and the token could not be decided locally: answer 503."""


def decode_token(token: str, keys: Mapping[bytes, Ed25519PublicKey]) -> TokenPayload:
    """The verified payload of a token (expiry and revocation not checked), by the
    contract's `identity_api.tokens.verify`. Raises TokenRejected, or
    UnknownSigningKey when its key is not among `keys`."""
    try:
        return verify(token, keys.get)
    except UnknownSigningKey:
        raise
    except InvalidToken as refused:
        raise TokenRejected(str(refused)) from None
