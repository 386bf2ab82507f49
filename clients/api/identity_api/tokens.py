"""The token format: a compact signed payload, small enough for any HTTP header.

One implementation for every party: the identity service signs and checks tokens
with it, and consuming services check them locally with the public keys the service
publishes. Key storage and rotation are the service's (identity_grpc/tokens/keys.py);
this module only takes keys.

Layout (big-endian), then an Ed25519 signature over all of it by the signing key,
the whole in URL-safe base64 without padding:

    version (1) | key id (4) | methods bitmask (1) | scope type (1)
    | issued_at (uint48, unix milliseconds) | expires_at (uint32, unix seconds)
    | user id | scope id (project and domain scopes only) | api key id (only when
    the api_key method bit is set) | access token id (only when the oauth1 method bit
    is set) | trust id (only when the trust flag is set) | audit id count (1)
    | audit ids (16 raw bytes each)

The top bit of the methods byte (TRUST_FLAG, 0x80) is no method: it says a trust id
follows (a trust-scoped token). A token without a trust or an OAuth1 access token is
encoded exactly as before either existed.

Version 2 carries the issue time in milliseconds, so that a cutoff (a password
change, a disabled project...) can tell a token issued just before it from one
issued just after it in the same second. Version 1 tokens (issue time in seconds)
are refused: their holders authenticate again.

An id is either tag 0 + 16 bytes for the service's own ids (32 lower-case hex
characters, uuid4().hex), tag 2 + 32 bytes for the public ids of directory (LDAP)
users (64 lower-case hex characters, a sha256), or tag 1 + length + at most 32 UTF-8
bytes for anything else (such as the domain id "default"), so decoding gives back the
exact string.
A token must fit MAX_TOKEN_LENGTH characters: the encoder refuses a payload that
would not (only possible when an api key token has long-form ids throughout).

Tokens are not encrypted: they hold ids, no secrets. They carry no roles either: the
caller looks those up, so a role change takes effect without reissuing tokens.
tests/fixtures/tokens.json pins the format byte for byte.
"""

import base64
import binascii
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = ["TokenPayload", "InvalidToken", "UnknownSigningKey", "encode", "verify",
           "signing_key_id", "new_audit_id", "VERSION", "KEY_ID_SIZE", "MAX_TOKEN_LENGTH",
           "METHODS", "SCOPE_TYPES", "SYSTEM_SCOPE_ID", "TRUST_FLAG"]

VERSION = 2
KEY_ID_SIZE = 4
MAX_TOKEN_LENGTH = 255
MAX_ID_BYTES = 32
SIGNATURE_SIZE = 64
MAX_BODY_SIZE = MAX_TOKEN_LENGTH * 6 // 8 - SIGNATURE_SIZE  # what base64 fits in 255
AUDIT_ID_SIZE = 16

# canonical order = bit order; new methods take the next bit, so old tokens keep theirs
METHODS = ("password", "token", "api_key", "ec2credential", "oauth1")
SCOPE_TYPES = ("unscoped", "project", "domain", "system")  # index = wire code
SYSTEM_SCOPE_ID = "all"
TRUST_FLAG = 0x80  # in the methods byte: a trust id follows

_HEADER = struct.Struct(f">B{KEY_ID_SIZE}sBBHII")  # issued_at as high 16 + low 32 bits
_MIN_SIZE = _HEADER.size + 3 + 1 + AUDIT_ID_SIZE + SIGNATURE_SIZE
_METHOD_BITS = {m: 1 << i for i, m in enumerate(METHODS)}
_METHODS_BY_MASK = {
    mask: tuple(m for m in METHODS if mask & _METHOD_BITS[m])
    for mask in range(1, 1 << len(METHODS))
}
_SCOPE_CODES = {s: i for i, s in enumerate(SCOPE_TYPES)}
_SCOPED = frozenset({"project", "domain"})
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_MAPPED_ID = re.compile(r"[0-9a-f]{64}")  # identity_grpc/id_mapping.py
_URLSAFE = re.compile(r"[A-Za-z0-9_-]+")
_UINT32 = range(1 << 32)  # unix seconds until 2106
_UINT48 = range(1 << 48)  # unix milliseconds until the year 10889


@dataclass(frozen=True, slots=True)
class TokenPayload:
    user_id: str
    methods: tuple[str, ...]  # subset of METHODS, in that order
    scope_type: str  # one of SCOPE_TYPES
    scope_id: str | None  # None when unscoped, "all" for system
    issued_at: int  # unix milliseconds
    expires_at: int  # unix seconds
    audit_ids: tuple[str, ...]  # own first, then its rescope chain's (the first token's)
    api_key_id: str | None = None  # set exactly when "api_key" is among the methods
    trust_id: str | None = None  # set for a trust-scoped token (TRUST_FLAG)
    # The OAuth1 access token it was issued with: set exactly when "oauth1" is.
    access_token_id: str | None = None


class InvalidToken(ValueError):
    """A token that is not one: malformed, of another version, or forged. The
    message says which, in words fit to show the token's holder."""


class UnknownSigningKey(InvalidToken):
    """A well-formed token signed by a key the verifier was not given: a key retired,
    or one the caller has not fetched yet. `key_id` is its id in hex."""

    def __init__(self, key_id: str):
        super().__init__("token was signed by an unknown or retired key")
        self.key_id = key_id


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_audit_id() -> str:
    """Keystone's format, so tools that parse audit ids keep working."""
    return _b64(secrets.token_bytes(AUDIT_ID_SIZE))


def _encode_id(value: object, field: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string")
    if _HEX_ID.fullmatch(value):
        return b"\x00" + bytes.fromhex(value)
    if _MAPPED_ID.fullmatch(value):
        return b"\x02" + bytes.fromhex(value)
    raw = value.encode("utf-8")
    if len(raw) > MAX_ID_BYTES:
        raise ValueError(f"{field} is longer than {MAX_ID_BYTES} bytes")
    return bytes((1, len(raw))) + raw


def _decode_id(body: bytes, pos: int) -> tuple[str, int]:
    tag = body[pos]
    if tag == 0:
        raw = body[pos + 1 : pos + 17]
        if len(raw) != 16:
            raise ValueError("truncated id")
        return raw.hex(), pos + 17
    if tag == 2:
        raw = body[pos + 1 : pos + 33]
        if len(raw) != 32:
            raise ValueError("truncated id")
        return raw.hex(), pos + 33
    if tag != 1:
        raise ValueError("unknown id tag")
    size = body[pos + 1]
    raw = body[pos + 2 : pos + 2 + size]
    value = raw.decode("utf-8")
    # A hex id in the long form is not what encode writes: refuse it, one string per id.
    if not 0 < size <= MAX_ID_BYTES or len(raw) != size or _HEX_ID.fullmatch(value):
        raise ValueError("bad id")
    return value, pos + 2 + size


def _audit_id_bytes(audit_id: object) -> bytes:
    if isinstance(audit_id, str) and len(audit_id) == 22 and _URLSAFE.fullmatch(audit_id):
        raw = base64.urlsafe_b64decode(audit_id + "==")
        if _b64(raw) == audit_id:  # the last character has spare bits: must be zero
            return raw
    raise ValueError(f"bad audit id {audit_id!r}")


def _method_mask(methods: tuple[str, ...]) -> int:
    mask = 0
    for method in methods:
        bit = _METHOD_BITS.get(method, 0)
        if bit <= mask:  # unknown, repeated or out of canonical order
            raise ValueError(f"methods must be a subset of {METHODS} in that order")
        mask |= bit
    if not mask:
        raise ValueError("methods must not be empty")
    return mask


def _check_scope_and_times(payload: TokenPayload) -> None:
    scope_type, scope_id = payload.scope_type, payload.scope_id
    if scope_type not in _SCOPE_CODES:
        raise ValueError(f"scope_type must be one of {SCOPE_TYPES}")
    implied = {"unscoped": None, "system": SYSTEM_SCOPE_ID}
    if scope_type in implied and scope_id != implied[scope_type]:
        raise ValueError(f"scope_id of a {scope_type} token must be {implied[scope_type]!r}")
    issued_at, expires_at = payload.issued_at, payload.expires_at
    if type(issued_at) is not int or issued_at not in _UINT48:
        raise ValueError("issued_at must be unix milliseconds")
    if type(expires_at) is not int or expires_at not in _UINT32:
        raise ValueError("expires_at must be unix seconds")
    if expires_at * 1000 < issued_at:
        raise ValueError("expires_at is before issued_at")


def _pack(payload: TokenPayload, key_id: bytes) -> bytes:
    mask = _method_mask(payload.methods)
    _check_scope_and_times(payload)
    audit_ids = payload.audit_ids
    if not isinstance(audit_ids, tuple) or len(audit_ids) not in (1, 2):
        raise ValueError("a token has one or two audit ids")
    issued_at = payload.issued_at
    flags = mask | (TRUST_FLAG if payload.trust_id is not None else 0)
    parts = [
        _HEADER.pack(VERSION, key_id, flags, _SCOPE_CODES[payload.scope_type], issued_at >> 32,
                     issued_at & 0xFFFFFFFF, payload.expires_at),
        _encode_id(payload.user_id, "user_id"),
    ]
    if payload.scope_type in _SCOPED:
        parts.append(_encode_id(payload.scope_id, "scope_id"))
    if mask & _METHOD_BITS["api_key"]:
        parts.append(_encode_id(payload.api_key_id, "api_key_id"))
    elif payload.api_key_id is not None:
        raise ValueError("api_key_id is only for tokens with the api_key method")
    if mask & _METHOD_BITS["oauth1"]:
        parts.append(_encode_id(payload.access_token_id, "access_token_id"))
    elif payload.access_token_id is not None:
        raise ValueError("access_token_id is only for tokens with the oauth1 method")
    if payload.trust_id is not None:
        parts.append(_encode_id(payload.trust_id, "trust_id"))
    parts.append(bytes((len(audit_ids),)))
    parts.extend(_audit_id_bytes(a) for a in audit_ids)
    body = b"".join(parts)
    if len(body) > MAX_BODY_SIZE:
        raise ValueError(f"the token would be longer than {MAX_TOKEN_LENGTH} characters")
    return body


def _unpack(body: bytes) -> TokenPayload:
    _, _, mask, scope_code, issued_high, issued_low, expires_at = _HEADER.unpack_from(body)
    issued_at = issued_high << 32 | issued_low
    methods = _METHODS_BY_MASK[mask & ~TRUST_FLAG]  # KeyError for 0 or unknown bits
    scope_type = SCOPE_TYPES[scope_code]
    user_id, pos = _decode_id(body, _HEADER.size)
    if scope_type in _SCOPED:
        scope_id, pos = _decode_id(body, pos)
    else:
        scope_id = SYSTEM_SCOPE_ID if scope_type == "system" else None
    api_key_id = None
    if mask & _METHOD_BITS["api_key"]:
        api_key_id, pos = _decode_id(body, pos)
    access_token_id = None
    if mask & _METHOD_BITS["oauth1"]:
        access_token_id, pos = _decode_id(body, pos)
    trust_id = None
    if mask & TRUST_FLAG:
        trust_id, pos = _decode_id(body, pos)
    count = body[pos]
    pos += 1
    if count not in (1, 2) or len(body) != pos + count * AUDIT_ID_SIZE:
        raise ValueError("bad audit ids")
    audit_ids = tuple(
        _b64(body[i : i + AUDIT_ID_SIZE]) for i in range(pos, len(body), AUDIT_ID_SIZE)
    )
    return TokenPayload(user_id, methods, scope_type, scope_id, issued_at, expires_at, audit_ids,
                        api_key_id, trust_id, access_token_id)


def encode(payload: TokenPayload, key_id: bytes, private_key: Ed25519PrivateKey) -> str:
    """The token for `payload`, signed by `private_key`, whose id is `key_id`.
    ValueError when the payload is not one a token can carry."""
    if not isinstance(key_id, bytes) or len(key_id) != KEY_ID_SIZE:
        raise ValueError(f"key_id must be {KEY_ID_SIZE} bytes")
    body = _pack(payload, key_id)
    return _b64(body + private_key.sign(body))


def _raw(token: object) -> bytes:
    """The bytes of a token spelled the one way encode spells it; refuses the rest."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed token")
    if not _URLSAFE.fullmatch(token):
        raise InvalidToken("token has characters outside the URL-safe base64 alphabet")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("token is not valid base64") from None
    if _b64(raw) != token:  # one token, one spelling
        raise InvalidToken("token is not valid base64")
    if len(raw) < _MIN_SIZE:
        raise InvalidToken("token is truncated")
    if raw[0] != VERSION:
        raise InvalidToken("unsupported token version")
    return raw


def signing_key_id(token: str) -> str:
    """The id (hex) of the key a well-formed token names; its signature is not checked."""
    return _raw(token)[1 : 1 + KEY_ID_SIZE].hex()


def verify(token: str, public_key_for: Callable[[bytes], Ed25519PublicKey | None]
           ) -> TokenPayload:
    """The payload of a token whose signature checks with the key `public_key_for`
    gives for the key id it names (None: UnknownSigningKey). Checks neither expiry
    nor revocation: the caller does, with its own clock and revocation index.
    Raises InvalidToken with the reason otherwise."""
    raw = _raw(token)
    key_id = raw[1 : 1 + KEY_ID_SIZE]
    public_key = public_key_for(key_id)
    if public_key is None:
        raise UnknownSigningKey(key_id.hex())
    body, signature = raw[:-SIGNATURE_SIZE], raw[-SIGNATURE_SIZE:]
    try:
        public_key.verify(signature, body)
    except InvalidSignature:
        raise InvalidToken("token signature is invalid") from None
    try:
        return _unpack(body)
    except (ValueError, IndexError, KeyError, struct.error):
        raise InvalidToken("token payload is malformed") from None
