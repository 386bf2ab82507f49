"""Keystone's credentials (`/v3/credentials`) and EC2 credentials, one concept.

A credential is a blob a user keeps with the identity service (an EC2 key pair, a
certificate, a TOTP seed...), of a free `type`, optionally tied to a project. The blob
is a secret: it is encrypted before it is written, with the primary key of a key
repository of its own (`credential_keys`), and no plaintext ever reaches the store.

An EC2 credential is a credential of type `ec2` whose blob is the JSON object
`{"access": ..., "secret": ...}`; its id is the SHA-256 of its access key, as in
Keystone, so `POST /v3/ec2tokens` finds it by the access key alone, checks the
request's signature with the secret (`ec2_signatures`), and the token service then
issues a token scoped to the credential's project.

Nothing is cached: every read goes to the store, so a deleted credential (or one
gone with its user or project) is refused at once, on every replica.
"""

from __future__ import annotations

import hashlib
import json
import time
import types
from dataclasses import dataclass
from typing import Callable

from . import ec2_signatures
from .change_feed import Writer
from .credential_keys import CredentialKeys
from .errors import InvalidArgument, NotFound, Unauthenticated
from .records import Ec2Credentials
from .store import Store
from .store.models import new_id
from .validation import check_id, check_text

EC2 = "ec2"
MAX_BLOB_BYTES = 32_768  # encrypted, it still fits a TEXT column on every backend
MAX_TYPE_LENGTH = 255
# Keystone's EC2 blob may say the credential was made with a trust, an application
# credential or an OAuth1 access token, and narrows the token to it. We serve none of
# those delegations here, so such a blob is refused, and never silently widened.
DELEGATION_KEYS = ("trust_id", "app_cred_id", "access_token_id")
REENCRYPT_BATCH = 500
EC2_REFUSED = "EC2 credentials not accepted: unknown access key or invalid signature"


@dataclass(frozen=True)
class Credential:
    """A credential with its blob decrypted: what the operations hand transports."""

    id: str
    user_id: str
    project_id: str | None
    type: str
    blob: str
    extra: types.MappingProxyType


@dataclass(frozen=True)
class Ec2Credential:
    """An EC2 credential as the OS-EC2 API shows it (the secret included, as there)."""

    access: str
    secret: str
    user_id: str
    project_id: str | None
    trust_id: str | None = None


def access_hash(access: str) -> str:
    """An EC2 credential's id: Keystone's `hash_access_key`."""
    return hashlib.sha256(access.encode("utf-8")).hexdigest()


def _check_blob(blob) -> None:
    if not isinstance(blob, str) or not blob:
        raise InvalidArgument("blob", "is required (a string)")
    check_text("blob", blob)
    if len(blob.encode("utf-8", "surrogatepass")) > MAX_BLOB_BYTES:
        raise InvalidArgument("blob", f"must be at most {MAX_BLOB_BYTES} bytes of UTF-8")


def _check_type(type_) -> None:
    if not isinstance(type_, str) or not type_.strip():
        raise InvalidArgument("type", "is required")
    check_text("type", type_, MAX_TYPE_LENGTH)


def ec2_blob(blob: str) -> dict:
    """The JSON object an EC2 credential's blob must be, with its access key."""
    try:
        loaded = json.loads(blob)
    except ValueError:
        raise InvalidArgument("blob", "an ec2 credential's blob must be a JSON object") from None
    if not isinstance(loaded, dict):
        raise InvalidArgument("blob", "an ec2 credential's blob must be a JSON object")
    access = loaded.get("access")
    if not isinstance(access, str) or not access:
        raise InvalidArgument("blob", "an ec2 credential's blob needs its 'access' key (a string)")
    secret = loaded.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise InvalidArgument("blob", "an ec2 credential's 'secret' must be a string")
    for key in DELEGATION_KEYS:
        if loaded.get(key) is not None:
            raise InvalidArgument("blob", f"{key}: ec2 credentials bound to a delegation "
                                          "are not supported")
    return loaded


class CredentialBlobs:
    """Owns credentials and EC2 credentials; promises no blob is stored in plaintext,
    and that a token is issued for an EC2 credential only on a valid signature."""

    def __init__(self, store: Store, writer: Writer, keys: CredentialKeys,
                 clock: Callable[[], float] = time.time, auth_ttl: int = 900):
        self._store = store
        self._rows = store.credential_blobs
        self._writer = writer
        self._keys = keys
        self._clock = clock
        self._auth_ttl = auth_ttl

    # ---- reading ----------------------------------------------------------------

    def _decrypted(self, row) -> Credential:
        blob = self._keys.key_set.decrypt(row.encrypted_blob, row.key_hash,
                                          f"credential {row.id}")
        return Credential(id=row.id, user_id=row.user_id, project_id=row.project_id,
                          type=row.type, blob=blob,
                          extra=types.MappingProxyType(json.loads(row.extra or "{}")))

    def _row(self, credential_id: str):
        if not isinstance(credential_id, str) or not credential_id:
            raise InvalidArgument("id", "is required")
        check_id("id", credential_id)
        row = self._rows.find(credential_id)
        if row is None:
            raise NotFound(f"credential {credential_id} not found")
        return row

    def owner_of(self, credential_id: str) -> str:
        """The user a credential belongs to (what policy rules are asked about),
        without decrypting it; NotFound when there is none."""
        return self._row(credential_id).user_id

    def get(self, credential_id: str) -> Credential:
        return self._decrypted(self._row(credential_id))

    def list(self, user_id: str = "", type_: str = "", limit: int = 0) -> list[Credential]:
        """Oldest first, filtered by owner and type when given."""
        for field, value in (("user_id", user_id), ("type", type_)):
            check_text(field, value, 255)
        return [self._decrypted(r) for r in self._rows.list(user_id, type_, limit)]

    # ---- writing ----------------------------------------------------------------

    def _check_owner_and_project(self, user_id: str, project_id: str | None) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise InvalidArgument("user_id", "is required")
        check_id("user_id", user_id)
        if not self._store.users.exists(user_id):
            raise NotFound(f"user {user_id} not found")
        if project_id is not None:
            check_id("project_id", project_id)
            if not self._store.resources.project_exists(project_id):
                raise NotFound(f"project {project_id} not found")

    def create(self, user_id: str, type_: str, blob: str, project_id: str | None = None,
               extra: dict | None = None) -> Credential:
        """A new credential; an `ec2` one needs a project and a JSON blob with an
        access key, whose hash becomes its id (AlreadyExists if taken)."""
        _check_type(type_)
        _check_blob(blob)
        project_id = project_id or None
        if type_ == EC2:
            if project_id is None:
                raise InvalidArgument("project_id", "is required for an ec2 credential")
            credential_id = access_hash(ec2_blob(blob)["access"])
        else:
            credential_id = new_id()
        extra_json = json.dumps(extra or {})
        check_text("extra", extra_json)
        self._check_owner_and_project(user_id, project_id)
        encrypted, hashed = self._keys.key_set.encrypt(blob)
        with self._writer.transaction():
            row = self._rows.create(credential_id, user_id, project_id, type_, encrypted,
                                    hashed, extra=extra_json, created_at=int(self._clock()))
        return self._decrypted(row)

    def update(self, credential_id: str, blob: str | None = None, type_: str | None = None,
               project_id: str | None = None, extra: dict | None = None,
               user_id: str | None = None) -> Credential:
        """Changes the blob, the type, the project or the free attributes (merged; a
        None value removes one). An `ec2` credential keeps a project and a JSON blob.
        The owner never changes (`user_id`, if given, must be it): a credential given
        to another user is a new one."""
        current = self._row(credential_id)
        if user_id is not None and user_id != current.user_id:
            raise InvalidArgument("user_id", "a credential's owner cannot change; delete it "
                                             "and create one for the other user")
        if blob is not None:
            _check_blob(blob)
        if type_ is not None:
            _check_type(type_)
        if project_id is not None:
            self._check_owner_and_project(current.user_id, project_id or None)
        encrypted = self._keys.key_set.encrypt(blob) if blob is not None else None

        def change(row) -> dict:
            new_type = type_ if type_ is not None else row.type
            new_project = (project_id or None) if project_id is not None else row.project_id
            if new_type == EC2:
                if new_project is None:
                    raise InvalidArgument("project_id", "is required for an ec2 credential")
                ec2_blob(blob if blob is not None else self._decrypted(row).blob)
            fields = {}
            if type_ is not None:
                fields["type"] = type_
            if project_id is not None:
                fields["project"] = new_project
            if encrypted is not None:
                fields["encrypted_blob"], fields["key_hash"] = encrypted
            if extra:
                merged = {**json.loads(row.extra or "{}"), **extra}
                fields["extra"] = json.dumps({k: v for k, v in merged.items() if v is not None})
                check_text("extra", fields["extra"])
            return fields

        with self._writer.transaction():
            row = self._rows.update_credential(credential_id, change)
        return self._decrypted(row)

    def delete(self, credential_id: str) -> None:
        """Gone at once: an EC2 credential no longer gets tokens, on any replica."""
        self._row(credential_id)
        with self._writer.transaction():
            if not self._rows.delete(credential_id):
                raise NotFound(f"credential {credential_id} not found")

    # ---- EC2 credentials ----------------------------------------------------------

    @staticmethod
    def _as_ec2(credential: Credential) -> Ec2Credential:
        blob = json.loads(credential.blob)
        return Ec2Credential(access=blob.get("access"), secret=blob.get("secret"),
                             user_id=credential.user_id, project_id=credential.project_id,
                             trust_id=blob.get("trust_id"))

    def ec2_create(self, user_id: str, project_id: str) -> Ec2Credential:
        """A new key pair for the user on the project (random access and secret)."""
        if not isinstance(project_id, str) or not project_id:
            raise InvalidArgument("tenant_id", "is required")
        blob = json.dumps({"access": new_id(), "secret": new_id(), "trust_id": None})
        return self._as_ec2(self.create(user_id, EC2, blob, project_id))

    def _ec2_row(self, user_id: str, access: str):
        if not isinstance(access, str) or not access:
            raise InvalidArgument("access", "is required")
        check_text("access", access, 255)
        row = self._rows.find(access_hash(access))
        if row is None or row.type != EC2 or row.user_id != user_id:
            raise NotFound(f"EC2 credential {access} not found for user {user_id}")
        return row

    def ec2_get(self, user_id: str, access: str) -> Ec2Credential:
        return self._as_ec2(self._decrypted(self._ec2_row(user_id, access)))

    def ec2_list(self, user_id: str) -> list[Ec2Credential]:
        check_id("user_id", user_id)
        if not self._store.users.exists(user_id):
            raise NotFound(f"user {user_id} not found")
        return [self._as_ec2(c) for c in self.list(user_id, EC2)]

    def ec2_delete(self, user_id: str, access: str) -> None:
        self.delete(self._ec2_row(user_id, access).id)

    def ec2_authenticate(self, creds: Ec2Credentials) -> tuple[str, str]:
        """(user id, project id) of the EC2 credential whose secret signed the
        request; Unauthenticated for an unknown access key, a wrong or missing
        signature, a request signed too long ago, or one we cannot check."""
        if not isinstance(creds.access, str) or not creds.access or len(creds.access) > 255:
            raise Unauthenticated(EC2_REFUSED)
        row = self._rows.find(access_hash(creds.access))
        if row is None or row.type != EC2 or row.project_id is None:
            raise Unauthenticated(EC2_REFUSED)
        try:
            blob = ec2_blob(self._decrypted(row).blob)
            secret = blob.get("secret") or ""
            if not secret or not ec2_signatures.signature_matches(secret, creds):
                raise Unauthenticated(EC2_REFUSED)
            if ec2_signatures.expired(creds, self._clock(), self._auth_ttl):
                raise Unauthenticated("EC2 credentials not accepted: the request was signed "
                                      "too long ago")
        except (InvalidArgument, ec2_signatures.SignatureError, KeyError, TypeError,
                AttributeError, UnicodeError):
            raise Unauthenticated(EC2_REFUSED) from None
        return row.user_id, row.project_id

    # ---- key rotation -------------------------------------------------------------

    def reencrypt_all(self) -> int:
        """Re-encrypt with the primary key every row encrypted with another (after a
        rotation, or a copy of a rotated repository). Returns how many were."""
        done, skipped = 0, set()
        while True:
            keys = self._keys.key_set
            rows = [r for r in self._rows.not_encrypted_with(keys.primary_hash,
                                                             REENCRYPT_BATCH + len(skipped))
                    if r.id not in skipped]
            if not rows:
                return done
            for row in rows:
                encrypted, hashed = keys.reencrypt(row.encrypted_blob, row.key_hash,
                                                   f"credential {row.id}")
                with self._writer.transaction():
                    if self._rows.reencrypt(row.id, row.key_hash, encrypted, hashed):
                        done += 1
                    else:  # changed meanwhile: its writer used a key of its own choosing
                        skipped.add(row.id)

    def rotate_keys(self) -> tuple[int, int, list[int]]:
        """Promote the staged key, re-encrypt every row with it, then drop the keys no
        row needs any more: (the new primary's file number, rows re-encrypted, key
        files dropped)."""
        self._keys.rotate()
        count = self.reencrypt_all()
        dropped = self._keys.drop_unused(self._rows.key_hashes())
        return max(self._keys.key_set.indexes), count, dropped
