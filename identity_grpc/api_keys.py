"""API keys: the classic "user name and API key" credential.

A user makes a key for one of its projects, optionally limited to a subset of its
roles there and optionally expiring. The secret, `<key id>.<random>`, is shown once;
authentication finds the key by the id before the dot and checks the random part
against the stored hash. A token issued with a key carries the key's id, so the
key's role subset applies on every validation and deleting the key ends its tokens.
"""

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Callable

import peewee as pw

from identity_api.changes import Kind

from .errors import InvalidArgument, NotFound
from .records import RoleRecord
from .store.models import new_id
from .store import Store
from .change_feed import Writer
from .validation import check_id, check_name

HASH_SCHEME = "sha256"
MAX_SECRET_LENGTH = 256  # what create makes is 32 + 1 + 43 characters
_KEY_ID = re.compile(r"[0-9a-f]{32}")
_DUMMY_HASH = f"{HASH_SCHEME}:{'0' * 64}"

ApiKey = pw.Model  # a row of the credential store's table, read here

# The user's effective roles on a project now; empty when it holds none there, or
# when the user or the project (or either's domain) is disabled.
RolesOn = Callable[[str, str], tuple[RoleRecord, ...]]


def hash_secret(random_part: str) -> str:
    """SHA-256, not argon2, on purpose.

    argon2 is slow to make guessing a *low-entropy* password expensive. The random
    part of a key secret is 256 bits from `secrets.token_urlsafe(32)`: no guessing
    attack exists to slow down, so a slow hash would only make every api-key
    authentication cost ~15 ms of CPU for nothing. A plain SHA-256 of it is as
    strong against a stolen store, and is compared in constant time.
    """
    return f"{HASH_SCHEME}:{hashlib.sha256(random_part.encode('utf-8')).hexdigest()}"


def role_ids_of(key: ApiKey) -> list[str]:
    return json.loads(key.role_ids or "[]")


class ApiKeys:
    """Owns API keys (only their secrets' hashes); promises a key never gives more than
    its user holds on its project."""

    def __init__(self, store: Store, writer: Writer, roles_on: RolesOn, clock: Callable[[], float] = time.time):
        self._store = store
        self._writer = writer
        self._roles_on = roles_on
        self._clock = clock

    def create(self, user_id: str, project_id: str, name: str = "", role_ids=(),
               expires_at: int | None = None) -> tuple[ApiKey, str]:
        """The new key and its secret, which is not kept anywhere."""
        if name:
            check_name("name", name)
        for field, value in (("user_id", user_id), ("project_id", project_id)):
            if not value:
                raise InvalidArgument(field, "is required")
            check_id(field, value)
        wanted = sorted(set(role_ids))
        for role_id in wanted:
            if not role_id:
                raise InvalidArgument("role_ids", "must not contain an empty id")
            check_id("role_ids", role_id)
        if expires_at is not None and expires_at <= int(self._clock()):
            raise InvalidArgument("expires_at", "must be in the future")
        if not self._store.users.exists(user_id):
            raise NotFound(f"user {user_id} not found")
        if not self._store.resources.project_exists(project_id):
            raise NotFound(f"project {project_id} not found")
        held = {r.id for r in self._roles_on(user_id, project_id)}
        if not held:
            raise InvalidArgument("project_id", "the user holds no role on this project (or it, "
                                                "the user, or a domain of theirs is disabled)")
        missing = [r for r in wanted if r not in held]
        if missing:
            raise InvalidArgument("role_ids", "the user does not hold these roles on the project: "
                                              + ", ".join(missing))
        key_id = new_id()
        random_part = secrets.token_urlsafe(32)
        with self._writer.transaction() as tx:
            row = self._store.credentials.create(
                key_id, user_id, project_id, hash_secret(random_part), json.dumps(wanted),
                int(self._clock()), name=name, expires_at=expires_at)
            tx.changed(Kind.API_KEY, key_id)
        return row, f"{key_id}.{random_part}"

    def get(self, key_id: str) -> ApiKey:
        if not key_id:
            raise InvalidArgument("id", "is required")
        check_id("id", key_id)
        row = self._store.credentials.find(key_id)
        if row is None:
            raise NotFound(f"api key {key_id} not found")
        return row

    def list(self, user_id: str) -> list[ApiKey]:
        """The user's keys, oldest first. Rows hold only the hash, never a secret."""
        return self._store.credentials.list_for_user(user_id)

    def delete(self, key_id: str) -> None:
        """Tokens issued with the key are refused from now on."""
        self.get(key_id)
        with self._writer.transaction() as tx:
            if not self._store.credentials.delete(key_id):
                raise NotFound(f"api key {key_id} not found")
            tx.changed(Kind.API_KEY, key_id)

    def find_for_auth(self, secret: str) -> ApiKey | None:
        """The key this secret belongs to, or None. Checks neither expiry nor the user."""
        if not isinstance(secret, str) or len(secret) > MAX_SECRET_LENGTH:
            return None
        key_id, dot, random_part = secret.partition(".")
        row = None
        if dot and random_part and _KEY_ID.fullmatch(key_id):
            row = self._store.credentials.find(key_id)
        stored = row.secret_hash if row is not None else _DUMMY_HASH
        # Hash and compare even without a row, so timing does not tell the cases apart.
        matches = hmac.compare_digest(hash_secret(random_part).encode(), stored.encode())
        return row if row is not None and matches else None
