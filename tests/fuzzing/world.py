"""What the fuzzer knows about the server it attacks: callers' tokens, the ids of
real things (read from the server and from every answer it gives), and the few
things it must not destroy.

The demo users' tokens and the entities they rest on are *protected*: a call that
would change or delete one of them gets an unprotected id of the same kind instead,
and revocations get a disposable token, so that the run keeps its callers (admin,
domain admin, project member, service, plain user) to the end. Everything else,
including all the fuzzer creates, is fair game.
"""

import base64
import importlib
import json
import pkgutil
import re

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
import identity_api.admin.v1 as admin_v1
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.admin.v1 import oauth1_pb2 as opb
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

import support

from .values import pick, uniform

# Services whose methods the fuzzer calls: every service of both packages (the admin
# package's admin.proto and each family's own file, protos/identity_api/admin/v1/*.proto).
ADMIN_MODULES = (apb, *(importlib.import_module(f"{admin_v1.__name__}.{m.name}")
                        for m in pkgutil.iter_modules(admin_v1.__path__)
                        if m.name.endswith("_pb2") and m.name != "admin_pb2"))
PACKAGES = (pb, *ADMIN_MODULES)
ADMIN_KINDS = tuple(re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
                    for module in ADMIN_MODULES
                    for name in module.DESCRIPTOR.services_by_name)  # "users", "api_keys", ...
KIND_ALIASES = {"catalog_services": "services"}
PROTECTED_NAMES = {
    "users": {"admin", "alice", "bob", "nova"},
    "projects": {"admin", "service", "acme", "cyberdyne"},
    "domains": {"Default", "Foo"},
    "roles": {"admin", "manager", "member", "reader", "service", "compute-user"},
    "groups": {"devs"},
}
# Verbs of the calls that may take away what a protected caller rests on.
DESTRUCTIVE_VERBS = {"update", "delete", "remove", "revoke", "change", "grant"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def verb(name: str) -> str:
    """The first word of an RPC name (`UpdateUser`) or a handler name (`update_user`)."""
    return re.split(r"(?<!^)(?=[A-Z])|_", name)[0].lower()


def kind_of_message(descriptor) -> str | None:
    kind = snake(descriptor.name) + "s"
    kind = KIND_ALIASES.get(kind, kind)
    return kind if kind in ADMIN_KINDS else None


def kind_of_field(field: str, default: str | None) -> str | None:
    """The kind of entity a field (or path parameter) names: `id` the service's own,
    `default_project_id` a project, `parent_region_id` a region, `role_ids` roles."""
    stem = re.sub(r"_ids?$", "", field)
    if stem in ("id", "", "parent", "target", "actor"):
        return default if stem in ("id", "", "parent") else None
    for kind in ADMIN_KINDS:
        single = kind[:-1]
        if stem == single or stem.endswith("_" + single) or stem == kind:
            return kind
    return None


class World:
    def __init__(self):
        self.tokens: dict[str, str] = {}        # label -> token, in a fixed order
        self.protected_tokens: set[str] = set()
        self.disposable_tokens: list[str] = []  # subjects for revocations
        self.ids: dict[str, list[str]] = {k: [] for k in ADMIN_KINDS}
        self.names: dict[str, list[str]] = {k: [] for k in ADMIN_KINDS}
        self.protected_ids: set[str] = set()
        self.page_tokens: list[str] = []
        self.secrets: list[str] = []            # API key secrets
        self.passwords = sorted(set(support.DEMO_PASSWORDS.values()))
        self._seen: set[tuple[str, str]] = set()

    # ---- what the fuzzer draws from -------------------------------------------

    def draw_caller(self, data, extra: list[str]) -> str:
        """A caller's token label: the system admin's 40% of the time (most calls
        need an admin to get past policy), another real caller's 30%, else a bad
        token or one of `extra` (ways of sending none)."""
        good = [k for k, v in self.tokens.items() if v in self.protected_tokens]
        bad = [k for k in self.tokens if k not in good] + extra
        roll = uniform(data).random()
        return "admin-system" if roll < 0.4 else pick(data, good if roll < 0.7 else bad)

    def unprotected(self, kind: str) -> list[str]:
        return [i for i in self.ids.get(kind, ()) if i not in self.protected_ids]

    def all_ids(self) -> list[str]:
        return [i for kind in ADMIN_KINDS for i in self.ids[kind]]

    # ---- learning from answers ---------------------------------------------------

    def add(self, kind: str, ident: str, name: str = "") -> None:
        if not ident or (kind, ident) in self._seen or len(ident) > 255:
            return
        self._seen.add((kind, ident))
        self.ids[kind].append(ident)
        if name and len(name) <= 255:
            self.names[kind].append(name)
        if name in PROTECTED_NAMES.get(kind, ()):
            self.protected_ids.add(ident)

    def harvest_message(self, message) -> None:
        """Every entity id, page token and secret in an answer."""
        descriptor = message.DESCRIPTOR
        kind = kind_of_message(descriptor)
        fields = descriptor.fields_by_name
        if kind and "id" in fields:
            self.add(kind, message.id, getattr(message, "name", "") if "name" in fields else "")
        for field, value in message.ListFields():
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                if field.message_type.GetOptions().map_entry:
                    continue
                for item in (value if field.is_repeated else [value]):
                    self.harvest_message(item)
            elif field.name == "next_page_token" and value not in self.page_tokens:
                self.page_tokens.append(value)
            elif field.name in ("secret", "token") and isinstance(value, str):
                (self.secrets if field.name == "secret" else self.disposable_tokens).append(value)

    def harvest_json(self, body, key: str = "") -> None:
        """The same for a gateway answer: `{"user": {...}}`, `{"projects": [...]}`."""
        if isinstance(body, dict):
            kind = key if key.endswith("s") else key + "s"
            if kind in ADMIN_KINDS and isinstance(body.get("id"), str):
                self.add(kind, body["id"], body.get("name") if isinstance(body.get("name"), str) else "")
            for k, v in body.items():
                self.harvest_json(v, k)
        elif isinstance(body, list):
            for item in body:
                self.harvest_json(item, key)

    # ---- keeping the callers alive -------------------------------------------------

    def is_destructive(self, name: str) -> bool:
        return verb(name) in DESTRUCTIVE_VERBS

    def spare(self, value: str, kind: str | None) -> str:
        """`value`, or, if it is a protected id or token, something expendable in
        its place (an unprotected id of the same kind, a disposable token)."""
        if value in self.protected_tokens:
            return self.disposable_tokens[-1] if self.disposable_tokens else "garbage"
        if value not in self.protected_ids:
            return value
        choices = self.unprotected(kind) if kind else []
        return choices[len(value) % len(choices)] if choices else "fuzz-spared-" + value[:8]


def build_world(channel: grpc.Channel) -> World:
    """Log the demo users in, make a domain admin, a revoked token and an API key,
    and read every entity the admin can list."""
    world, stub = World(), pb_grpc.IdentityStub(channel)
    system = pb.Scope(system=pb.SystemScope(all=True))
    logins = {
        "admin-system": ("admin", system),
        "admin-project": ("admin", support.project_scope("admin")),
        "alice-acme": ("alice", support.project_scope("acme")),
        "alice-cyberdyne": ("alice", support.project_scope("cyberdyne")),
        "alice-unscoped": ("alice", None),
        "bob-acme": ("bob", support.project_scope("acme")),
        "nova-service": ("nova", support.project_scope("service")),
    }
    for label, (user, scope) in logins.items():
        world.tokens[label] = support.login(stub, user, scope).token
    admin = support.auth_md(world.tokens["admin-system"])
    _read_everything(world, channel, admin)
    _make_domain_admin(world, stub, channel, admin)
    world.protected_tokens = set(world.tokens.values())
    good = world.tokens["alice-unscoped"]
    revoked = support.login(stub, "alice").token
    stub.RevokeToken(pb.RevokeTokenRequest(subject_token=revoked), metadata=support.auth_md(revoked))
    world.disposable_tokens += [support.login(stub, "alice").token for _ in range(2)]
    keys = agrpc.ApiKeysStub(channel).CreateApiKey(apb.CreateApiKeyRequest(
        name="fuzz", project_id=_id_named(world, "projects", "acme")),
        metadata=support.auth_md(world.tokens["alice-acme"]))
    world.secrets.append(keys.secret)
    world.tokens.update({
        "revoked": revoked, "truncated": good[: len(good) // 2],
        "tampered": good[:20] + ("A" if good[20] != "A" else "B") + good[21:],
        "garbage": "this is not a token", "long": "A" * 8192, "api-key-secret": keys.secret,
        "page-token": base64.urlsafe_b64encode(json.dumps(["alice", "x"]).encode()).decode(),
        "empty": "",
    })
    return world


def _id_named(world: World, kind: str, name: str) -> str:
    return world.ids[kind][world.names[kind].index(name)] if name in world.names[kind] else ""


def _read_everything(world: World, channel: grpc.Channel, metadata) -> None:
    """Call every admin List method with an empty request and keep what it shows."""
    for service in (s for m in ADMIN_MODULES for s in m.DESCRIPTOR.services_by_name.values()):
        for method in service.methods:
            if not method.name.startswith("List") or method.server_streaming:
                continue
            call = channel.unary_unary(
                f"/{service.full_name}/{method.name}",
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=message_factory.GetMessageClass(method.output_type).FromString)
            try:
                world.harvest_message(call(message_factory.GetMessageClass(method.input_type)(),
                                           metadata=metadata, timeout=30))
            except grpc.RpcError:
                pass  # a list that needs a filter: its entities show up elsewhere


def _make_domain_admin(world: World, stub, channel: grpc.Channel, metadata) -> None:
    """bob gets `admin` on domain Foo, so a domain-scoped admin is among the callers."""
    foo, role = _id_named(world, "domains", "Foo"), _id_named(world, "roles", "admin")
    bob = _id_named(world, "users", "bob")
    agrpc.AssignmentsStub(channel).GrantRole(apb.GrantRequest(
        role_id=role, actor=apb.Actor(user_id=bob), target=apb.Target(domain_id=foo)),
        metadata=metadata)
    scope = pb.Scope(domain=pb.DomainSelector(id=foo))
    world.tokens["bob-domain-foo"] = support.login(stub, "bob", scope).token
