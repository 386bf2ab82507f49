"""API keys, which are Keystone's application credentials (docs/appcreds.md).

A user makes a key for one of its projects, holding some or all of its roles there
(kept explicitly, as Keystone does), optionally expiring, optionally `unrestricted`
(its tokens may then make and delete keys and trusts), with access rules for the
services that check them. The secret, generated or the user's own, is shown once;
only its hash is kept. A key is presented as gRPC's `<key id>.<secret>`, or as
Keystone's id (or user and name) and secret. A token issued with a key carries the
key's id, so the key's roles apply on every validation, and deleting the key, its
expiry or its user losing one of its roles ends its tokens.
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

from .errors import InvalidArgument, NotFound, PermissionDenied
from .records import (AccessRuleEntry, AccessRuleSpec, ApiKeyEntry, ApiKeyRequest, RoleEntry,
                      RoleRecord)
from .store.models import new_id
from .store import Store
from .change_feed import Writer
from .validation import check_id, check_name, check_text

HASH_SCHEME = "sha256"
MAX_SECRET_LENGTH = 256  # of a whole key, `<id>.<secret>`
MAX_USER_SECRET_LENGTH = MAX_SECRET_LENGTH - 33  # a secret the user chose
ACCESS_RULE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_KEY_ID = re.compile(r"[0-9a-f]{32}")
_DUMMY_HASH = f"{HASH_SCHEME}:{'0' * 64}"
MICROS = 1_000_000

ApiKey = pw.Model  # a row of the credential store's table, read here

# The user's effective roles on a project now; empty when it holds none there, or
# when the user or the project (or either's domain) is disabled.
RolesOn = Callable[[str, str], tuple[RoleRecord, ...]]


def hash_secret(secret: str) -> str:
    """SHA-256, not argon2, on purpose.

    argon2 is slow to make guessing a *low-entropy* password expensive. A generated
    secret is 256 bits from `secrets.token_urlsafe(32)`: no guessing attack exists to
    slow down, so a slow hash would only make every api-key authentication cost
    ~15 ms of CPU for nothing. A plain SHA-256 of it is as strong against a stolen
    store, and is compared in constant time. (A secret the user chose is only as
    strong as the user made it: docs/appcreds.md.)
    """
    return f"{HASH_SCHEME}:{hashlib.sha256(secret.encode('utf-8', 'surrogatepass')).hexdigest()}"


def key_for(key_id: str, secret: str) -> str:
    """gRPC's form of a key: its id, a dot, its secret."""
    return f"{key_id}.{secret}"


def role_ids_of(key: ApiKey) -> list[str]:
    return json.loads(key.role_ids or "[]")


def expiry_seconds(key: ApiKey) -> float | None:
    """When the key expires, in unix seconds (its column keeps microseconds)."""
    return None if key.expires_at is None else key.expires_at / MICROS


class ApiKeys:
    """Owns API keys (only their secrets' hashes) and the users' access rules;
    promises a key never gives more than its user holds on its project."""

    def __init__(self, store: Store, writer: Writer, roles_on: RolesOn,
                 clock: Callable[[], float] = time.time, role_graph=None):
        self._store = store
        self._writer = writer
        self._roles_on = roles_on
        self._clock = clock
        self._role_graph = role_graph  # () -> assignments.RoleGraph, the roles by id

    # ---- keys ----------------------------------------------------------------

    def create(self, request: ApiKeyRequest, user_id: str) -> tuple[ApiKey, str]:
        """The new key and its secret, which is not kept anywhere."""
        project_id = request.project_id
        for field, value in (("user_id", user_id), ("project_id", project_id)):
            if not value:
                raise InvalidArgument(field, "is required")
            check_id(field, value)
        if request.name:
            check_name("name", request.name)
        check_text("description", request.description)
        secret = request.secret or secrets.token_urlsafe(32)
        if request.secret:
            _check_secret(request.secret)
        if request.expires_at_us is not None and request.expires_at_us <= self._clock() * MICROS:
            raise InvalidArgument("expires_at", "must be in the future")
        rules = tuple(_checked_rule(r) for r in request.access_rules)
        if not self._store.users.exists(user_id):
            raise NotFound(f"user {user_id} not found")
        if not self._store.resources.project_exists(project_id):
            raise NotFound(f"project {project_id} not found")
        held = [r.id for r in self._roles_on(user_id, project_id)]
        if not held:
            raise InvalidArgument("project_id", "the user holds no role on this project (or it, "
                                                "the user, or a domain of theirs is disabled)")
        wanted = self._resolve_roles(request.roles) or held
        missing = [r for r in wanted if r not in held]
        if missing:  # Keystone's RoleAssignmentNotFound
            raise NotFound("the user does not hold these roles on the project: "
                           + ", ".join(missing))
        key_id = new_id()
        now = int(self._clock())
        with self._writer.transaction() as tx:
            rule_ids = tuple(dict.fromkeys(self._rule_for(user_id, r, now).id for r in rules))
            row = self._store.credentials.create(
                key_id, user_id, project_id, hash_secret(secret), json.dumps(sorted(wanted)),
                now, name=request.name or key_id, expires_at=request.expires_at_us,
                description=request.description, unrestricted=request.unrestricted,
                access_rule_ids=rule_ids)
            tx.changed(Kind.API_KEY, key_id)
        return row, secret

    def _resolve_roles(self, roles: tuple[tuple[str, str], ...]) -> list[str]:
        return self._role_graph().role_ids_named(roles)

    def _rule_for(self, user_id: str, spec: AccessRuleSpec, now: int):
        credentials = self._store.credentials
        if spec.id:
            rule = credentials.find_rule(spec.id)
            if rule is None or rule.user_id != user_id:
                raise NotFound(f"Could not find access rule: {spec.id}.")
            return rule
        return credentials.find_or_create_rule(new_id(), user_id, spec.service, spec.path,
                                               spec.method, now)

    def get(self, key_id: str) -> ApiKey:
        if not key_id:
            raise InvalidArgument("id", "is required")
        check_id("id", key_id)
        row = self._store.credentials.find(key_id)
        if row is None:
            raise NotFound(f"Could not find Application Credential: {key_id}.")
        return row

    def entry(self, key: ApiKey) -> ApiKeyEntry:
        roles = self._role_graph().roles
        return ApiKeyEntry(
            id=key.id, name=key.name, description=key.description, user_id=key.user_id,
            project_id=key.project_id,
            roles=tuple(RoleEntry.of(roles[r]) for r in role_ids_of(key) if r in roles),
            expires_at_us=key.expires_at, unrestricted=key.unrestricted,
            access_rules=tuple(AccessRuleEntry.of(r)
                               for r in self._store.credentials.rules_of_key(key.id)),
            created_at=key.created_at)

    def list(self, user_id: str, name: str | None = None) -> list[ApiKey]:
        """The user's keys (the one named, if `name`), oldest first."""
        return self._store.credentials.list_for_user(user_id, name)

    def delete(self, key_id: str) -> None:
        """Tokens issued with the key are refused from now on."""
        self.get(key_id)
        with self._writer.transaction() as tx:
            if not self._store.credentials.delete(key_id):
                raise NotFound(f"Could not find Application Credential: {key_id}.")
            tx.changed(Kind.API_KEY, key_id)

    # ---- authenticating -------------------------------------------------------

    def find_for_auth(self, key: str) -> ApiKey | None:
        """The key `<id>.<secret>` names, or None. Checks neither expiry nor the user."""
        if not isinstance(key, str) or len(key) > MAX_SECRET_LENGTH:
            return None
        key_id, dot, secret = key.partition(".")
        row = None
        if dot and secret and _KEY_ID.fullmatch(key_id):
            row = self._store.credentials.find(key_id)
        return _matching(row, secret)

    def find_by_id_for_auth(self, key_id: str, secret: str) -> ApiKey | None:
        row = None
        if len(secret) <= MAX_SECRET_LENGTH and _KEY_ID.fullmatch(key_id):
            row = self._store.credentials.find(key_id)
        return _matching(row, secret)

    def find_by_name_for_auth(self, user_id: str | None, name: str, secret: str) -> ApiKey | None:
        row = None
        if user_id is not None and len(secret) <= MAX_SECRET_LENGTH and len(name) <= 255:
            row = self._store.credentials.find_by_name(user_id, name)
        return _matching(row, secret)

    # ---- access rules ---------------------------------------------------------

    def rules(self, user_id: str) -> list:
        check_id("user_id", user_id)
        return self._store.credentials.rules_of_user(user_id)

    def rule(self, rule_id: str):
        check_id("access_rule_id", rule_id)
        rule = self._store.credentials.find_rule(rule_id)
        if rule is None:
            raise NotFound(f"Could not find access rule: {rule_id}.")
        return rule

    def delete_rule(self, rule_id: str) -> None:
        """Only a rule no key holds any more (Keystone's 403 otherwise)."""
        self.rule(rule_id)
        with self._writer.transaction():
            if self._store.credentials.rule_in_use(rule_id):
                raise PermissionDenied(f"access rule {rule_id} is still used by an "
                                       "application credential; delete that first")
            if not self._store.credentials.delete_rule(rule_id):
                raise NotFound(f"Could not find access rule: {rule_id}.")


def _matching(row: ApiKey | None, secret: str) -> ApiKey | None:
    stored = row.secret_hash if row is not None else _DUMMY_HASH
    # Hash and compare even without a row, so timing does not tell the cases apart.
    matches = hmac.compare_digest(hash_secret(secret).encode(), stored.encode())
    return row if row is not None and matches and secret else None


def _check_secret(secret: str) -> None:
    if not secret.strip():
        raise InvalidArgument("secret", "must not be blank")
    if len(secret) > MAX_USER_SECRET_LENGTH:
        raise InvalidArgument("secret", f"must be at most {MAX_USER_SECRET_LENGTH} characters")
    check_text("secret", secret)


def _checked_rule(spec: AccessRuleSpec) -> AccessRuleSpec:
    if spec.id:
        check_id("access_rules.id", spec.id)
        return spec
    check_name("access_rules.service", spec.service, 64)
    check_text("access_rules.path", spec.path, 255)
    if not spec.path.startswith("/"):
        raise InvalidArgument("access_rules.path", f"{spec.path!r} must start with '/'")
    if spec.method not in ACCESS_RULE_METHODS:
        raise InvalidArgument("access_rules.method",
                              f"{spec.method!r} is not one of {', '.join(ACCESS_RULE_METHODS)}")
    return spec
