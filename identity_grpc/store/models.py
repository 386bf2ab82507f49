"""Peewee models: the one description of the store, shared by every backend.

`Tables(db)` defines the models bound to one database, so the same code runs on
SQLite, PostgreSQL and MariaDB (`store.db.open_database` decides which), and each
store has a set of its own. Ids are assigned by the service (uuid4 hex) except the
default domain's, `default`.
"""

import secrets
import time
import uuid

import peewee as pw

DEFAULT_DOMAIN_ID = "default"
SYSTEM_TARGET = "all"  # the target id of a system role assignment


def new_id() -> str:
    return uuid.uuid4().hex


def new_nonce() -> int:
    return secrets.randbits(62)


def now_seconds() -> int:
    return int(time.time())


class FeedIdField(pw.BigAutoField):
    """The id of an append-only feed row (revocation events, changes): never handed
    out twice, even after the newest rows were pruned.

    Followers remember the highest id they applied; an id used again would be
    skipped by every one of them. PostgreSQL sequences and InnoDB's AUTO_INCREMENT
    (persistent across restarts since MariaDB 10.2.4 and MySQL 8.0) never go back;
    SQLite reuses the highest rowid after a delete unless the column is declared
    AUTOINCREMENT, which this field adds there."""

    def ddl(self, ctx):
        node = super().ddl(ctx)
        if is_sqlite(self.model._meta.database):
            return pw.NodeList((node, pw.SQL("AUTOINCREMENT")))
        return node


def is_sqlite(db) -> bool:
    return isinstance(getattr(db, "obj", db), pw.SqliteDatabase)


class Tables:
    """The store's tables, as Peewee models bound to one database. Each `Core` (and
    each tool or test that opens a store) gets a set of its own, so two stores can be
    open in one process without meeting on a shared, global binding."""

    def __init__(self, db: pw.Database):
        self.db = db
        for model in _define(db):
            setattr(self, model.__name__, model)
        self.all = [getattr(self, name) for name in TABLE_NAMES]


# Creation order: every table after the tables it refers to.
TABLE_NAMES = ["Domain", "Project", "User", "Password", "Group", "GroupMembership", "Role",
               "ImpliedRole", "RoleAssignment", "Region", "Service", "Endpoint",
               "RevocationEvent", "Change", "ApiKey", "AccessRule", "ApiKeyAccessRule",
               "ProjectTag", "DomainConfigOption", "Policy", "RegisteredLimit", "Limit",
               "EndpointGroup", "ProjectEndpoint", "ProjectEndpointGroup", "CredentialBlob",
               "Trust", "OAuth1Consumer", "OAuth1RequestToken", "OAuth1AccessToken",
               "IdMapping"]


def _define(db: pw.Database) -> list:
    """A fresh set of model classes bound to `db`."""
    class BaseModel(pw.Model):
        class Meta:
            database = db
            legacy_table_names = False


    class Domain(BaseModel):
        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255, unique=True)
        description = pw.TextField(default="")
        enabled = pw.BooleanField(default=True)


    class Project(BaseModel):
        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255)
        domain = pw.ForeignKeyField(Domain, backref="projects", on_delete="RESTRICT")
        parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
        is_domain = pw.BooleanField(default=False)
        description = pw.TextField(default="")
        enabled = pw.BooleanField(default=True)

        class Meta:
            indexes = ((("domain", "name"), True),)


    class User(BaseModel):
        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255)
        domain = pw.ForeignKeyField(Domain, backref="users", on_delete="RESTRICT")
        email = pw.CharField(max_length=255, default="")
        description = pw.TextField(default="")
        enabled = pw.BooleanField(default=True)
        default_project = pw.ForeignKeyField(Project, null=True, on_delete="SET NULL")
        created_at = pw.BigIntegerField(default=now_seconds)
        extra = pw.TextField(default="{}")  # free attributes, a JSON object of strings
        # Lockout: failed password checks in the current run, and when that run began
        # (once the run locks the user: when the lock began). See PasswordRules.
        failed_auth_count = pw.IntegerField(default=0)
        failed_auth_at = pw.BigIntegerField(null=True)
        # Keystone's user options, a JSON object (ignore_lockout_failure_attempts...).
        options = pw.TextField(default="{}")

        class Meta:
            indexes = ((("domain", "name"), True),)


    class Password(BaseModel):
        """Password hashes, newest last; the history lets later policy forbid reuse."""

        user = pw.ForeignKeyField(User, backref="passwords", on_delete="CASCADE")
        hash = pw.CharField(max_length=255)
        created_at = pw.BigIntegerField(default=now_seconds)
        expires_at = pw.BigIntegerField(null=True)  # null: does not expire


    class Group(BaseModel):
        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255)
        domain = pw.ForeignKeyField(Domain, backref="groups", on_delete="RESTRICT")
        description = pw.TextField(default="")

        class Meta:
            indexes = ((("domain", "name"), True),)


    class GroupMembership(BaseModel):
        user = pw.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
        group = pw.ForeignKeyField(Group, backref="memberships", on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("user", "group")


    class Role(BaseModel):
        """A role; `domain` is null for a global role, set for a domain-specific one."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255)
        domain = pw.ForeignKeyField(Domain, null=True, on_delete="RESTRICT")
        description = pw.TextField(default="")
        # NULL domains do not collide in a unique index, so names are kept unique by
        # `domain_key` instead: the domain id, or "" for a global role.
        domain_key = pw.CharField(max_length=64, default="")

        class Meta:
            indexes = ((("domain_key", "name"), True),)


    class ImpliedRole(BaseModel):
        prior_role = pw.ForeignKeyField(Role, backref="implies", on_delete="CASCADE")
        implied_role = pw.ForeignKeyField(Role, on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("prior_role", "implied_role")


    class RoleAssignment(BaseModel):
        """A grant of a role to an actor (user or group) on a target (project, domain or
        the system). Actor and target are typed ids rather than foreign keys because each
        can point into one of two tables; the services that delete actors and targets
        remove their assignments."""

        actor_type = pw.CharField(max_length=8)  # "user" | "group"
        actor_id = pw.CharField(max_length=64)
        target_type = pw.CharField(max_length=8)  # "project" | "domain" | "system"
        target_id = pw.CharField(max_length=64)
        role = pw.ForeignKeyField(Role, on_delete="CASCADE")
        inherited = pw.BooleanField(default=False)

        class Meta:
            primary_key = pw.CompositeKey(
                "actor_type", "actor_id", "target_type", "target_id", "role", "inherited")
            # By target id first: an index led by the three-valued target_type let SQLite,
            # without statistics, read every project assignment to list one user's
            # projects (schema version 4).
            indexes = ((("target_id", "target_type"), False),)


    class Region(BaseModel):
        id = pw.CharField(max_length=255, primary_key=True)
        description = pw.TextField(default="")
        parent_region = pw.ForeignKeyField("self", null=True, on_delete="RESTRICT")


    class Service(BaseModel):
        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        type = pw.CharField(max_length=255, index=True)
        name = pw.CharField(max_length=255, default="")
        description = pw.TextField(default="")
        enabled = pw.BooleanField(default=True)


    class Endpoint(BaseModel):
        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        service = pw.ForeignKeyField(Service, backref="endpoints", on_delete="CASCADE")
        interface = pw.CharField(max_length=8)  # "public" | "internal" | "admin"
        region = pw.ForeignKeyField(Region, null=True, on_delete="RESTRICT")
        url = pw.TextField()
        enabled = pw.BooleanField(default=True)


    class RevocationEvent(BaseModel):
        """Tokens matching this event are refused. An event matches by the token's own
        audit id, or by user / project / domain for tokens issued at or before
        `issued_before` (unix milliseconds, since schema version 6). `expires_at` (unix
        seconds) is when no token it could match can still be valid, after which the
        event is pruned."""

        id = FeedIdField()
        audit_id = pw.CharField(max_length=32, null=True)
        # For an audit-id event, whose token it was: a later cutoff for that user covers
        # it, so it can be folded away (the event itself matches by audit id only).
        token_user_id = pw.CharField(max_length=64, null=True)
        user_id = pw.CharField(max_length=64, null=True)
        project_id = pw.CharField(max_length=64, null=True)
        domain_id = pw.CharField(max_length=64, null=True)
        issued_before = pw.BigIntegerField()
        expires_at = pw.BigIntegerField(index=True)
        # A chain cutoff: every token of the rescope chain whose first token had this
        # audit id (since schema version 7).
        audit_chain_id = pw.CharField(max_length=32, null=True)


    class ApiKey(BaseModel):
        """A user's key for one of its projects: Keystone's application credential
        under our older name (docs/appcreds.md). Only a hash of the secret is kept."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255, default="")  # unique per user (since version 7)
        user = pw.ForeignKeyField(User, backref="api_keys", on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, on_delete="CASCADE")
        secret_hash = pw.CharField(max_length=255)
        role_ids = pw.TextField(default="[]")  # JSON list; empty (keys before 7): all held
        # Unix microseconds (seconds before version 7), as Keystone keeps it; null: never.
        expires_at = pw.BigIntegerField(null=True)
        created_at = pw.BigIntegerField(default=now_seconds)
        description = pw.TextField(default="")  # since version 7, as the two below
        unrestricted = pw.BooleanField(default=False)  # may make and delete credentials

        class Meta:
            indexes = ((("user", "name"), True),)


    class AccessRule(BaseModel):
        """One user's rule of what a credential's token may call at a service
        (Keystone's access rules): shared by the user's credentials that name it."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        user = pw.ForeignKeyField(User, backref="access_rules", on_delete="CASCADE")
        service = pw.CharField(max_length=64)
        path = pw.CharField(max_length=255)
        method = pw.CharField(max_length=16)
        created_at = pw.BigIntegerField(default=now_seconds)

        class Meta:
            indexes = ((("user", "service", "path", "method"), True),)


    class ApiKeyAccessRule(BaseModel):
        """Which access rules a credential holds. (A rule in use is not deleted: its
        manager refuses; the cascade is for the user's deletion, which takes both.)"""

        api_key = pw.ForeignKeyField(ApiKey, on_delete="CASCADE")
        access_rule = pw.ForeignKeyField(AccessRule, backref="holders", on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("api_key", "access_rule")


    class Trust(BaseModel):
        """A trustor's delegation of some of its roles on a project to a trustee
        (Keystone's OS-TRUST). It goes with either user and with the project; a trust
        redelegated from another goes with that one."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        trustor = pw.ForeignKeyField(User, backref="trusts_given", on_delete="CASCADE")
        trustee = pw.ForeignKeyField(User, backref="trusts_held", on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, null=True, on_delete="CASCADE")
        impersonation = pw.BooleanField(default=False)
        role_ids = pw.TextField(default="[]")  # JSON list of the delegated roles' ids
        expires_at = pw.BigIntegerField(null=True)  # unix seconds; null: never
        remaining_uses = pw.IntegerField(null=True)  # tokens it may still issue; null: any
        redelegation_count = pw.IntegerField(default=0)  # further delegations allowed
        redelegated_trust = pw.ForeignKeyField("self", null=True, backref="redelegations",
                                               on_delete="CASCADE")
        created_at = pw.BigIntegerField(default=now_seconds)

    class OAuth1Consumer(BaseModel):
        """An OAuth1 consumer. Its secret is kept as given out: HMAC-SHA1 signatures are
        checked with it (RFC 5849 3.4.2), so a hash would not do."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        secret = pw.CharField(max_length=64)
        description = pw.TextField(default="")
        extra = pw.TextField(default="{}")  # Keystone's free attributes, a JSON object
        created_at = pw.BigIntegerField(default=now_seconds)


    class OAuth1RequestToken(BaseModel):
        """A consumer's request for a user's roles on a project: authorized once (the
        user, its roles, a verifier), then exchanged once for an access token."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        secret = pw.CharField(max_length=64)
        consumer = pw.ForeignKeyField(OAuth1Consumer, on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, on_delete="CASCADE")
        authorizing_user = pw.ForeignKeyField(User, null=True, on_delete="CASCADE")
        role_ids = pw.TextField(null=True)  # JSON list, set when authorized
        verifier = pw.CharField(max_length=64, null=True)
        expires_at = pw.BigIntegerField(null=True)  # null: does not expire
        created_at = pw.BigIntegerField(default=now_seconds)


    class OAuth1AccessToken(BaseModel):
        """What a consumer holds to get tokens of the authorizing user on the project,
        with the delegated roles only."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        secret = pw.CharField(max_length=64)
        consumer = pw.ForeignKeyField(OAuth1Consumer, on_delete="CASCADE")
        authorizing_user = pw.ForeignKeyField(User, backref="oauth1_access_tokens",
                                              on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, on_delete="CASCADE")
        role_ids = pw.TextField(default="[]")  # JSON list
        expires_at = pw.BigIntegerField(null=True)  # null: does not expire
        created_at = pw.BigIntegerField(default=now_seconds)
    class EndpointGroup(BaseModel):
        """Keystone's OS-EP-FILTER endpoint group: the endpoints matching `filters` (a
        JSON object of service_id / region_id / interface), given to projects at once."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        name = pw.CharField(max_length=255)
        description = pw.TextField(default="")
        filters = pw.TextField(default="{}")


    class ProjectEndpoint(BaseModel):
        """An endpoint given to a project directly (OS-EP-FILTER): a project with any
        such row, or any endpoint group, sees only those endpoints in its catalog."""

        project = pw.ForeignKeyField(Project, on_delete="CASCADE")
        endpoint = pw.ForeignKeyField(Endpoint, on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("project", "endpoint")


    class ProjectEndpointGroup(BaseModel):
        endpoint_group = pw.ForeignKeyField(EndpointGroup, on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, on_delete="CASCADE")

        class Meta:
            primary_key = pw.CompositeKey("endpoint_group", "project")


    class Change(BaseModel):
        """A feed of what changed, read by every server sharing the store so that their
        caches drop exactly the entries a change touched (and nothing more)."""

        id = FeedIdField()
        entity = pw.CharField(max_length=16)  # "user" | "group" | "project" | "domain" | "role" | "catalog"
        entity_id = pw.CharField(max_length=64)
        created_at = pw.BigIntegerField(default=now_seconds, index=True)
        # Random: tells this row from an earlier one that had the same id and the same
        # change (ids handed out again), which a follower must not take for one it applied.
        nonce = pw.BigIntegerField(null=True, default=new_nonce)

    class CredentialBlob(BaseModel):
        """Keystone's credential (`/v3/credentials`, and EC2 credentials of type
        `ec2`): the blob is kept only encrypted (`credential_keys`), with the hash of
        the key that encrypted it."""

        id = pw.CharField(max_length=64, primary_key=True)
        user = pw.ForeignKeyField(User, backref="credential_blobs", on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, null=True, on_delete="CASCADE")
        type = pw.CharField(max_length=255, index=True)
        encrypted_blob = pw.TextField()
        key_hash = pw.CharField(max_length=64, index=True)
        extra = pw.TextField(default="{}")  # Keystone's free attributes, a JSON object
        created_at = pw.BigIntegerField(default=now_seconds)

    class SchemaVersion(BaseModel):
        version = pw.IntegerField()

    class ProjectTag(BaseModel):
        """One of a project's tags (Keystone's: 1-255 characters, no ',' nor '/')."""

        project = pw.ForeignKeyField(Project, backref="tags", on_delete="CASCADE")
        name = pw.CharField(max_length=255)

        class Meta:
            primary_key = pw.CompositeKey("project", "name")

    class DomainConfigOption(BaseModel):
        """One option of a domain's configuration (`[group] option = value`); the value
        is JSON. Sensitive options (an LDAP password) are never shown by the API."""

        domain = pw.ForeignKeyField(Domain, on_delete="CASCADE")
        group_name = pw.CharField(max_length=255)
        option_name = pw.CharField(max_length=255)
        value = pw.TextField()
        sensitive = pw.BooleanField(default=False)

        class Meta:
            primary_key = pw.CompositeKey("domain", "group_name", "option_name")

    class IdMapping(BaseModel):
        """The public id of a user or group read from a domain's directory (LDAP), for
        the way back to the entry: which domain, and the entry's own id there. The id
        is a hash of the three (`identity_grpc/id_mapping.py`), so every replica gives
        an entry the same id without asking another; the row is for reading it back."""

        public_id = pw.CharField(max_length=64, primary_key=True)
        domain = pw.ForeignKeyField(Domain, on_delete="CASCADE")
        local_id = pw.CharField(max_length=255)
        entity_type = pw.CharField(max_length=8)  # "user" | "group"

        class Meta:
            indexes = ((("domain", "local_id", "entity_type"), True),)

    class Policy(BaseModel):
        """Keystone's policy API: an opaque blob of a given type, stored for others."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        type = pw.CharField(max_length=255)
        blob = pw.TextField()
        extra = pw.TextField(default="{}")  # other attributes given, a JSON object

    class RegisteredLimit(BaseModel):
        """A default limit of a resource of a service (in a region, or everywhere:
        `region_key` is "" then, as NULLs do not collide in a unique index)."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        # Deleting a service or a region deletes its limits, registered and not.
        service = pw.ForeignKeyField(Service, on_delete="CASCADE")
        region = pw.ForeignKeyField(Region, null=True, on_delete="CASCADE")
        region_key = pw.CharField(max_length=255, default="")
        resource_name = pw.CharField(max_length=255)
        default_limit = pw.IntegerField()
        description = pw.TextField(null=True)

        class Meta:
            indexes = ((("service", "region_key", "resource_name"), True),)

    class Limit(BaseModel):
        """A project's or a domain's own limit of a registered resource."""

        id = pw.CharField(max_length=64, primary_key=True, default=new_id)
        # The manager refuses deleting a registered limit that limits refer to; a
        # service or region deleted takes both.
        registered_limit = pw.ForeignKeyField(RegisteredLimit, on_delete="CASCADE")
        project = pw.ForeignKeyField(Project, null=True, on_delete="CASCADE")
        domain = pw.ForeignKeyField(Domain, null=True, on_delete="CASCADE")
        owner_key = pw.CharField(max_length=64)  # the project's or the domain's id
        resource_limit = pw.IntegerField()
        description = pw.TextField(null=True)

        class Meta:
            indexes = ((("registered_limit", "owner_key"), True),)

    return [SchemaVersion, Domain, Project, User, Password, Group, GroupMembership, Role,
            ImpliedRole, RoleAssignment, Region, Service, Endpoint, RevocationEvent, Change, ApiKey,
            AccessRule, ApiKeyAccessRule, ProjectTag, DomainConfigOption, Policy, RegisteredLimit, Limit,
            EndpointGroup, ProjectEndpoint, ProjectEndpointGroup, CredentialBlob,
            Trust, OAuth1Consumer, OAuth1RequestToken, OAuth1AccessToken, IdMapping]


