"""AWS request signatures (versions 2 and 4), as keystoneclient's `Ec2Signer` computes
them, so that what an EC2 (or S3) API server hands `POST /v3/ec2tokens` is checked the
way Keystone checks it.

The EC2 API server received a request signed with an EC2 credential's secret; it
forwards what was signed (host, verb, path, parameters, headers, the body's SHA-256)
and the signature, never the secret. We compute the signature again with the secret
kept encrypted in the store, and compare the two in constant time. HMAC and SHA-256
are the standard library's (`hmac`, `hashlib`). Versions 0 and 1 are not accepted:
AWS retired them, and neither signs the host or the path.
"""

import base64
import dataclasses
import hashlib
import hmac
import re
import urllib.parse
from datetime import datetime, timedelta, timezone

from .records import Ec2Credentials

V4_ALGORITHM = "AWS4-HMAC-SHA256"
_OLD_BOTO = re.compile(r"Boto/2\.[0-9]\.[0-2]")


class SignatureError(ValueError):
    """What was signed cannot be checked (a version we do not know, a part missing)."""


def _utf8(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else str(value).encode("utf-8")


def _lookup(mapping: dict, name: str):
    """A header by name, in any case."""
    lowered = name.lower()
    for key, value in mapping.items():
        if key.lower() == lowered:
            return value
    return None


def canonical_query(params: dict) -> str:
    """Sorted keys, each `key=value` percent-encoded (AWS's unreserved characters kept)."""
    return "&".join(urllib.parse.quote(key, safe="") + "="
                    + urllib.parse.quote(_utf8(params[key]), safe="-_~")
                    for key in sorted(params))


def signature_v2(secret: str, creds: Ec2Credentials) -> str:
    """Base64 HMAC-SHA256 over verb, host, path and the canonical query (with
    SignatureMethod HmacSHA256, as keystoneclient sets it)."""
    params = dict(creds.params, SignatureMethod="HmacSHA256")
    to_sign = f"{creds.verb}\n{creds.host}\n{creds.path}\n" + canonical_query(params)
    digest = hmac.new(_utf8(secret), to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def is_v4(creds: Ec2Credentials) -> bool:
    authorization = _lookup(creds.headers, "Authorization") or ""
    return (authorization.startswith(V4_ALGORITHM)
            or creds.params.get("X-Amz-Algorithm") == V4_ALGORITHM)


def _v4_part(creds: Ec2Credentials, name: str) -> str:
    """`Credential`, `SignedHeaders`...: from the Authorization header, else from the
    `X-Amz-<name>` query parameter."""
    authorization = _lookup(creds.headers, "Authorization")
    if authorization is not None:
        return authorization.partition(f"{name}=")[2].split(",")[0].strip()
    value = creds.params.get(f"X-Amz-{name}")
    if not value:
        raise SignatureError(f"the request names no {name}")
    return value


def _v4_date(creds: Ec2Credentials) -> str:
    value = _lookup(creds.headers, "X-Amz-Date") or creds.params.get("X-Amz-Date")
    if not value:
        raise SignatureError("the request carries no X-Amz-Date")
    return value


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signature_v4(secret: str, creds: Ec2Credentials) -> str:
    """Hex HMAC-SHA256 with the key derived for the credential scope's date, region
    and service, over the canonical request's hash."""
    headers = {k.lower().strip(): v.strip() for k, v in creds.headers.items()}
    strip_port = bool(_OLD_BOTO.match(headers.get("user-agent", "")))
    signed_headers = _v4_part(creds, "SignedHeaders")
    lines = []
    for name in signed_headers.split(";"):
        if name not in headers:
            continue
        value = headers[name].split(":")[0] if name == "host" and strip_port else headers[name]
        lines.append(f"{name}:{value}")
    query = "" if creds.verb.upper() == "POST" else canonical_query(creds.params)
    canonical_request = "\n".join((creds.verb.upper(), creds.path, query,
                                   "\n".join(lines) + "\n", signed_headers, creds.body_hash))
    scope_parts = _v4_part(creds, "Credential").split("/")
    if len(scope_parts) < 5:
        raise SignatureError("the credential scope is not access/date/region/service/aws4_request")
    date, region, service = scope_parts[1:4]
    request_date = _v4_date(creds)
    if not request_date.startswith(date):
        raise SignatureError("the request's date is not the credential scope's")
    to_sign = "\n".join((V4_ALGORITHM, request_date, "/".join(scope_parts[1:]),
                         hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()))
    key = _utf8("AWS4" + secret)
    for part in (date, region, service, "aws4_request"):
        key = _hmac_sha256(key, part)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def signature(secret: str, creds: Ec2Credentials) -> str:
    """The signature the request should carry; SignatureError when it cannot be told."""
    version = creds.params.get("SignatureVersion")
    if version == "2":
        return signature_v2(secret, creds)
    if is_v4(creds):
        return signature_v4(secret, creds)
    if version is not None:
        raise SignatureError(f"signature version {version!r} is not accepted (2 or 4)")
    raise SignatureError("the request is signed neither with version 2 nor with version 4")


def signature_matches(secret: str, creds: Ec2Credentials) -> bool:
    """Whether `creds.signature` is the request's signature with `secret`. As Keystone
    does, a host with a port is tried again without it: some clients sign without."""
    if not creds.signature:
        return False
    given = creds.signature.encode("utf-8")
    if hmac.compare_digest(given, signature(secret, creds).encode("utf-8")):
        return True
    if ":" in creds.host:
        host = urllib.parse.urlsplit("//" + creds.host).hostname or ""
        bare = dataclasses.replace(creds, host=host)
        return hmac.compare_digest(given, signature(secret, bare).encode("utf-8"))
    return False


def timestamp_of(creds: Ec2Credentials) -> datetime | None:
    """When the request says it was signed (v2's Timestamp, v4's X-Amz-Date), UTC."""
    value = (creds.params.get("Timestamp") or _lookup(creds.headers, "X-Amz-Date")
             or creds.params.get("X-Amz-Date"))
    if not value:
        return None
    try:
        when = datetime.strptime(value, "%Y%m%dT%H%M%SZ")
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SignatureError(f"the request's timestamp {value!r} is not a time") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def expired(creds: Ec2Credentials, now: float, ttl_seconds: int) -> bool:
    """Whether the request was signed longer than `ttl_seconds` ago (Keystone's
    `[credential] auth_ttl`). A request that names no time is not checked, as there."""
    when = timestamp_of(creds)
    return when is not None and datetime.fromtimestamp(now, timezone.utc) > when + timedelta(
        seconds=ttl_seconds)
